/**
 * Activation ranges for static quantisation: sample photos go through the worker's own decode task
 * (the card's preprocessing, exactly as served), the float model runs with every planned activation
 * as an extra output, and each activation's range is gathered as min/max or as a percentile of its
 * values.
 */
import { readdir, readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import * as ort from 'onnxruntime-node';
import { RevmodError } from '@revmod/client';
import { cardInputGeometry, type ModelCard } from '../model/model-card';
import { decode } from '../pool/decode-task';
import { DEFAULT_DECODE_OPTIONS } from '../preprocess/preprocess-options';
import type { ActivationRange } from './qdq-graph';

export type CalibrationMethod = 'minmax' | 'percentile';

export interface CalibrationOptions {
  /** 'minmax': the extremes seen; 'percentile': the `percentile`-th of each sign's magnitudes (clips rare outliers). */
  readonly method: CalibrationMethod;
  /** Percentile for 'percentile', in (90, 100]. */
  readonly percentile: number;
  /** Images per calibration run (memory grows with it: every activation is an output). */
  readonly batchSize: number;
}

export interface CalibrationImages {
  /** One normalized CHW tensor per usable image (file order). */
  readonly tensors: readonly Float32Array[];
  readonly files: readonly string[];
  /** Files that could not be decoded, with the worker's error code. */
  readonly skipped: ReadonlyArray<{ readonly file: string; readonly code: string; readonly message: string }>;
}

const BINS = 2048;
// Module-local bindings for the per-value loops: inside jest's vm context a global lookup (`Math`)
// costs ~100 ns, which turns a calibration of seconds into minutes.
const { floor, min: minOf } = Math;

/** Magnitudes of one sign, in a histogram whose range doubles as larger values arrive. */
class MagnitudeHistogram {
  private readonly counts = new Float64Array(BINS);
  private top = 0;
  total = 0;

  add(values: Float32Array, sign: 1 | -1, batchMax: number): void {
    if (!(batchMax > 0)) return;
    if (this.top === 0) this.top = batchMax;
    while (batchMax > this.top) {
      // Merge pairs of bins: the histogram now spans twice the range.
      for (let i = 0; i < BINS / 2; i++) this.counts[i] = this.counts[2 * i]! + this.counts[2 * i + 1]!;
      this.counts.fill(0, BINS / 2);
      this.top *= 2;
    }
    const k = BINS / this.top;
    for (let i = 0; i < values.length; i++) {
      const v = values[i]! * sign;
      if (v > 0) {
        this.counts[minOf(BINS - 1, floor(v * k))]! += 1;
        this.total += 1;
      }
    }
  }

  /** Upper edge of the bin holding the p-th percentile (0 when the sign never occurred). */
  quantile(p: number): number {
    const want = (p / 100) * this.total;
    let sum = 0;
    for (let i = 0; i < BINS; i++) {
      sum += this.counts[i]!;
      if (sum >= want) return ((i + 1) * this.top) / BINS;
    }
    return this.top;
  }
}

/** Gathers one activation's range over calibration batches. */
export class RangeCollector {
  private min = Infinity;
  private max = -Infinity;
  private readonly positive: MagnitudeHistogram | undefined;
  private readonly negative: MagnitudeHistogram | undefined;

  constructor(private readonly options: Pick<CalibrationOptions, 'method' | 'percentile'>) {
    if (options.method === 'percentile') {
      this.positive = new MagnitudeHistogram();
      this.negative = new MagnitudeHistogram();
    }
  }

  add(values: Float32Array): void {
    let lo = Infinity;
    let hi = -Infinity;
    for (let i = 0; i < values.length; i++) {
      const v = values[i]!;
      if (v < lo) lo = v;
      if (v > hi) hi = v;
    }
    if (!Number.isFinite(lo) || !Number.isFinite(hi)) {
      if (values.length === 0) return;
      throw new RevmodError('MODEL_INVALID', 'the float model produced non-finite activations on a calibration image');
    }
    this.min = Math.min(this.min, lo);
    this.max = Math.max(this.max, hi);
    this.positive?.add(values, 1, hi);
    this.negative?.add(values, -1, -lo);
  }

  range(): ActivationRange {
    if (this.min > this.max) return { min: 0, max: 0 };
    if (!this.positive || !this.negative) return { min: this.min, max: this.max };
    const p = this.options.percentile;
    return {
      min: this.min < 0 ? Math.max(this.min, -this.negative.quantile(p)) : this.min,
      max: this.max > 0 ? Math.min(this.max, this.positive.quantile(p)) : this.max,
    };
  }
}

const IMAGE_FILE = /\.(jpe?g|png|webp|gif|tiff?|avif|heic|heif)$/i;

/**
 * Decodes the images of `dir` (sorted by name, at most `maxImages`) through the worker's decode task
 * with the card's preprocessing.
 * @throws RevmodError CONFIG_INVALID when `dir` is not a readable folder or holds no usable image.
 */
export async function loadCalibrationImages(dir: string, card: ModelCard, maxImages: number): Promise<CalibrationImages> {
  let names: string[];
  try {
    if (!(await stat(dir)).isDirectory()) throw new Error('not a folder');
    names = (await readdir(dir)).filter((f) => IMAGE_FILE.test(f)).sort();
  } catch (err) {
    throw new RevmodError('CONFIG_INVALID', `--calibrate ${dir}: not a readable folder of images (${(err as Error).message})`, { cause: err });
  }
  const tensors: Float32Array[] = [];
  const files: string[] = [];
  const skipped: Array<{ file: string; code: string; message: string }> = [];
  for (const name of names) {
    if (files.length >= maxImages) break;
    const out = await decode({
      bytes: await readFile(join(dir, name)), preprocess: { ...DEFAULT_DECODE_OPTIONS, ...cardInputGeometry(card) }, normalization: card.preprocessing,
      maxFrames: 1, detectors: {}, pdq: false,
    });
    if (!out.ok) {
      skipped.push({ file: name, code: out.code, message: out.message });
      continue;
    }
    tensors.push(out.tensors[0]!);
    files.push(name);
  }
  if (tensors.length === 0) {
    const why = names.length === 0 ? 'it holds no image files (.jpg, .png, .webp, …)' : `none of its ${names.length} image files could be decoded (${skipped.map((s) => `${s.file}: ${s.code}`).join(', ')})`;
    throw new RevmodError('CONFIG_INVALID', `--calibrate ${dir}: ${why}`);
  }
  return { tensors, files, skipped };
}

/** Stacks tensors into one [n, 3, H, W] batch. */
export function stackBatch(tensors: readonly Float32Array[], cropSize: number): ort.Tensor {
  const per = tensors[0]!.length;
  const data = new Float32Array(per * tensors.length);
  tensors.forEach((t, i) => data.set(t, i * per));
  return new ort.Tensor('float32', data, [tensors.length, 3, cropSize, cropSize]);
}

/**
 * Runs the float model (with the activations as outputs, see `withActivationOutputs`) over the
 * calibration tensors and returns each activation's range.
 */
export async function calibrateRanges(
  augmentedModel: Uint8Array,
  inputName: string,
  activations: readonly string[],
  images: readonly Float32Array[],
  cropSize: number,
  options: CalibrationOptions,
): Promise<Map<string, ActivationRange>> {
  const session = await ort.InferenceSession.create(augmentedModel, { graphOptimizationLevel: 'basic', executionProviders: ['cpu'] });
  try {
    const collectors = new Map(activations.map((a) => [a, new RangeCollector(options)]));
    for (let i = 0; i < images.length; i += options.batchSize) {
      const feeds = { [inputName]: stackBatch(images.slice(i, i + options.batchSize), cropSize) };
      const outputs = await session.run(feeds, [...activations]);
      for (const [name, collector] of collectors) collector.add(outputs[name]!.data as Float32Array);
    }
    return new Map([...collectors].map(([name, c]) => [name, c.range()]));
  } finally {
    await session.release();
  }
}
