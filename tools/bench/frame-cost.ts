/**
 * What the detector frame and the detectors cost per image, in CPU time on one thread
 * (sharp.concurrency(1)), measured on the pool's own decode function:
 *
 * - bare: decode → model crop → normalised tensor, nothing else (the path before the frame);
 * - frame, classifier only: the pool's task with no detector on (hashing, the detector loop);
 * - cheap detectors: blur, QR and the text gate on their shared 512-px view;
 * - OCR per text image (the text gate passed), in an OCR thread;
 * - animated images: an 8-frame WebP judged on 1 frame and on all 8.
 *
 *   npm run bench:frame [-- --images DIR] [--min-ms N]
 */
import { existsSync, readFileSync } from 'node:fs';
import { cpus, loadavg } from 'node:os';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import sharp from 'sharp';
import { OcrPool } from '../../src/detectors/text/ocr-pool';
import { cardInputGeometry } from '../../src/model/model-card';
import { decode, type DecodeTask } from '../../src/pool/decode-task';
import { decodeImage } from '../../src/preprocess/decode-image-views';
import { createChwNormalizer, writeNormalizedChw } from '../../src/preprocess/normalize';
import { DEFAULT_DECODE_OPTIONS, type PreprocessOptions } from '../../src/preprocess';
import { generatedModelCard } from '../model-gen/ensure-model';
import { loadImages, type BenchImage } from './images';
import { processCpuMs } from './measure';

const ROOT = resolve(__dirname, '../..');

/** CPU ms per call of `fn` over the images, cycling them until at least `minMs` of wall time. */
async function cpuPerCall(images: readonly BenchImage[], minMs: number, fn: (img: BenchImage) => Promise<unknown>): Promise<number> {
  for (const img of images) await fn(img); // warm-up: sessions, wasm, caches
  const wall0 = performance.now();
  const cpu0 = processCpuMs();
  let n = 0;
  while (performance.now() - wall0 < minMs || n < images.length) {
    await fn(images[n % images.length]!);
    n++;
  }
  return (processCpuMs() - cpu0) / n;
}

export interface FrameCostResult {
  readonly dir: string;
  readonly photos: number;
  readonly minMs: number;
  readonly bare: number;
  readonly frame: number;
  readonly cheap: number;
  readonly gated: number;
  readonly classes: ReadonlyArray<{ readonly cls: string; readonly n: number; readonly off: number; readonly on: number }>;
  readonly ocr: number;
  readonly anim1: number;
  readonly anim8: number;
  readonly machine: string;
}

/** Measures the rows of the frame-cost tables (CPU ms per image, one thread). */
export async function benchFrameCost(options: { readonly imagesDir?: string; readonly minMs: number }): Promise<FrameCostResult> {
  const minMs = options.minMs;
  const shared = resolve(ROOT, '../shared/images');
  const dir = options.imagesDir ?? (existsSync(shared) ? shared : join(ROOT, 'samples'));
  const concurrency = sharp.concurrency();
  sharp.concurrency(1);
  try {
    return await measure(dir, minMs);
  } finally {
    sharp.concurrency(concurrency);
  }
}

async function measure(dir: string, minMs: number): Promise<FrameCostResult> {
  const photos = await loadImages(dir);
  const card = generatedModelCard('resnet18');
  const preprocess: PreprocessOptions = { ...DEFAULT_DECODE_OPTIONS, ...cardInputGeometry(card) };
  const normalizer = createChwNormalizer({ ...card.preprocessing, cropSize: preprocess.cropSize });
  const task = (bytes: Buffer, extra: Partial<DecodeTask> = {}): DecodeTask => ({
    bytes: new Uint8Array(bytes), preprocess, normalization: card.preprocessing, maxFrames: 1, detectors: {}, pdq: false, ...extra,
  });
  const check = (out: Awaited<ReturnType<typeof decode>>): void => {
    if (!out.ok) throw new Error(`${out.code}: ${out.message}`);
  };

  const bare = await cpuPerCall(photos, minMs, async (img) => {
    const d = await decodeImage(img.bytes, preprocess, { greyMaxSide: 0, rgbMaxSide: 0, maxFrames: 1 });
    const t = new Float32Array(normalizer.floatsPerImage);
    writeNormalizedChw(d.crops[0]!, t, 0, normalizer);
  });
  const frame = await cpuPerCall(photos, minMs, async (img) => check(await decode(task(img.bytes))));
  let gated = 0;
  const cheap = await cpuPerCall(photos, minMs, async (img) => {
    const out = await decode(task(img.bytes, { detectors: { blur: {}, qr: {} }, text: { gate: {}, ocrMaxSidePx: 1024 } }));
    check(out);
    if (out.ok && out.textGate?.pass) gated++;
  });

  // OCR: the demo's contact photo, in one OCR thread (its CPU is this process's too).
  const textPhoto = readFileSync(join(ROOT, 'samples/detectors/coffee_contact_wechat.jpg'));
  const first = await decode(task(textPhoto, { text: { gate: {}, ocrMaxSidePx: 1024 } }));
  if (!first.ok || !first.ocrView) throw new Error('the text photo did not pass the text gate');
  const ocrView = first.ocrView;
  const pool = new OcrPool({ threads: 1 });
  let ocr: number;
  try {
    ocr = await cpuPerCall([{ name: 'text', bytes: textPhoto, width: 0, height: 0, format: 'jpeg', sizeClass: 'small' }], minMs, () => pool.recognise(ocrView));
  } finally {
    await pool.close();
  }

  // Animated: 8 frames of a 480×480 crop of the first photo, shifted so each frame differs.
  const base = await sharp(photos[0]!.bytes).resize(520, 520, { fit: 'cover' }).raw().toBuffer({ resolveWithObject: true });
  const frames = await Promise.all(Array.from({ length: 8 }, (_, i) => sharp(base.data, { raw: base.info }).extract({ left: i * 5, top: i * 5, width: 480, height: 480 }).png().toBuffer()));
  const animated = await sharp(frames, { join: { animated: true } }).webp({ delay: Array(8).fill(100), loop: 0, quality: 80 }).toBuffer();
  const anim: BenchImage[] = [{ name: 'animated', bytes: animated, width: 480, height: 480, format: 'webp', sizeClass: 'small' }];
  const anim1 = await cpuPerCall(anim, minMs, async (img) => check(await decode(task(img.bytes, { maxFrames: 1 }))));
  const anim8 = await cpuPerCall(anim, minMs, async (img) => check(await decode(task(img.bytes, { maxFrames: 8 }))));

  // Per size class: the large-JPEG path decodes the views a second time (its crop's decode is at a
  // reduced scale inside one libvips pipeline), so the detectors' cost there is mostly that decode.
  const classes: Array<{ cls: string; n: number; off: number; on: number }> = [];
  for (const cls of [...new Set(photos.map((p) => p.sizeClass))]) {
    const ps = photos.filter((p) => p.sizeClass === cls);
    const off = await cpuPerCall(ps, minMs / 2, async (img) => check(await decode(task(img.bytes))));
    const on = await cpuPerCall(ps, minMs / 2, async (img) => check(await decode(task(img.bytes, { detectors: { blur: {}, qr: {} }, text: { gate: {}, ocrMaxSidePx: 1024 } }))));
    classes.push({ cls, n: ps.length, off, on });
  }

  return {
    dir, photos: photos.length, minMs, bare, frame, cheap, gated, classes, ocr, anim1, anim8,
    machine: `${cpus().length} × ${cpus()[0]?.model ?? '?'}, load ${loadavg().map((l) => l.toFixed(2)).join(' ')}`,
  };
}

/** The frame-cost tables as markdown (also printed by `npm run bench:frame`). */
export function renderFrameCost(r: FrameCostResult): string {
  const f = (x: number): string => x.toFixed(2);
  return [
    '## Detectors: what the frame and the detectors cost per image',
    '',
    `${r.photos} photos from ${r.dir}; CPU ms per image on one thread (sharp.concurrency(1)), ≥ ${r.minMs} ms per row; machine: ${r.machine}. Goals: the frame ≤ 1 ms above bare with only the classifier on; the cheap detectors ≤ 5 ms above off (docs/detectors.md says where the time goes).`,
    '',
    '| path | CPU ms / image | above bare |',
    '| --- | ---: | ---: |',
    `| bare: decode → crop → tensor | ${f(r.bare)} | — |`,
    `| frame, classifier only (no detector on) | ${f(r.frame)} | ${f(r.frame - r.bare)} |`,
    `| cheap detectors on (blur, QR, text gate) | ${f(r.cheap)} | ${f(r.cheap - r.bare)} |`,
    '',
    '| size class | photos | detectors off | cheap detectors on | above off |',
    '| --- | ---: | ---: | ---: | ---: |',
    ...r.classes.map((c) => `| ${c.cls} | ${c.n} | ${f(c.off)} | ${f(c.on)} | ${f(c.on - c.off)} |`),
    '',
    `Text gate passed on ${r.gated} photo runs of the cheap row (photos without text: these would go to OCR).`,
    `OCR per text image (one OCR thread, 1024-px view): ${f(r.ocr)} ms CPU.`,
    `Animated WebP 480×480, 8 frames: ${f(r.anim1)} ms judged on 1 frame, ${f(r.anim8)} ms on 8 (${f(r.anim8 / r.anim1)}×).`,
  ].join('\n');
}

async function main(): Promise<void> {
  const { values } = parseArgs({ options: { images: { type: 'string' }, 'min-ms': { type: 'string', default: '3000' } } });
  const result = await benchFrameCost({ ...(values.images !== undefined ? { imagesDir: values.images } : {}), minMs: Number(values['min-ms']) });
  console.log(renderFrameCost(result));
}

if (require.main === module) {
  main().catch((err: unknown) => {
    console.error(err);
    process.exit(1);
  });
}
