/**
 * How well PDQ matches transformed copies of real photos, and how rarely it matches unrelated ones.
 *
 *   npx tsx tools/bench/pdq-robustness.ts [--view reference|symmetric]
 *
 * For every photo of samples/ and ../shared/images (when present), each transform below is applied
 * with sharp and the result encoded as an upload would be; the copy is then decoded and hashed the
 * way the worker will (`decodeForPdq` with the chosen view, `pdqHash`). Printed per transform: the share of copies within
 * distance 31 of the original's hash, and within 31 of any of the original's eight dihedral hashes
 * (what a lookup with the dihedral hashes finds), with the median and largest distance.
 * Unrelated pairs: every original and copy against every original of another scene (file names
 * start with the scene), plain and with the eight dihedral hashes.
 */
import sharp from 'sharp';
import { median, percentile } from './measure';
import { DIHEDRAL_NAMES, hammingDistance, minHammingDistance, pdqDihedralHashes, pdqHash, PDQ_MATCH_DISTANCE, PDQ_MIN_QUALITY, type PdqHash } from '../../src/known/pdq';
import { decodeForPdq, type PdqDecodeOptions } from '../../src/known/pdq-decode';
import { benchPhotos, machineLine, sceneOf, type PhotoFile } from './pdq-common';

interface Transform {
  readonly name: string;
  /** Rotations and mirrors: the row to read with the dihedral hashes. */
  readonly dihedral: boolean;
  readonly apply: (bytes: Buffer, width: number, height: number) => Promise<Buffer>;
}

const jpeg = (s: sharp.Sharp, quality = 90): Promise<Buffer> => s.jpeg({ quality }).toBuffer();

/** A caption band across the lower part of the picture, as sellers and spammers add. */
function captionSvg(width: number, height: number): Buffer {
  const size = Math.round(height * 0.08);
  const y = Math.round(height * 0.86);
  return Buffer.from(
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}">` +
      `<rect x="0" y="${y - size}" width="${width}" height="${Math.round(size * 1.4)}" fill="black" fill-opacity="0.35"/>` +
      `<text x="50%" y="${y}" font-family="DejaVu Sans" font-weight="bold" font-size="${size}" fill="white" stroke="black" ` +
      `stroke-width="${Math.max(1, Math.round(size / 20))}" text-anchor="middle">SALE -50% · shop.example.com</text></svg>`,
  );
}

const TRANSFORMS: readonly Transform[] = [
  ...[95, 85, 75, 50].map((q): Transform => ({ name: `JPEG q${q}`, dihedral: false, apply: (b) => jpeg(sharp(b), q) })),
  { name: 'WebP q80', dihedral: false, apply: (b) => sharp(b).webp({ quality: 80 }).toBuffer() },
  { name: 'resize 50 %', dihedral: false, apply: (b, w, h) => jpeg(sharp(b).resize(Math.round(w / 2), Math.round(h / 2))) },
  { name: 'resize 25 %', dihedral: false, apply: (b, w, h) => jpeg(sharp(b).resize(Math.round(w / 4), Math.round(h / 4))) },
  { name: 'mirror (left–right)', dihedral: true, apply: (b) => jpeg(sharp(b).flop()) },
  { name: 'rotate 90°', dihedral: true, apply: (b) => jpeg(sharp(b).rotate(90)) },
  { name: 'rotate 180°', dihedral: true, apply: (b) => jpeg(sharp(b).rotate(180)) },
  { name: 'rotate 270°', dihedral: true, apply: (b) => jpeg(sharp(b).rotate(270)) },
  {
    name: 'crop 5 % (2.5 % off each side)',
    dihedral: false,
    apply: (b, w, h) => jpeg(sharp(b).extract({ left: Math.round(w * 0.025), top: Math.round(h * 0.025), width: Math.round(w * 0.95), height: Math.round(h * 0.95) })),
  },
  {
    name: 'crop 5 % (off the left and top)',
    dihedral: false,
    apply: (b, w, h) => jpeg(sharp(b).extract({ left: Math.round(w * 0.05), top: Math.round(h * 0.05), width: w - Math.round(w * 0.05), height: h - Math.round(h * 0.05) })),
  },
  {
    name: 'border 10 % (5 % white each side)',
    dihedral: false,
    apply: (b, w, h) => {
      const x = Math.round(w * 0.05);
      const y = Math.round(h * 0.05);
      return jpeg(sharp(b).extend({ left: x, right: x, top: y, bottom: y, background: '#ffffff' }));
    },
  },
  {
    name: 'added text (caption band)',
    dihedral: false,
    apply: (b, w, h) => jpeg(sharp(b).composite([{ input: captionSvg(w, h) }])),
  },
];

interface Original {
  readonly photo: PhotoFile;
  readonly quality: number;
  readonly hash: PdqHash;
  readonly dihedral: readonly PdqHash[];
}

interface Copy {
  readonly from: Original;
  readonly transform: Transform;
  readonly hash: PdqHash;
  readonly quality: number;
}

const VIEW: PdqDecodeOptions['view'] = process.argv.includes('--view') && process.argv[process.argv.indexOf('--view') + 1] === 'symmetric' ? 'symmetric' : 'reference';

async function hashOriginal(photo: PhotoFile): Promise<Original> {
  const r = pdqDihedralHashes(await decodeForPdq(photo.bytes, { view: VIEW }));
  return { photo, quality: r.quality, hash: r.hashes.original, dihedral: DIHEDRAL_NAMES.map((n) => r.hashes[n]) };
}

function rate(ds: readonly number[]): string {
  const hits = ds.filter((d) => d <= PDQ_MATCH_DISTANCE).length;
  return `${((100 * hits) / ds.length).toFixed(1)} % (${hits}/${ds.length})`;
}

async function main(): Promise<void> {
  sharp.concurrency(1);
  const photos = benchPhotos();
  console.log(`# PDQ robustness, ${VIEW} view\n\n${machineLine()}\ncommand: npx tsx tools/bench/pdq-robustness.ts --view ${VIEW}\n`);
  const viewLabel = VIEW === 'symmetric' ? '576 × 576' : '≤ 512 px, aspect kept';
  console.log(`${photos.length} photos (samples/ and ../shared/images), hashed from decodeForPdq's ${VIEW} view (${viewLabel}); a match is distance ≤ ${PDQ_MATCH_DISTANCE}.\n`);
  const originals: Original[] = [];
  const copies: Copy[] = [];
  for (const photo of photos) {
    const o = await hashOriginal(photo);
    originals.push(o);
    // Transforms start from the stored pixels (no EXIF rotation), as the reference hashes them.
    const { data, info } = await sharp(photo.bytes).removeAlpha().raw().toBuffer({ resolveWithObject: true });
    const png = await sharp(data, { raw: { width: info.width, height: info.height, channels: info.channels } }).png({ compressionLevel: 1 }).toBuffer();
    for (const t of TRANSFORMS) {
      const bytes = await t.apply(png, info.width, info.height);
      const r = pdqHash(await decodeForPdq(bytes, { view: VIEW }));
      copies.push({ from: o, transform: t, hash: r.hash, quality: r.quality });
    }
  }
  const lowQuality = originals.filter((o) => o.quality < PDQ_MIN_QUALITY).map((o) => `${o.photo.name} (${o.quality})`);
  console.log(`Quality of the originals: median ${median(originals.map((o) => o.quality))}, below ${PDQ_MIN_QUALITY}: ${lowQuality.length === 0 ? 'none' : lowQuality.join(', ')}.\n`);

  console.log('| transform | match rate, plain hash | match rate, with dihedral hashes | median distance (dihedral) | max distance (dihedral) |');
  console.log('| --- | ---: | ---: | ---: | ---: |');
  for (const t of TRANSFORMS) {
    const mine = copies.filter((c) => c.transform === t);
    const plain = mine.map((c) => hammingDistance(c.hash, c.from.hash));
    const dih = mine.map((c) => minHammingDistance(c.hash, c.from.dihedral));
    const shown = t.dihedral ? dih : plain;
    console.log(`| ${t.name} | ${rate(plain)} | ${rate(dih)} | ${median(shown)} | ${Math.max(...shown)} |`);
  }

  // Unrelated: originals and copies against the originals of other scenes.
  const plainFalse: number[] = [];
  const dihFalse: number[] = [];
  const hashes = [...originals.map((o) => ({ hash: o.hash, scene: sceneOf(o.photo.name) })), ...copies.map((c) => ({ hash: c.hash, scene: sceneOf(c.from.photo.name) }))];
  for (const h of hashes) {
    for (const o of originals) {
      if (sceneOf(o.photo.name) === h.scene) continue;
      plainFalse.push(hammingDistance(h.hash, o.hash));
      dihFalse.push(minHammingDistance(h.hash, o.dihedral));
    }
  }
  const fm = (ds: number[]): string => {
    const hits = ds.filter((d) => d <= PDQ_MATCH_DISTANCE).length;
    return `${hits}/${ds.length} = ${((100 * hits) / ds.length).toFixed(3)} %; min ${Math.min(...ds)}, 1st percentile ${percentile(ds, 1)}, median ${median(ds)}`;
  };
  console.log(`\nUnrelated pairs (different scenes; ${new Set(originals.map((o) => sceneOf(o.photo.name))).size} scenes):`);
  console.log(`- plain hash: false matches ${fm(plainFalse)}`);
  console.log(`- with the eight dihedral hashes (min of 8): false matches ${fm(dihFalse)}`);
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
