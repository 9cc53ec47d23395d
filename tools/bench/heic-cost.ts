/**
 * `npm run bench:heic`: what a HEIC costs a decode thread. A 12 MP photo (4032×3024, an iPhone's
 * default) is made from a real photo and encoded with libheif's `heif-enc` (Debian
 * `libheif-examples`), then decoded by libheif-js: container parse, HEVC decode to RGBA, and the
 * whole `decodeImage` (crop and detector views). The same photo as a JPEG is the comparison. Also
 * reported: the thread's RSS after the decodes (the WASM heap grows to the largest image and stays).
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import sharp from 'sharp';
import { DEFAULT_PREPROCESS_OPTIONS } from '../../src/preprocess';
import { decodeImage } from '../../src/preprocess/decode-image-views';
import { decodeHeic, heicSize } from '../../src/preprocess/heic-decoder';

const { values } = parseArgs({ options: { runs: { type: 'string', default: '8' }, quality: { type: 'string', default: '50' } } });
const runs = Number(values.runs);
const MIB = 1024 * 1024;

function source(): string {
  for (const p of ['../shared/images', 'samples']) {
    if (!existsSync(p)) continue;
    const files = execFileSync('ls', [p]).toString().split('\n').filter((f) => /\.jpe?g$/i.test(f));
    const pick = files.find((f) => /1440|1080|rocket/.test(f)) ?? files[0];
    if (pick) return join(p, pick);
  }
  throw new Error('no source photo found in ../shared/images or samples/');
}

async function time<T>(label: string, fn: () => Promise<T>): Promise<{ label: string; p50Ms: number; minMs: number }> {
  await fn();
  const ms: number[] = [];
  for (let i = 0; i < runs; i++) {
    const t = performance.now();
    await fn();
    ms.push(performance.now() - t);
  }
  ms.sort((a, b) => a - b);
  return { label, p50Ms: ms[Math.floor(ms.length / 2)]!, minMs: ms[0]! };
}

async function main(): Promise<void> {
  try {
    execFileSync('heif-enc', ['--version'], { stdio: 'ignore' });
  } catch {
    throw new Error('heif-enc not found: install Debian\'s libheif-examples to make the 12 MP HEIC');
  }
  const dir = mkdtempSync(join(tmpdir(), 'revmod-heic-'));
  try {
    const src = source();
    // An upscaled photo is smoother than a camera's: sensor-like noise brings the HEIC to a phone's
    // bitrate (2–3 MB for 12 MP), which is what the HEVC decoder's time depends on.
    const noise = await sharp({ create: { width: 4032, height: 3024, channels: 3, background: '#808080', noise: { type: 'gaussian', mean: 128, sigma: 40 } } }).png().toBuffer();
    const jpeg = await sharp(src).resize(4032, 3024, { fit: 'cover' }).composite([{ input: noise, blend: 'soft-light' }]).jpeg({ quality: 92 }).toBuffer();
    writeFileSync(join(dir, 'photo.jpg'), jpeg);
    execFileSync('heif-enc', ['-q', values.quality!, join(dir, 'photo.jpg'), '-o', join(dir, 'photo.heic')], { stdio: 'ignore' });
    const heic = readFileSync(join(dir, 'photo.heic'));
    const rssBefore = process.memoryUsage().rss;
    const options = { ...DEFAULT_PREPROCESS_OPTIONS, maxPixels: 40_000_000 };
    const views = { greyMaxSide: 512, rgbMaxSide: 1024 };
    const rows = [
      await time('HEIC container parse (heicSize)', () => heicSize(heic)),
      await time('HEIC decode to RGBA (decodeHeic)', () => decodeHeic(heic, options.maxPixels)),
      await time('HEIC decodeImage: crop only', () => decodeImage(heic, options)),
      await time('HEIC decodeImage: crop + grey 512 + RGB 1024 views', () => decodeImage(heic, options, views)),
      await time("HEIC decodeImage: crop only, 'fast' mode (sharp resizes)", () => decodeImage(heic, { ...options, mode: 'fast' })),
      await time('JPEG decodeImage: crop only (same photo, q92)', () => decodeImage(jpeg, options)),
      await time('JPEG decodeImage: crop + grey 512 + RGB 1024 views', () => decodeImage(jpeg, options, views)),
    ];
    const rssAfter = process.memoryUsage().rss;
    console.log(`source: ${src} → 4032×3024; HEIC ${(heic.length / MIB).toFixed(2)} MiB (heif-enc -q ${values.quality}), JPEG ${(jpeg.length / MIB).toFixed(2)} MiB; ${runs} runs after one warm-up`);
    console.log('| step | p50 ms | min ms |\n|---|---:|---:|');
    for (const r of rows) console.log(`| ${r.label} | ${r.p50Ms.toFixed(1)} | ${r.minMs.toFixed(1)} |`);
    console.log(`RSS: ${(rssBefore / MIB).toFixed(0)} MiB before the HEIC decodes, ${(rssAfter / MIB).toFixed(0)} MiB after (the WASM heap keeps its high-water mark)`);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

main().catch((err: unknown) => {
  console.error(err instanceof Error ? err.message : err);
  process.exit(1);
});
