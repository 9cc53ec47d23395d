import { z } from 'zod';
import { RevmodError } from '@revmod/client';

/** One entry of a tfjs `weightsManifest[].weights`. */
const weightSpecSchema = z.object({
  name: z.string().min(1),
  shape: z.array(z.number().int().nonnegative()),
  dtype: z.string(),
  quantization: z
    .object({
      dtype: z.string(),
      min: z.number().optional(),
      scale: z.number().optional(),
    })
    .optional(),
});

/** tfjs `weightsManifest`: groups of weights stored back to back across the group's shard files. */
export const weightsManifestSchema = z.array(z.object({ paths: z.array(z.string()).min(1), weights: z.array(weightSpecSchema) }));

export type WeightSpec = z.output<typeof weightSpecSchema>;
export type WeightsManifest = z.output<typeof weightsManifestSchema>;

/** A dequantised float32 weight with its tfjs shape (NHWC/HWIO order, as tfjs stores it). */
export interface Weight {
  readonly name: string;
  readonly shape: readonly number[];
  readonly data: Float32Array;
}

export function elementCount(shape: readonly number[]): number {
  return shape.reduce((a, b) => a * b, 1);
}

/** Bytes per stored value; only the encodings tfjs writes for float32 weights are accepted. */
function storedBytesPerValue(spec: WeightSpec, source: string): 1 | 2 | 4 {
  if (spec.dtype !== 'float32') {
    throw new RevmodError('MODEL_INVALID', `${source}: weight ${spec.name} has dtype ${spec.dtype}; only float32 weights are supported`);
  }
  const q = spec.quantization;
  if (q === undefined) return 4;
  if (q.dtype !== 'uint8' && q.dtype !== 'uint16') {
    throw new RevmodError('MODEL_INVALID', `${source}: weight ${spec.name} is quantised as ${q.dtype}; only uint8 and uint16 are supported`);
  }
  if (q.min === undefined || q.scale === undefined) {
    throw new RevmodError('MODEL_INVALID', `${source}: weight ${spec.name} is quantised as ${q.dtype} without min and scale`);
  }
  return q.dtype === 'uint8' ? 1 : 2;
}

/**
 * Decodes one manifest group's concatenated shard bytes into float32 weights. Quantised values are
 * restored as tfjs' own loader does (`q · scale + min`, computed in double and stored as float32),
 * so the weights are bit-identical to the ones nsfwjs runs with.
 * @param source named in error messages (the package directory, say).
 * @throws RevmodError MODEL_INVALID when the bytes do not match the manifest.
 */
export function decodeWeights(specs: readonly WeightSpec[], bytes: Uint8Array, source: string): Weight[] {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const out: Weight[] = [];
  let offset = 0;
  for (const spec of specs) {
    const count = elementCount(spec.shape);
    const width = storedBytesPerValue(spec, source);
    if (offset + count * width > bytes.byteLength) {
      throw new RevmodError('MODEL_INVALID', `${source}: weight data ends at byte ${bytes.byteLength}, before weight ${spec.name} (needs ${offset + count * width})`);
    }
    const data = new Float32Array(count);
    const q = spec.quantization;
    if (width === 4) {
      for (let i = 0; i < count; i++) data[i] = view.getFloat32(offset + 4 * i, true);
    } else {
      // Checked in storedBytesPerValue: quantised specs carry min and scale.
      const scale = q?.scale ?? 1;
      const min = q?.min ?? 0;
      for (let i = 0; i < count; i++) {
        const v = width === 1 ? view.getUint8(offset + i) : view.getUint16(offset + 2 * i, true);
        data[i] = v * scale + min;
      }
    }
    offset += count * width;
    out.push({ name: spec.name, shape: [...spec.shape], data });
  }
  if (offset !== bytes.byteLength) {
    throw new RevmodError('MODEL_INVALID', `${source}: manifest describes ${offset} bytes of weights, shards hold ${bytes.byteLength}`);
  }
  return out;
}

/** Looks weights up by name, each at most once, and says which were never used. */
export class WeightStore {
  private readonly byName = new Map<string, Weight>();
  private readonly used = new Set<string>();

  constructor(
    weights: Iterable<Weight>,
    private readonly source: string,
  ) {
    for (const w of weights) this.byName.set(w.name, w);
  }

  has(name: string): boolean {
    return this.byName.has(name);
  }

  /**
   * @param shape the expected shape; a mismatch throws.
   * @throws RevmodError MODEL_INVALID when the weight is missing or has another shape.
   */
  take(name: string, shape?: readonly number[]): Weight {
    const w = this.byName.get(name);
    if (w === undefined) throw new RevmodError('MODEL_INVALID', `${this.source}: weight ${name} is missing`);
    if (shape !== undefined && (shape.length !== w.shape.length || shape.some((d, i) => d !== w.shape[i]))) {
      throw new RevmodError('MODEL_INVALID', `${this.source}: weight ${name} has shape [${w.shape.join(',')}], expected [${shape.join(',')}]`);
    }
    this.used.add(name);
    return w;
  }

  /** Names of weights no converted op consumed (a sign the conversion dropped part of the model). */
  unused(): string[] {
    return [...this.byName.keys()].filter((n) => !this.used.has(n));
  }
}
