/**
 * Proves a conversion: the same 224×224 pixels go to nsfwjs itself (tfjs CPU) and to the converted
 * ONNX (onnxruntime), and the class probabilities must agree within a tolerance.
 */
import * as ort from 'onnxruntime-node';
import sharp from 'sharp';
import { SeededRandom } from '../util/seeded-random';
import { NSFWJS_CLASSES, type NsfwjsVariant, type ParityRecord } from './nsfwjs';
import { loadNsfwjsReference, type NsfwjsReference } from './nsfwjs-reference';

const IMAGE_SIZE = 224;
const PLANE = IMAGE_SIZE * IMAGE_SIZE;
const RGB_BYTES = PLANE * 3;
const CLASS_COUNT = NSFWJS_CLASSES.length;
/** The bound the issue sets on |p_onnx − p_nsfwjs|. */
export const PARITY_TOLERANCE = 1e-4;

/** One check input: 224×224 RGB, HWC bytes. */
export interface CheckImage {
  readonly name: string;
  readonly rgb: Uint8Array;
}

/**
 * A photo as nsfwjs' input: upright (EXIF orientation applied), RGB, squashed to 224×224 as the
 * card's `resize: "squash"` says. Any resampler will do for a parity check, since both models get
 * the same bytes.
 */
export async function photoToCheckImage(name: string, bytes: Uint8Array): Promise<CheckImage> {
  const rgb = await sharp(bytes).rotate().removeAlpha().toColourspace('srgb').resize(IMAGE_SIZE, IMAGE_SIZE, { fit: 'fill' }).raw().toBuffer();
  return { name, rgb: new Uint8Array(rgb.buffer, rgb.byteOffset, rgb.byteLength) };
}

/** Pixels × 1/255 as float32 in NCHW, exactly as nsfwjs computes them (`toFloat().div(255)`). */
export function scaledNchw(images: readonly CheckImage[]): Float32Array {
  const out = new Float32Array(images.length * 3 * PLANE);
  images.forEach((img, n) => {
    if (img.rgb.length !== RGB_BYTES) throw new RangeError(`${img.name}: expected ${RGB_BYTES} bytes of 224×224 RGB, got ${img.rgb.length}`);
    const base = n * 3 * PLANE;
    for (let i = 0; i < PLANE; i++) {
      for (let c = 0; c < 3; c++) out[base + c * PLANE + i] = (img.rgb[i * 3 + c] as number) / 255;
    }
  });
  return out;
}

/** Row-wise softmax of [N, classes] logits (max-shifted, in double precision). */
export function softmaxRows(logits: Float32Array, classes: number): Float32Array[] {
  const rows: Float32Array[] = [];
  for (let r = 0; r * classes < logits.length; r++) {
    const row = logits.subarray(r * classes, (r + 1) * classes);
    const max = Math.max(...row);
    const e = Array.from(row, (z) => Math.exp(z - max));
    const sum = e.reduce((a, b) => a + b, 0);
    rows.push(Float32Array.from(e, (v) => v / sum));
  }
  return rows;
}

/** Class probabilities from the converted model: logits from onnxruntime, then softmax. */
export async function convertedProbabilities(session: ort.InferenceSession, images: readonly CheckImage[], batchSize = 8): Promise<Float32Array[]> {
  const out: Float32Array[] = [];
  for (let i = 0; i < images.length; i += batchSize) {
    const batch = images.slice(i, i + batchSize);
    const result = await session.run({ input: new ort.Tensor('float32', scaledNchw(batch), [batch.length, 3, IMAGE_SIZE, IMAGE_SIZE]) });
    const logits = result['logits'];
    if (logits === undefined) throw new Error('the converted model has no `logits` output');
    out.push(...softmaxRows(logits.data as Float32Array, CLASS_COUNT));
  }
  return out;
}

export interface ParityRow {
  readonly name: string;
  readonly reference: Float32Array;
  readonly converted: Float32Array;
  /** max |p_onnx − p_nsfwjs| over the classes. */
  readonly maxAbsDiff: number;
  /** max |ln p_onnx − ln p_nsfwjs| over classes with p_nsfwjs ≥ {@link LOG_FLOOR}: still telling when one class takes ~all the mass. */
  readonly maxAbsDiffLog: number;
}

/** Probabilities below this are left out of the log comparison (float32 softmax tails are noise). */
export const LOG_FLOOR = 1e-6;

function compareRow(name: string, reference: Float32Array, converted: Float32Array): ParityRow {
  let maxAbsDiff = 0;
  let maxAbsDiffLog = 0;
  reference.forEach((p, k) => {
    const q = converted[k] as number;
    maxAbsDiff = Math.max(maxAbsDiff, Math.abs(p - q));
    if (p >= LOG_FLOOR) maxAbsDiffLog = Math.max(maxAbsDiffLog, Math.abs(Math.log(p) - Math.log(q)));
  });
  return { name, reference, converted, maxAbsDiff, maxAbsDiffLog };
}

export interface ParityReport extends ParityRecord {
  readonly variant: NsfwjsVariant;
  readonly rows: readonly ParityRow[];
  readonly passed: boolean;
}

export interface ParityCheckOptions {
  readonly variant: NsfwjsVariant;
  /** The converted model: its bytes or its path. */
  readonly onnx: Uint8Array | string;
  readonly images: readonly CheckImage[];
  /** Where the images come from, for the record. */
  readonly inputs: string;
  /** A loaded nsfwjs (reused across checks); default: one is loaded and disposed here. */
  readonly reference?: NsfwjsReference;
  /** nsfwjs' version, for loading the reference. Required when `reference` is not given. */
  readonly nsfwjsVersion?: string;
  /** Default {@link PARITY_TOLERANCE}. */
  readonly tolerance?: number;
  /** Called after each image (progress; nsfwjs takes 1–2 s per image). */
  readonly onImage?: (row: ParityRow, index: number) => void;
}

/**
 * Runs both models on the images and compares their probabilities.
 * @throws RevmodError MODEL_IMPORT_UNAVAILABLE when nsfwjs or tfjs is not installed.
 */
export async function checkNsfwjsParity(options: ParityCheckOptions): Promise<ParityReport> {
  const tolerance = options.tolerance ?? PARITY_TOLERANCE;
  if (options.images.length === 0) throw new RangeError('checkNsfwjsParity: images must not be empty');
  const sessionOptions = { intraOpNumThreads: 1 };
  const session = typeof options.onnx === 'string'
    ? await ort.InferenceSession.create(options.onnx, sessionOptions)
    : await ort.InferenceSession.create(options.onnx, sessionOptions);
  let reference = options.reference;
  if (reference === undefined) {
    if (options.nsfwjsVersion === undefined) throw new RangeError('checkNsfwjsParity: nsfwjsVersion is required without a reference');
    reference = await loadNsfwjsReference(options.variant, options.nsfwjsVersion);
  }
  try {
    const converted = await convertedProbabilities(session, options.images);
    const rows: ParityRow[] = [];
    for (const [i, img] of options.images.entries()) {
      const row = compareRow(img.name, await reference.probabilities(img.rgb), converted[i] as Float32Array);
      rows.push(row);
      options.onImage?.(row, i);
    }
    const maxAbsDiffProbability = Math.max(...rows.map((r) => r.maxAbsDiff));
    return {
      maxAbsDiffLogProbability: Math.max(...rows.map((r) => r.maxAbsDiffLog)),
      variant: options.variant,
      reference: reference.description,
      images: rows.length,
      inputs: options.inputs,
      maxAbsDiffProbability,
      tolerance,
      rows,
      passed: maxAbsDiffProbability <= tolerance,
    };
  } finally {
    if (options.reference === undefined) reference.dispose();
    await session.release();
  }
}

/**
 * Deterministic 224×224 test images for a self-check where no photos are at hand: smooth colour
 * gradients with blobs and noise, so every channel and spatial frequency band is exercised.
 */
export function syntheticCheckImages(count: number, seed = 1): CheckImage[] {
  const rng = new SeededRandom(seed);
  const images: CheckImage[] = [];
  for (let n = 0; n < count; n++) {
    const rgb = new Uint8Array(RGB_BYTES);
    const base = [0, 1, 2].map(() => [rng.next() * 255, (rng.next() - 0.5) * 2, (rng.next() - 0.5) * 2]);
    const blobs = Array.from({ length: 4 }, () => ({ x: rng.next() * IMAGE_SIZE, y: rng.next() * IMAGE_SIZE, r: 10 + rng.next() * 60, c: [rng.next(), rng.next(), rng.next()].map((v) => v * 255) }));
    const noise = rng.next() * 40;
    for (let y = 0; y < IMAGE_SIZE; y++) {
      for (let x = 0; x < IMAGE_SIZE; x++) {
        const blob = blobs.find((b) => (x - b.x) ** 2 + (y - b.y) ** 2 < b.r ** 2);
        for (let c = 0; c < 3; c++) {
          const [level, gx, gy] = base[c] as number[];
          const v = blob === undefined ? (level as number) + (gx as number) * x + (gy as number) * y : (blob.c[c] as number);
          rgb[(y * IMAGE_SIZE + x) * 3 + c] = Math.max(0, Math.min(255, Math.round(v + (rng.next() - 0.5) * noise)));
        }
      }
    }
    images.push({ name: `synthetic-${seed}-${n}`, rgb });
  }
  return images;
}
