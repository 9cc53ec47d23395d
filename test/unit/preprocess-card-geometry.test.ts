/**
 * The card's resize modes against PIL and torchvision themselves: the references in
 * test/fixtures/card-geometry were made from the parity photos by
 * tools/parity/make-card-geometry-references.py (python3-pil 9.4, python3-torchvision 0.14) as
 * `Resize((S, S))` ('squash', = PIL's `resize((S, S), BILINEAR)`) and `Resize(288) → CenterCrop(224)`
 * ('crop' at a short side of 288). Units: 8-bit levels and normalized tensor units (one level ≈ 0.0174).
 */
import { readFileSync } from 'node:fs';
import * as path from 'node:path';
import sharp from 'sharp';
import { tensorDiff } from '../../tools/dev/parity-reference';
import { decodeCrop } from '../../src/preprocess/decode-paths';
import { preprocessImage } from '../../src/preprocess/decode-image';
import { createChwNormalizer, writeNormalizedChw } from '../../src/preprocess/normalize';
import { planPreprocess } from '../../src/preprocess/plan';
import { DEFAULT_DECODE_OPTIONS, DEFAULT_PREPROCESS_OPTIONS, type InputGeometry, type PreprocessOptions } from '../../src/preprocess/preprocess-options';
import { readHeader } from '../../src/preprocess/read-header';

const DIR = path.resolve(__dirname, '../fixtures/card-geometry');

interface Entry {
  /** The photo, relative to DIR. */
  readonly photo: string;
  readonly reference: string;
  readonly preprocessing: InputGeometry;
  readonly size: [number, number];
}
const manifest = JSON.parse(readFileSync(path.join(DIR, 'manifest.json'), 'utf8')) as { entries: Entry[] };

/** The same bounds as the torchvision parity test ('torchvision' mode, normalized units). */
const MEAN_BOUND = 0.01;
const MAX_BOUND = 0.5;

async function referenceRgb(name: string): Promise<Buffer> {
  const { data, info } = await sharp(readFileSync(path.join(DIR, name))).raw().toBuffer({ resolveWithObject: true });
  expect(info.channels).toBe(3);
  return data;
}

/** Mean and max difference in 8-bit levels. */
function levelDiff(a: Uint8Array, b: Uint8Array): { mean: number; max: number } {
  expect(a.length).toBe(b.length);
  return tensorDiff(Float32Array.from(a), Float32Array.from(b));
}

/** Mean and max difference in normalized units (ImageNet normalisation at the entry's size). */
function normalizedDiff(a: Uint8Array, b: Uint8Array, cropSize: number): { mean: number; max: number } {
  const n = createChwNormalizer({ mean: [0.485, 0.456, 0.406], std: [0.229, 0.224, 0.225], scale: 1 / 255, cropSize });
  const [ta, tb] = [new Float32Array(n.floatsPerImage), new Float32Array(n.floatsPerImage)];
  writeNormalizedChw(a, ta, 0, n);
  writeNormalizedChw(b, tb, 0, n);
  return tensorDiff(ta, tb);
}

const options = (entry: Entry): PreprocessOptions => ({ ...DEFAULT_DECODE_OPTIONS, ...entry.preprocessing });

describe('card geometry against PIL/torchvision references (test/fixtures/card-geometry)', () => {
  const rows: string[] = [];
  afterAll(() => console.log(['reference                                        path   levels mean / max', ...rows].join('\n')));

  test('the manifest covers squash at two sizes, crop at 288 and EXIF-rotated photos', () => {
    const kinds = new Set(manifest.entries.map((e) => `${e.preprocessing.resize}:${e.preprocessing.cropSize}:${e.preprocessing.resizeShortSide ?? '-'}`));
    expect([...kinds].sort()).toEqual(['crop:224:288', 'squash:160:-', 'squash:224:-']);
    expect(manifest.entries.some((e) => e.preprocessing.autoOrient)).toBe(true);
  });

  test.each(manifest.entries.map((e) => [e.reference, e] as const))('%s', async (_name, entry) => {
    const bytes = readFileSync(path.join(DIR, entry.photo));
    const o = options(entry);
    const plan = planPreprocess(await readHeader(bytes, o), o);
    const r = await preprocessImage(bytes, o);
    const reference = await referenceRgb(entry.reference);
    const size = entry.preprocessing.cropSize;
    expect(entry.size).toEqual([size, size]);
    expect(r.rgb.length).toBe(size * size * 3);
    const levels = levelDiff(r.rgb, reference);
    rows.push(`${entry.reference.padEnd(48)} ${plan.path.padEnd(6)} ${levels.mean.toFixed(3)} / ${levels.max}`);
    const t = normalizedDiff(r.rgb, reference, size);
    expect(t.mean).toBeLessThanOrEqual(MEAN_BOUND);
    expect(t.max).toBeLessThanOrEqual(MAX_BOUND);
    // The exact path is Pillow's resampler: bit-exact, but for the intermediate rounding of its two
    // passes, which run in the other order when the crop is turned upright from a transposed frame.
    if (plan.path === 'exact') expect(levels.max).toBeLessThanOrEqual(plan.applied >= 5 ? 1 : 0);
  });

  test('the exact path (Pillow\'s resampler) is bit-exact for squash, where sharp is not', async () => {
    const entry = manifest.entries.find((e) => e.reference === 'coffee_1440x1080_q85.squash224.stored.png')!;
    const bytes = readFileSync(path.join(DIR, entry.photo));
    const o = options(entry);
    const plan = planPreprocess(await readHeader(bytes, o), o);
    expect(plan.path).toBe('exact');
    const reference = await referenceRgb(entry.reference);
    expect(levelDiff(await decodeCrop(bytes, plan, o), reference).max).toBe(0);
    // sharp on the same image (2× DCT shrink on load, then its kernel, 6.4× / 4.8×) is measurably off.
    const viaSharp = levelDiff(await decodeCrop(bytes, { ...plan, path: 'sharp' }, o), reference);
    expect(viaSharp.max).toBeGreaterThan(0);
  });

  test('resizeShortSide 288 is served at 288: PIL\'s 288 crop, not the 256 one', async () => {
    for (const entry of manifest.entries.filter((e) => e.preprocessing.resizeShortSide === 288)) {
      const bytes = readFileSync(path.join(DIR, entry.photo));
      const reference = await referenceRgb(entry.reference);
      const at288 = await preprocessImage(bytes, options(entry));
      const at256 = await preprocessImage(bytes, { ...options(entry), resizeShortSide: 256 });
      const near = levelDiff(at288.rgb, reference);
      const far = levelDiff(at256.rgb, reference);
      expect(near.mean).toBeLessThan(0.3);
      // The 256 crop shows more of the scene at a smaller scale: measured 6.2–29 levels apart on
      // average, against 0.20–0.24 for the 288 crop.
      expect(far.mean).toBeGreaterThan(Math.max(3, 20 * near.mean));
    }
  });

  test('squash keeps the whole scene: the squashed image differs from the centre crop', async () => {
    const entry = manifest.entries.find((e) => e.reference === 'chelsea_451x300_q85.squash224.stored.png')!;
    const bytes = readFileSync(path.join(DIR, entry.photo));
    const squashed = await preprocessImage(bytes, options(entry));
    const cropped = await preprocessImage(bytes, DEFAULT_PREPROCESS_OPTIONS);
    expect(levelDiff(squashed.rgb, cropped.rgb).mean).toBeGreaterThan(5);
  });
});
