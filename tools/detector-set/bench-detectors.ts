/**
 * CPU cost of the detectors, in figures for docs/detectors.md.
 *
 *   npx tsx tools/detector-set/bench-detectors.ts [--set DIR] [--rounds N]
 *
 * 1. Photos without text or a code (samples/, test/fixtures/photos/, ../shared/images): CPU ms per
 *    photo of the classifier's own decode (detectors off), of the detector views from one decode,
 *    and of each cheap detector on its view.
 * 2. Text images of a generated set (default .tmp/detector-set): OCR CPU and wall ms per image,
 *    in this thread (one ONNX thread), so the figure is what one OCR pool thread spends.
 * CPU time is process-wide (process.cpuUsage), so sharp's and ONNX Runtime's threads count.
 */
import { readFileSync } from 'node:fs';
import { cpus, loadavg } from 'node:os';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import sharp from 'sharp';
import { blurDetector } from '../../src/detectors/blur';
import { createQrDetector, qrDetector } from '../../src/detectors/qr';
import { PaddleOcr } from '../../src/detectors/text/paddle-ocr';
import { textGate } from '../../src/detectors/text/text-gate';
import { decodeView, decodeViews } from '../../src/detectors/views';
import { parseLabels } from '../../src/eval/detector-labels';
import { preprocessImage } from '../../src/preprocess';
import { findPhotos } from './build-set';

async function cpu<T>(f: () => Promise<T>): Promise<number> {
  const c0 = process.cpuUsage();
  await f();
  const c = process.cpuUsage(c0);
  return (c.user + c.system) / 1000;
}

const mean = (xs: readonly number[]): number => xs.reduce((a, b) => a + b, 0) / Math.max(1, xs.length);
const p = (xs: readonly number[], q: number): number => [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor(q * xs.length))] ?? 0;

async function main(): Promise<void> {
  const { values } = parseArgs({ options: { rounds: { type: 'string', default: '5' }, set: { type: 'string', default: '.tmp/detector-set' } } });
  const rounds = Number(values.rounds);
  const setDir = resolve(values.set);
  console.log(`machine: ${cpus().length} × ${cpus()[0]?.model ?? '?'}, load before ${loadavg().map((l) => l.toFixed(2)).join(' ')}`);

  const photos = findPhotos();
  const qr1024 = createQrDetector(1024);
  const rows: Record<string, number[]> = { classifier: [], views: [], 'views, grey ≤ 512 only': [], blur: [], 'blur via sharp stats()': [], qr: [], 'qr on grey ≤ 1024': [], gate: [] };
  // Warm-up: JIT, zxing's wasm, the gate's session.
  for (const ph of photos.slice(0, 3)) {
    const v = await decodeViews(ph.bytes, [blurDetector.view, qr1024.view]);
    await blurDetector.detect(v.get('grey512')!);
    await qrDetector.detect(v.get('grey512')!);
    await qr1024.detect(v.get('grey1024')!);
    await textGate.check(v.get('grey512')!);
  }
  const sizeClass = new Map<string, string>();
  for (const ph of photos) {
    const m = await sharp(ph.bytes).metadata();
    const mp = (m.width! * m.height!) / 1e6;
    sizeClass.set(ph.name, mp >= 8 ? '12 MP' : mp >= 1 ? '1–1.6 MP' : '< 1 MP');
  }
  const byClass = new Map<string, Record<string, number[]>>();
  for (let r = 0; r < rounds; r++) {
    for (const ph of photos) {
      const cls = byClass.get(sizeClass.get(ph.name)!) ?? { classifier: [], views: [], 'views, grey ≤ 512 only': [] };
      byClass.set(sizeClass.get(ph.name)!, cls);
      const before = rows.classifier!.length;
      rows.classifier!.push(await cpu(() => preprocessImage(ph.bytes)));
      let views: Map<string, import('../../src/detectors/types').PixelView> | undefined;
      rows.views!.push(await cpu(async () => {
        views = await decodeViews(ph.bytes, [blurDetector.view, qr1024.view]);
      }));
      rows['views, grey ≤ 512 only']!.push(await cpu(() => decodeViews(ph.bytes, [blurDetector.view])));
      for (const k of ['classifier', 'views', 'views, grey ≤ 512 only']) cls[k]!.push(rows[k]![before]!);
      const grey512 = views!.get('grey512')!;
      const grey1024 = views!.get('grey1024')!;
      rows.blur!.push(await cpu(() => blurDetector.detect(grey512)));
      // The alternative measure: sharp's global Laplacian spread, on the same pixels.
      rows['blur via sharp stats()']!.push(await cpu(() => sharp(grey512.data, { raw: { width: grey512.width, height: grey512.height, channels: 1 } }).stats()));
      rows.qr!.push(await cpu(() => qrDetector.detect(grey512)));
      rows['qr on grey ≤ 1024']!.push(await cpu(() => qr1024.detect(grey1024)));
      rows.gate!.push(await cpu(() => textGate.check(grey512)));
    }
  }
  console.log(`\n${photos.length} photos without text or code × ${rounds} rounds, CPU ms per photo (mean / p50 / p90):`);
  console.log('  classifier = the 224 crop alone (detectors off); views = grey ≤ 512 and grey ≤ 1024 from one decode; qr = on grey ≤ 512 (the default)');
  for (const [k, xs] of Object.entries(rows)) console.log(`  ${k.padEnd(34)}${mean(xs).toFixed(2).padStart(8)}${p(xs, 0.5).toFixed(2).padStart(8)}${p(xs, 0.9).toFixed(2).padStart(8)}`);
  console.log('  by size class (mean CPU ms: classifier decode / detector views / grey ≤ 512 view only):');
  for (const [cls, r] of [...byClass].sort()) console.log(`    ${cls.padEnd(10)} ${String(r.classifier!.length / rounds).padStart(3)} photos: ${mean(r.classifier!).toFixed(1)} / ${mean(r.views!).toFixed(1)} / ${mean(r['views, grey ≤ 512 only']!).toFixed(1)}`);
  const detectors = mean(rows.blur!) + mean(rows.qr!) + mean(rows.gate!);
  console.log(`  cheap detectors on their views, sum: ${detectors.toFixed(2)} ms`);

  let labels;
  try {
    labels = parseLabels(readFileSync(join(setDir, 'labels.jsonl'), 'utf8')).filter((l) => l.text);
  } catch {
    console.log(`\n(no set at ${setDir}: make one with tools/detector-set/generate.ts for the OCR figures)`);
    return;
  }
  const ocr = await PaddleOcr.load(1);
  const sample = labels.filter((_, i) => i % Math.max(1, Math.floor(labels.length / 40)) === 0);
  const cpuMs: number[] = [];
  const wallMs: number[] = [];
  const det: number[] = [];
  const rec: number[] = [];
  await ocr.recognise(await decodeView(readFileSync(join(setDir, sample[0]!.file)), { kind: 'rgb', maxSidePx: 1024 }));
  for (const l of sample) {
    const view = await decodeView(readFileSync(join(setDir, l.file)), { kind: 'rgb', maxSidePx: 1024 });
    const t0 = performance.now();
    let r: Awaited<ReturnType<PaddleOcr['recognise']>> | undefined;
    cpuMs.push(await cpu(async () => {
      r = await ocr.recognise(view);
    }));
    wallMs.push(performance.now() - t0);
    det.push(r!.detMs);
    rec.push(r!.recMs);
  }
  await ocr.release();
  console.log(`\nOCR (PaddleOCR PP-OCRv4, det ≤ 960 px, 1 ONNX thread) on ${sample.length} text images of ${setDir}:`);
  console.log(`  CPU ms per image: mean ${mean(cpuMs).toFixed(0)}, p50 ${p(cpuMs, 0.5).toFixed(0)}, p90 ${p(cpuMs, 0.9).toFixed(0)}; wall mean ${mean(wallMs).toFixed(0)} (detection ${mean(det).toFixed(0)}, recognition ${mean(rec).toFixed(0)})`);
  console.log(`\nload after ${loadavg().map((l) => l.toFixed(2)).join(' ')}`);
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
