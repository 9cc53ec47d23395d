/**
 * Prints the blur detector's separation table: sharpness of real photos, unblurred and blurred
 * with a Gaussian of σ pixels at the 512-px grey view, and how many fall below the threshold.
 *
 *   npx tsx tools/detector-set/calibrate-blur.ts [--threshold 12]
 *
 * Photos: samples/, test/fixtures/photos/ and ../shared/images when present (the generator's list).
 */
import { parseArgs } from 'node:util';
import sharp from 'sharp';
import { blurDetector, DEFAULT_BLUR_OPTIONS, measureSharpness } from '../../src/detectors/blur';
import { decodeView } from '../../src/detectors/views';
import { findPhotos } from './build-set';

const SIGMAS = [0, 0.5, 1, 1.5, 2, 2.5, 3, 4, 5];

async function main(): Promise<void> {
  const { values } = parseArgs({ options: { threshold: { type: 'string', default: String(DEFAULT_BLUR_OPTIONS.minSharpness) } } });
  const threshold = Number(values.threshold);
  const photos = findPhotos();
  const table: number[][] = [];
  for (const photo of photos) {
    const upright = await sharp(photo.bytes).rotate().resize(1024, 1024, { fit: 'inside', withoutEnlargement: true }).png().toBuffer();
    const meta = await sharp(upright).metadata();
    const long = Math.max(meta.width!, meta.height!);
    const scale = long / Math.min(512, long);
    const row: number[] = [];
    for (const sigma of SIGMAS) {
      const img = sigma === 0 ? upright : await sharp(upright).blur(Math.max(0.3, sigma * scale)).jpeg({ quality: 90 }).toBuffer();
      row.push(measureSharpness(await decodeView(img, blurDetector.view)));
    }
    table.push(row);
    console.log(`${photo.name.slice(0, 40).padEnd(42)}${row.map((v) => v.toFixed(1).padStart(7)).join('')}`);
  }
  console.log(`${'σ at the 512-px view'.padEnd(42)}${SIGMAS.map((s) => (s === 0 ? 'none' : String(s)).padStart(7)).join('')}`);
  const col = (j: number): number[] => table.map((r) => r[j]!).sort((a, b) => a - b);
  const line = (label: string, f: (v: number[]) => string): void => console.log(`${label.padEnd(42)}${SIGMAS.map((_, j) => f(col(j)).padStart(7)).join('')}`);
  line('min', (v) => v[0]!.toFixed(1));
  line('median', (v) => v[Math.floor(v.length / 2)]!.toFixed(1));
  line('max', (v) => v[v.length - 1]!.toFixed(1));
  line(`below ${threshold} (called blurry)`, (v) => `${Math.round((100 * v.filter((x) => x < threshold).length) / v.length)}%`);
  console.log(`\n${photos.length} photos; threshold ${threshold}: unblurred photos called blurry are false positives, blurred ones missed are false negatives.`);
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
