/**
 * What the image pool's threads do for one upload, in one place: hash the bytes, decode once, build
 * the model's normalized tensor per judged frame, and run the cheap detectors on views of the same
 * decode. Results travel back with their tensors transferred, never copied.
 */
import { createHash } from 'node:crypto';
import { toRevmodError, type ErrorCode } from '@revmod/client';
import { CHEAP_DETECTORS } from '../detectors/registry';
import type { Signal } from '../detectors/detector';
import { textGate, type TextGateOptions } from '../detectors/text/text-gate';
import type { GateResult } from '../detectors/types';
import { PDQ_DOWNSAMPLE_MAX_SIDE_PX } from '../known/pdq';
import { pdqOfView } from '../known/upload-pdq';
import { decodeImage, type PixelView } from '../preprocess/decode-image-views';
import { createChwNormalizer, writeNormalizedChw, type ChwNormalizer } from '../preprocess/normalize';
import type { NormalizationSpec, PreprocessOptions } from '../preprocess/preprocess-options';

export interface DecodeTask {
  /** The upload; its memory is moved into the pool. */
  readonly bytes: Uint8Array;
  /** Its sha256 (hex) when already computed (the known-images lookup hashes first); else hashed here. */
  readonly sha256?: string;
  readonly preprocess: PreprocessOptions;
  readonly normalization: NormalizationSpec;
  /** Frames of an animated image to judge. */
  readonly maxFrames: number;
  /** Cheap detectors to run, by name (see CHEAP_DETECTORS), with their options. */
  readonly detectors: Readonly<Record<string, Readonly<Record<string, unknown>>>>;
  /**
   * Run the text gate on the grey view and, where it passes, hand back an RGB view of this longest
   * side for OCR (which runs in its own pool, off the batch path). Unset: no text detection.
   */
  readonly text?: { readonly gate: Partial<TextGateOptions>; readonly ocrMaxSidePx: number } | undefined;
  /** Also compute the PDQ perceptual hash and its 7 dihedral variants (known-image lists). */
  readonly pdq: boolean;
  /** Also build the tensors of a shadow model (see ShadowInput); unset: none. */
  readonly shadow?: ShadowInput | undefined;
}

/**
 * How to build a shadow (challenger) model's tensors, decided once per champion by the scorer:
 * `copy` when the champion's tensors fit it (they are copied: the champion's own are moved to its
 * inference thread), `renormalize` the same crops when only the normalization differs, else
 * `decode` again with its own geometry.
 */
export type ShadowInput =
  | { readonly build: 'copy' }
  | { readonly build: 'renormalize'; readonly normalization: NormalizationSpec }
  | { readonly build: 'decode'; readonly preprocess: PreprocessOptions; readonly normalization: NormalizationSpec };

/** How a shadow model's tensors were built, cheapest first. */
export type ShadowBuild = 'copy' | 'renormalize' | 'decode';

/** The shadow model's tensors, one per judged frame, and their cost. */
export interface ShadowTensors {
  readonly tensors: readonly Float32Array[];
  readonly build: ShadowBuild;
  readonly buildMs: number;
}

/** PDQ of the upload as judged (upright, from the same decode), hex, with its quality (0–100). */
export interface PdqHashes {
  /** The image's hash first, then its 7 rotations and flips (the dihedral hashes). */
  readonly hashes: readonly string[];
  readonly quality: number;
}

export interface DecodeSuccess {
  readonly ok: true;
  /** sha256 of the bytes judged, hex. */
  readonly sha256: string;
  readonly format: string;
  /** Upright size of the image. */
  readonly width: number;
  readonly height: number;
  /** Frames in the image, and which were judged (one tensor each, in this order). */
  readonly pages: number;
  readonly frames: readonly number[];
  /** CHW float32, normalized as the card says: one per judged frame. */
  readonly tensors: readonly Float32Array[];
  readonly signals: readonly Signal[];
  /** The text gate's result, when text detection is on. */
  readonly textGate: GateResult | undefined;
  /** The view OCR reads, only where the text gate passed. */
  readonly ocrView: PixelView | undefined;
  readonly pdq: PdqHashes | undefined;
  /** The shadow model's tensors, when the task asked for them. */
  readonly shadow?: ShadowTensors | undefined;
  readonly decodeMs: number;
  readonly detectMs: number;
}

export interface DecodeFailure {
  readonly ok: false;
  readonly code: ErrorCode;
  readonly message: string;
  readonly sha256: string;
}

export type DecodeOutcome = DecodeSuccess | DecodeFailure;

/** sha256 of an upload, in a pool thread (hashing megabytes would cost the main thread milliseconds); the bytes go back. */
export function hash(task: { readonly bytes: Uint8Array }): { sha256: string; bytes: Uint8Array } {
  return { sha256: createHash('sha256').update(task.bytes).digest('hex'), bytes: task.bytes };
}

const normalizers = new Map<string, ChwNormalizer>();

function normalizerFor(spec: NormalizationSpec, cropSize: number): ChwNormalizer {
  const key = JSON.stringify([spec.mean, spec.std, spec.scale, cropSize]);
  let n = normalizers.get(key);
  if (!n) {
    n = createChwNormalizer({ ...spec, cropSize });
    normalizers.set(key, n);
  }
  return n;
}

function normalizeCrops(crops: readonly Buffer[], normalizer: ChwNormalizer): Float32Array[] {
  return crops.map((crop) => {
    const tensor = new Float32Array(normalizer.floatsPerImage);
    writeNormalizedChw(crop, tensor, 0, normalizer);
    return tensor;
  });
}

/** The shadow model's tensors, by the cheapest way its input allows. */
async function shadowTensors(
  input: ShadowInput, bytes: Buffer, tensors: readonly Float32Array[], crops: readonly Buffer[], task: DecodeTask,
): Promise<ShadowTensors> {
  const t0 = performance.now();
  if (input.build === 'copy') return { tensors: tensors.map((t) => t.slice()), build: 'copy', buildMs: performance.now() - t0 };
  if (input.build === 'renormalize') {
    return { tensors: normalizeCrops(crops, normalizerFor(input.normalization, task.preprocess.cropSize)), build: 'renormalize', buildMs: performance.now() - t0 };
  }
  const normalizer = normalizerFor(input.normalization, input.preprocess.cropSize);
  const own = await decodeImage(bytes, input.preprocess, { greyMaxSide: 0, rgbMaxSide: 0, maxFrames: task.maxFrames });
  return { tensors: normalizeCrops(own.crops, normalizer), build: 'decode', buildMs: performance.now() - t0 };
}

/** Runs in a pool thread. Never throws for the image's sake: a bad image is a DecodeFailure. */
export async function decode(task: DecodeTask): Promise<DecodeOutcome> {
  const bytes = Buffer.from(task.bytes.buffer, task.bytes.byteOffset, task.bytes.byteLength);
  const sha256 = task.sha256 ?? createHash('sha256').update(bytes).digest('hex');
  const detectors = Object.entries(task.detectors).map(([name, options]) => {
    const detector = CHEAP_DETECTORS[name];
    if (!detector) throw new Error(`unknown detector ${JSON.stringify(name)}`);
    return { detector, options };
  });
  const needs = detectors.map(({ detector, options }) => detector.needs(options));
  const t0 = performance.now();
  try {
    const decoded = await decodeImage(bytes, task.preprocess, {
      greyMaxSide: Math.max(task.text ? textGate.view.maxSidePx : 0, ...needs.map((n) => n.greyMaxSide)),
      rgbMaxSide: Math.max(task.pdq ? PDQ_DOWNSAMPLE_MAX_SIDE_PX : 0, ...needs.map((n) => n.rgbMaxSide)),
      maxFrames: task.maxFrames,
    });
    const normalizer = normalizerFor(task.normalization, task.preprocess.cropSize);
    const tensors = normalizeCrops(decoded.crops, normalizer);
    const t1 = performance.now();
    const shadow = task.shadow ? await shadowTensors(task.shadow, bytes, tensors, decoded.crops, task) : undefined;
    const t1s = performance.now();
    const views = { grey: decoded.grey, rgb: decoded.rgb };
    const signals: Signal[] = [];
    for (const { detector, options } of detectors) signals.push(...(await detector.detect(views, options)));
    const pdq = task.pdq && decoded.rgb ? await pdqOfView(decoded.rgb) : undefined;
    let gate: GateResult | undefined;
    let ocrView: PixelView | undefined;
    if (task.text && decoded.grey) {
      gate = await textGate.check(decoded.grey, task.text.gate);
      if (gate.pass) {
        const view = await decoded.viewOf('rgb', task.text.ocrMaxSidePx);
        // A copy the pool owns outright, so that it can be transferred (libvips' output buffers may not be).
        ocrView = { ...view, data: new Uint8Array(view.data) };
      }
    }
    const t2 = performance.now();
    return {
      ok: true, sha256, format: decoded.header.format,
      width: decoded.plan.upright.width, height: decoded.plan.upright.height,
      pages: decoded.header.pages, frames: decoded.frames, tensors, signals, textGate: gate, ocrView,
      pdq, shadow,
      decodeMs: t1 - t0, detectMs: t2 - t1s,
    };
  } catch (err) {
    const e = toRevmodError(err);
    return { ok: false, code: e.code, message: e.message, sha256 };
  }
}
