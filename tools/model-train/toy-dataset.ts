/**
 * A toy training set a small network separates in a few epochs: crops of real photos, clean
 * (normal/) or with a large pasted mark (violate/): a red stamp with white bars over about a third
 * of the picture. Every photo appears in both classes, so what tells them apart is the mark, not
 * the photo. Some files carry an EXIF orientation, so that training and serving both have to turn
 * them upright. Used by the training smoke test and by docs/model-lifecycle.md.
 *
 *   npx tsx tools/model-train/toy-dataset.ts --out .tmp/toy-set [--normal 26] [--violate 14] [--seed 1]
 */
import { mkdir, readdir, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import sharp from 'sharp';
import { SeededRandom } from '../../src/util/seeded-random';

export interface ToyDatasetOptions {
  readonly outDir: string;
  readonly normal: number;
  readonly violate: number;
  readonly seed: number;
  /** Folders of photos to crop from; default test/fixtures/photos and samples/. */
  readonly photoDirs?: readonly string[];
}

export interface ToyImage {
  readonly file: string;
  readonly class: 'normal' | 'violate';
  readonly orientation: number;
}

const ROOT = resolve(__dirname, '../..');
const DEFAULT_PHOTO_DIRS = [join(ROOT, 'test/fixtures/photos'), join(ROOT, 'samples')];

function stampSvg(w: number, h: number, angle: number): Buffer {
  const bars = [0.3, 0.5, 0.7].map((y) => `<rect x="${w * 0.12}" y="${h * y - h * 0.05}" width="${w * 0.76}" height="${h * 0.1}" fill="#fff"/>`).join('');
  return Buffer.from(`<svg xmlns="http://www.w3.org/2000/svg" width="${w}" height="${h}"><g transform="rotate(${angle} ${w / 2} ${h / 2})">` +
    `<rect x="${w * 0.04}" y="${h * 0.04}" width="${w * 0.92}" height="${h * 0.92}" rx="${w * 0.1}" fill="#e0101c"/>${bars}</g></svg>`);
}

/** Writes normal/ and violate/ under outDir; returns what it wrote. */
export async function writeToyDataset(o: ToyDatasetOptions): Promise<ToyImage[]> {
  const rng = new SeededRandom(o.seed);
  const pick = (n: number) => Math.floor(rng.next() * n);
  const photos: string[] = [];
  for (const dir of o.photoDirs ?? DEFAULT_PHOTO_DIRS) {
    for (const f of (await readdir(dir)).sort()) if (/\.(jpe?g|png|webp)$/i.test(f)) photos.push(join(dir, f));
  }
  if (photos.length === 0) throw new Error(`no photos in ${(o.photoDirs ?? DEFAULT_PHOTO_DIRS).join(', ')}`);
  const out: ToyImage[] = [];
  const plan = [...Array.from({ length: o.normal }, () => 'normal' as const), ...Array.from({ length: o.violate }, () => 'violate' as const)];
  for (const [i, cls] of plan.entries()) {
    const src = sharp(photos[i % photos.length]!);
    const meta = await src.metadata();
    const side = Math.min(meta.width!, meta.height!);
    const cw = Math.round(side * (0.6 + 0.4 * rng.next()));
    const ch = Math.round(cw * (0.7 + 0.5 * rng.next()));
    const left = pick(meta.width! - Math.min(cw, meta.width!) + 1);
    const top = pick(meta.height! - Math.min(ch, meta.height!) + 1);
    const w = 280 + pick(120);
    const h = 260 + pick(100);
    let img = sharp(photos[i % photos.length]!).extract({ left, top, width: Math.min(cw, meta.width!), height: Math.min(ch, meta.height!) }).resize(w, h, { fit: 'fill' });
    if (cls === 'violate') {
      const mw = Math.round(w * (0.55 + 0.15 * rng.next()));
      const mh = Math.round(h * (0.5 + 0.15 * rng.next()));
      // Within the centre crop the model sees (Resize 256 → CenterCrop 224 keeps the middle ~85 %).
      const mx = Math.round((w - mw) * (0.25 + 0.5 * rng.next()));
      const my = Math.round((h - mh) * (0.25 + 0.5 * rng.next()));
      const flat = await img.png().toBuffer();
      img = sharp(flat).composite([{ input: stampSvg(mw, mh, -15 + 30 * rng.next()), left: mx, top: my }]);
    }
    // Every fifth image is stored sideways with an EXIF orientation of 6 (or 8), as phones do.
    const orientation = i % 5 === 4 ? (i % 10 === 4 ? 6 : 8) : 1;
    let bytes = await img.jpeg({ quality: 88 }).toBuffer();
    if (orientation !== 1) {
      const rotated = await sharp(bytes).rotate(orientation === 6 ? -90 : 90).jpeg({ quality: 88 }).toBuffer();
      bytes = await sharp(rotated).withMetadata({ orientation }).jpeg({ quality: 88 }).toBuffer();
    }
    const file = join(cls, `${cls}-${String(i).padStart(3, '0')}.jpg`);
    await mkdir(join(o.outDir, cls), { recursive: true });
    await writeFile(join(o.outDir, file), bytes);
    out.push({ file, class: cls, orientation });
  }
  return out;
}

async function main(): Promise<void> {
  const { parseArgs } = await import('node:util');
  const { values } = parseArgs({ options: { out: { type: 'string', default: '.tmp/toy-set' }, normal: { type: 'string', default: '26' }, violate: { type: 'string', default: '14' }, seed: { type: 'string', default: '1' } } });
  const images = await writeToyDataset({ outDir: resolve(values.out), normal: Number(values.normal), violate: Number(values.violate), seed: Number(values.seed) });
  console.log(`${images.length} images in ${resolve(values.out)} (${images.filter((i) => i.class === 'violate').length} violate)`);
}

if (require.main === module) {
  main().catch((err: unknown) => {
    console.error(err);
    process.exit(1);
  });
}
