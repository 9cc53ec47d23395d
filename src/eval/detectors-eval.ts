/**
 * Evaluates the detectors on a labelled set (tools/detector-set/generate.ts writes one): precision
 * and recall per detector, the text gate's pass rates, false positives on clean photos and OCR
 * accuracy. (CPU cost: tools/detector-set/bench-detectors.ts, which runs one thing at a time.) `revmod eval detectors` prints `formatDetectorsReport` of it.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { blurDetector, type BlurOptions } from '../detectors/blur';
import { qrDetector, type QrOptions } from '../detectors/qr';
import { compactText } from '../detectors/text/normalise';
import { OcrPool } from '../detectors/text/ocr-pool';
import { createTextDetector, textSignals, type OcrRunner, type TextDetector, type TextDetectorOptions } from '../detectors/text/text-detector';
import type { TextGateOptions } from '../detectors/text/text-gate';
import type { DetectorSignal, PixelView } from '../detectors/types';
import { decodeViews } from '../detectors/views';
import { parseLabels, type DetectorSetLabel } from './detector-labels';

export interface DetectorsEvalOptions {
  /** Directory holding the images and labels.jsonl. */
  readonly setDir: string;
  /** OCR to use; when absent a pool of `ocrThreads` is made for the run and closed after. */
  readonly ocr?: OcrRunner;
  /** @defaultValue 1 */
  readonly ocrThreads?: number;
  /** Images in flight at once (decode and cheap detectors overlap OCR). @defaultValue ocrThreads + 1 */
  readonly concurrency?: number;
  readonly blur?: Partial<BlurOptions>;
  readonly qr?: Partial<QrOptions>;
  readonly gate?: Partial<TextGateOptions>;
  readonly text?: Partial<TextDetectorOptions>;
  /** Called after each image, e.g. for progress. */
  readonly onImage?: (done: number, total: number) => void;
}

export interface Score {
  readonly positives: number;
  readonly tp: number;
  readonly fp: number;
  readonly fn: number;
  /** TP / (TP + FP); 1 when nothing fired. */
  readonly precision: number;
  /** TP / positives; 1 when there are no positives. */
  readonly recall: number;
}

export interface ImageOutcome {
  readonly file: string;
  readonly kind: string;
  readonly reasons: readonly string[];
  readonly gateScore: number;
  readonly gatePassed: boolean;
  readonly ocrText?: string;
  /** 1 − edit distance / length between the rendered and the OCR'd text (compact forms). */
  readonly ocrCharAccuracy?: number;
  /** OCR time in its thread (detection + recognition). */
  readonly ocrRunMs?: number;
  readonly signals: readonly DetectorSignal[];
}

export interface DetectorsEvalReport {
  readonly images: number;
  readonly byKind: Readonly<Record<string, number>>;
  readonly blur: Score;
  readonly qr: Score & { readonly payloadExact: number };
  readonly contact: Score;
  readonly banned: Score;
  readonly textHeavy: Score;
  /** Gate recall on images with text; `firedOnClean` on clean photos. */
  readonly gate: { readonly textImages: number; readonly passed: number; readonly recall: number; readonly cleanPhotos: number; readonly firedOnClean: number; readonly cleanFireRate: number };
  /** Clean photos that got any signal. */
  readonly cleanFalsePositives: { readonly count: number; readonly total: number; readonly rate: number; readonly files: readonly string[] };
  readonly ocr: { readonly images: number; readonly meanRunMs: number; readonly meanCharAccuracy: number };
  readonly outcomes: readonly ImageOutcome[];
}

function score(labels: readonly DetectorSetLabel[], outcomes: readonly ImageOutcome[], truth: (l: DetectorSetLabel) => boolean, reason: string): Score {
  let tp = 0, fp = 0, fn = 0, positives = 0;
  labels.forEach((l, i) => {
    const fired = outcomes[i]!.reasons.includes(reason);
    if (truth(l)) {
      positives++;
      if (fired) tp++;
      else fn++;
    } else if (fired) fp++;
  });
  return { positives, tp, fp, fn, precision: tp + fp === 0 ? 1 : tp / (tp + fp), recall: positives === 0 ? 1 : tp / positives };
}

/** Levenshtein distance over code points. */
export function editDistance(a: string, b: string): number {
  const x = [...a];
  const y = [...b];
  let prev = Array.from({ length: y.length + 1 }, (_, j) => j);
  for (let i = 1; i <= x.length; i++) {
    const cur = [i];
    for (let j = 1; j <= y.length; j++) cur.push(Math.min(prev[j]! + 1, cur[j - 1]! + 1, prev[j - 1]! + (x[i - 1] === y[j - 1] ? 0 : 1)));
    prev = cur;
  }
  return prev[y.length]!;
}

async function evaluateImage(setDir: string, label: DetectorSetLabel, ocr: OcrRunner, text: TextDetector, o: DetectorsEvalOptions): Promise<ImageOutcome> {
  const bytes = readFileSync(join(setDir, label.file));
  const views = await decodeViews(bytes, [blurDetector.view, qrDetector.view, text.gate.view]);
  const grey512 = views.get('grey512')!;
  const qrView = views.get(`grey${qrDetector.view.maxSidePx}`)!;
  const blur = await blurDetector.detect(grey512, o.blur);
  const qr = await qrDetector.detect(qrView, o.qr);
  const gate = await text.gate.check(grey512, o.gate);
  const signals: DetectorSignal[] = [...blur, ...qr];
  let ocrText: string | undefined;
  let ocrCharAccuracy: number | undefined;
  let ocrRunMs: number | undefined;
  if (gate.pass) {
    // What the text detector's detect() does, in its two steps, so the OCR text is at hand for
    // the accuracy figure without a second read.
    const rgb = (await decodeViews(bytes, [text.view])).get('rgb1024') as PixelView;
    const read = await ocr.recognise(rgb, { detMaxSidePx: o.text?.detMaxSidePx ?? text.defaults.detMaxSidePx });
    ocrRunMs = 'runMs' in read && typeof read.runMs === 'number' ? read.runMs : read.detMs + read.recMs;
    ocrText = read.lines.map((l) => l.text).join('\n');
    signals.push(...textSignals(read, o.text));
  }
  if (label.lines !== undefined && label.lines.length > 0) {
    const truth = compactText(label.lines.join(''));
    const read = compactText(ocrText ?? '');
    ocrCharAccuracy = Math.max(0, 1 - editDistance(truth, read) / Math.max(1, truth.length));
  }
  return {
    file: label.file,
    kind: label.kind,
    reasons: [...new Set(signals.map((s) => s.reason))],
    gateScore: gate.score,
    gatePassed: gate.pass,
    ...(ocrText === undefined ? {} : { ocrText }),
    ...(ocrCharAccuracy === undefined ? {} : { ocrCharAccuracy }),
    ...(ocrRunMs === undefined ? {} : { ocrRunMs }),
    signals,
  };
}

function mean(xs: readonly number[]): number {
  return xs.length === 0 ? 0 : xs.reduce((a, b) => a + b, 0) / xs.length;
}

export async function evaluateDetectors(options: DetectorsEvalOptions): Promise<DetectorsEvalReport> {
  const labels = parseLabels(readFileSync(join(options.setDir, 'labels.jsonl'), 'utf8'));
  const threads = options.ocrThreads ?? 1;
  const pool = options.ocr === undefined ? new OcrPool({ threads }) : undefined;
  const ocr = options.ocr ?? pool!;
  const text = createTextDetector(ocr);
  const outcomes: ImageOutcome[] = new Array(labels.length);
  try {
    let next = 0;
    let done = 0;
    const worker = async (): Promise<void> => {
      for (let i = next++; i < labels.length; i = next++) {
        outcomes[i] = await evaluateImage(options.setDir, labels[i]!, ocr, text, options);
        options.onImage?.(++done, labels.length);
      }
    };
    await Promise.all(Array.from({ length: Math.max(1, options.concurrency ?? threads + 1) }, worker));
  } finally {
    await pool?.close();
  }
  const byKind: Record<string, number> = {};
  for (const l of labels) byKind[l.kind] = (byKind[l.kind] ?? 0) + 1;
  const clean = labels.map((l, i) => ({ l, o: outcomes[i]! })).filter(({ l }) => l.kind === 'clean');
  const cleanHits = clean.filter(({ o }) => o.reasons.length > 0);
  const textImgs = labels.map((l, i) => ({ l, o: outcomes[i]! })).filter(({ l }) => l.text);
  const qrScore = score(labels, outcomes, (l) => l.qr, 'qr_code');
  const qrExact = labels.filter((l, i) => l.qr && outcomes[i]!.signals.some((s) => s.reason === 'qr_code' && (s.evidence as { payload?: string }).payload === l.qrPayload)).length;
  const ocrDone = outcomes.filter((o) => o.ocrRunMs !== undefined);
  const acc = textImgs.map(({ o }) => o.ocrCharAccuracy).filter((a): a is number => a !== undefined);
  return {
    images: labels.length,
    byKind,
    blur: score(labels, outcomes, (l) => l.blurry, 'blurry'),
    qr: { ...qrScore, payloadExact: qrScore.positives === 0 ? 1 : qrExact / qrScore.positives },
    contact: score(labels, outcomes, (l) => l.contact, 'contact_info'),
    banned: score(labels, outcomes, (l) => l.banned, 'banned_text'),
    textHeavy: score(labels, outcomes, (l) => l.textHeavy, 'text_heavy'),
    gate: {
      textImages: textImgs.length,
      passed: textImgs.filter(({ o }) => o.gatePassed).length,
      recall: textImgs.length === 0 ? 1 : textImgs.filter(({ o }) => o.gatePassed).length / textImgs.length,
      cleanPhotos: clean.length,
      firedOnClean: clean.filter(({ o }) => o.gatePassed).length,
      cleanFireRate: clean.length === 0 ? 0 : clean.filter(({ o }) => o.gatePassed).length / clean.length,
    },
    cleanFalsePositives: { count: cleanHits.length, total: clean.length, rate: clean.length === 0 ? 0 : cleanHits.length / clean.length, files: cleanHits.map(({ o }) => `${o.file} (${o.reasons.join(', ')})`) },
    ocr: { images: ocrDone.length, meanRunMs: mean(ocrDone.map((o) => o.ocrRunMs!)), meanCharAccuracy: mean(acc) },
    outcomes,
  };
}

const pct = (x: number): string => `${(100 * x).toFixed(1)} %`;

/** The report as the table `revmod eval detectors` prints. */
export function formatDetectorsReport(r: DetectorsEvalReport): string {
  const row = (name: string, s: Score): string => `${name.padEnd(14)}${String(s.positives).padStart(9)}${String(s.tp).padStart(5)}${String(s.fp).padStart(5)}${String(s.fn).padStart(5)}${pct(s.precision).padStart(11)}${pct(s.recall).padStart(9)}`;
  return [
    `${r.images} images: ${Object.entries(r.byKind).map(([k, v]) => `${k} ${v}`).join(', ')}`,
    '',
    `${'detector'.padEnd(14)}${'positives'.padStart(9)}${'TP'.padStart(5)}${'FP'.padStart(5)}${'FN'.padStart(5)}${'precision'.padStart(11)}${'recall'.padStart(9)}`,
    row('blurry', r.blur),
    row('qr_code', r.qr),
    row('contact_info', r.contact),
    row('banned_text', r.banned),
    row('text_heavy', r.textHeavy),
    '',
    `QR payload read exactly: ${pct(r.qr.payloadExact)}`,
    `text gate: passed ${r.gate.passed}/${r.gate.textImages} text images (${pct(r.gate.recall)}), fired on ${r.gate.firedOnClean}/${r.gate.cleanPhotos} clean photos (${pct(r.gate.cleanFireRate)})`,
    `clean photos with any signal: ${r.cleanFalsePositives.count}/${r.cleanFalsePositives.total} (${pct(r.cleanFalsePositives.rate)})${r.cleanFalsePositives.files.length > 0 ? `: ${r.cleanFalsePositives.files.join(', ')}` : ''}`,
    `OCR: ${r.ocr.images} images, ${r.ocr.meanRunMs.toFixed(0)} ms each (in the OCR thread), character accuracy ${pct(r.ocr.meanCharAccuracy)} on text images`,
  ].join('\n');
}
