/**
 * PDQ against the reference: distances to Meta's reference hashes, and the cost of hashing.
 *
 *   npx tsx tools/bench/pdq-reference.ts [--reference-cmd PATH [--with-photos]] [--runs N]
 *
 * 1. For each reference image (../shared/pdq-reference, else test/fixtures/pdq), the Hamming distance
 *    from our hash to the reference's, for three views: the full decode, `decodeForPdq` (≤ 512 px, as
 *    the reference implementations hash) and `decodeForPdq` with the 'symmetric' view (576 × 576).
 * 2. With --reference-cmd, a program built from the reference C++ that reads raw pixel files
 *    (12-byte header: width, height, channels as little-endian uint32; then the pixels) named on its
 *    command line and prints `file quality hash×8` per file (the eight dihedral hashes in the
 *    reference's order): the share of images whose nine values equal ours given the same pixels;
 *    with --with-photos, the photos of samples/ and ../shared/images too, at full size.
 * 3. Milliseconds to hash (pixels → hash, no decode) a 1 MP and a 12 MP view, full size and after
 *    `decodeForPdq`, with the decode times beside them.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import sharp from 'sharp';
import { median, percentile } from './measure';
import { DIHEDRAL_NAMES, hammingDistance, pdqDihedralHashes, pdqHash, pdqHashFromHex, pdqHashToHex, type PixelView } from '../../src/known/pdq';
import { decodeForPdq } from '../../src/known/pdq-decode';
import { benchPhotos, machineLine, referenceVectors } from './pdq-common';

function arg(name: string): string | undefined {
  const i = process.argv.indexOf(name);
  return i >= 0 ? process.argv[i + 1] : undefined;
}

async function fullView(bytes: Buffer): Promise<PixelView> {
  const { data, info } = await sharp(bytes).raw().toBuffer({ resolveWithObject: true });
  return { data, width: info.width, height: info.height, channels: info.channels };
}

function summary(ds: readonly number[]): string {
  return `max ${Math.max(...ds)}, median ${median(ds)}, mean ${(ds.reduce((a, b) => a + b, 0) / ds.length).toFixed(2)}`;
}

async function referenceDistances(): Promise<Map<string, PixelView>> {
  const { dir, hashes } = referenceVectors();
  const views = new Map<string, PixelView>();
  const rows: string[] = [];
  const full: number[] = [];
  const small: number[] = [];
  const square: number[] = [];
  for (const [name, hex] of Object.entries(hashes)) {
    const bytes = readFileSync(join(dir, name));
    const expected = pdqHashFromHex(hex);
    const fv = await fullView(bytes);
    views.set(name, fv);
    const f = pdqHash(fv);
    const s = pdqHash(await decodeForPdq(bytes));
    const q = pdqHash(await decodeForPdq(bytes, { view: 'symmetric' }));
    const df = hammingDistance(f.hash, expected);
    const ds = hammingDistance(s.hash, expected);
    const dq = hammingDistance(q.hash, expected);
    full.push(df);
    small.push(ds);
    square.push(dq);
    rows.push(`| ${name} | ${fv.width}×${fv.height} | ${s.quality} | ${df} | ${ds} | ${dq} |`);
  }
  console.log(`\n## Distance to the reference hashes (${dir}, ${rows.length} images)\n`);
  console.log('| image | size | quality | full decode | decodeForPdq (reference view, ≤ 512 px) | decodeForPdq (symmetric view, 576²) |');
  console.log('| --- | --- | ---: | ---: | ---: | ---: |');
  for (const r of rows) console.log(r);
  console.log(`\nfull decode: ${summary(full)}; reference view: ${summary(small)}; symmetric view: ${summary(square)}`);
  return views;
}

function compareWithReferenceProgram(cmd: string, views: Map<string, PixelView>): void {
  const dir = mkdtempSync(join(tmpdir(), 'pdq-ref-'));
  try {
    const files: string[] = [];
    const ours = new Map<string, string>();
    let i = 0;
    for (const [name, v] of views) {
      const file = join(dir, `${i++}.bin`);
      const header = Buffer.alloc(12);
      header.writeUInt32LE(v.width, 0);
      header.writeUInt32LE(v.height, 4);
      header.writeUInt32LE(v.channels, 8);
      writeFileSync(file, Buffer.concat([header, v.data.subarray(0, v.width * v.height * v.channels)]));
      files.push(file);
      const r = pdqDihedralHashes(v);
      ours.set(file, [String(r.quality), ...DIHEDRAL_NAMES.map((n) => pdqHashToHex(r.hashes[n]))].join(' '));
      ours.set(`${file}#name`, name);
    }
    const out = execFileSync(cmd, files, { encoding: 'utf8', maxBuffer: 64 * 2 ** 20 });
    let same = 0;
    const diffs: string[] = [];
    for (const line of out.trim().split('\n')) {
      const [file, ...rest] = line.trim().split(/\s+/);
      const mine = ours.get(file!)!.split(' ');
      if (rest.join(' ') === mine.join(' ')) {
        same++;
        continue;
      }
      const bits = rest.slice(1).map((h, k) => hammingDistance(pdqHashFromHex(h), pdqHashFromHex(mine[k + 1]!)));
      diffs.push(`${ours.get(`${file!}#name`)}: quality ${rest[0]} vs ${mine[0]}, bits apart per dihedral hash ${bits.join(',')}`);
    }
    console.log(`\n## Same pixels through the reference C++ (${cmd})\n`);
    console.log(`${same}/${views.size} images: quality and all eight hashes identical`);
    for (const d of diffs) console.log(`- ${d}`);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

function timeMs(runs: number, fn: () => void): { min: number; median: number; p90: number } {
  const ts: number[] = [];
  for (let i = 0; i < runs; i++) {
    const t0 = performance.now();
    fn();
    ts.push(performance.now() - t0);
  }
  return { min: Math.min(...ts), median: median(ts), p90: percentile(ts, 90) };
}

async function timeAsyncMs(runs: number, fn: () => Promise<unknown>): Promise<{ min: number; median: number }> {
  const ts: number[] = [];
  for (let i = 0; i < runs; i++) {
    const t0 = performance.now();
    await fn();
    ts.push(performance.now() - t0);
  }
  return { min: Math.min(...ts), median: median(ts) };
}

async function hashingCost(runs: number): Promise<void> {
  const photos = benchPhotos();
  const big = photos.find((p) => /4032x3024/.test(p.name) && !/exif/.test(p.name)) ?? photos[0];
  if (big === undefined) {
    console.log('\n(no photos for the timing)');
    return;
  }
  // A 1 MP JPEG made from the same photo, so that both sizes show the same content.
  const oneMp = await sharp(big.bytes).resize(1155, 866).jpeg({ quality: 90 }).toBuffer();
  console.log(`\n## Cost of hashing (${runs} runs each; min / median / p90 ms; one thread)\n`);
  console.log('| input | view hashed | decode (sharp) | pdqHash | pdqDihedralHashes |');
  console.log('| --- | --- | ---: | ---: | ---: |');
  for (const [label, bytes] of [['1 MP JPEG (1155×866)', oneMp], [`12 MP JPEG (${big.name})`, big.bytes]] as const) {
    for (const mode of ['full', 'decodeForPdq'] as const) {
      const decode = mode === 'full' ? () => fullView(bytes) : () => decodeForPdq(bytes);
      const view = await decode();
      for (let i = 0; i < 3; i++) pdqDihedralHashes(view); // warm the JIT
      const d = await timeAsyncMs(Math.max(3, Math.floor(runs / 2)), decode);
      const h = timeMs(runs, () => pdqHash(view));
      const dh = timeMs(runs, () => pdqDihedralHashes(view));
      const fmt = (t: { min: number; median: number; p90?: number }): string =>
        `${t.min.toFixed(1)} / ${t.median.toFixed(1)}${t.p90 === undefined ? '' : ` / ${t.p90.toFixed(1)}`}`;
      console.log(`| ${label} | ${mode === 'full' ? 'full' : 'decodeForPdq'} ${view.width}×${view.height} | ${fmt(d)} | ${fmt(h)} | ${fmt(dh)} |`);
    }
  }
}

async function main(): Promise<void> {
  console.log(`# PDQ reference check\n\n${machineLine()}\ncommand: npx tsx tools/bench/pdq-reference.ts ${process.argv.slice(2).join(' ')}`);
  sharp.concurrency(1);
  const views = await referenceDistances();
  const cmd = arg('--reference-cmd');
  if (cmd !== undefined) {
    if (process.argv.includes('--with-photos')) for (const p of benchPhotos()) views.set(p.name, await fullView(p.bytes));
    compareWithReferenceProgram(cmd, views);
  }
  await hashingCost(Number(arg('--runs') ?? 15));
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
