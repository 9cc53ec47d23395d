import { CHANNELS, CROP_SIZE, DEFAULT_SCALE, IMAGENET_MEAN, IMAGENET_STD, tensorFloatsPerImage } from './constants';
import type { NormalizationSpec } from './preprocess-options';
import { validateNormalization } from './validate-options';

/** A model's normalisation, precomputed: build one per model card and reuse it for every image. */
export interface ChwNormalizer {
  /** Side of the square crop it writes. */
  readonly cropSize: number;
  /** Floats one image takes in the batch tensor: 3 × cropSize². */
  readonly floatsPerImage: number;
  /** LUT[c · 256 + level]: the tensor value of an 8-bit level in channel c (0 R, 1 G, 2 B). */
  readonly lut: Float32Array;
}

/**
 * Builds the per-channel tables for value = (level · scale − mean[c]) / std[c], evaluated in float32
 * step by step. With scale 1/255 the first step is level / 255, exactly as torchvision's ToTensor
 * divides a float32 tensor by 255 (and Normalize then subtracts and divides by float32 mean/std),
 * so the values are bit-identical to PyTorch's; any other scale is a float32 multiplication.
 * @throws RevmodError CONFIG_INVALID naming a bad mean, std, scale or cropSize.
 */
export function createChwNormalizer(spec: NormalizationSpec & { readonly cropSize: number }): ChwNormalizer {
  validateNormalization(spec, spec.cropSize);
  const lut = new Float32Array(CHANNELS * 256);
  const scale = Math.fround(spec.scale);
  const scaled = spec.scale === DEFAULT_SCALE ? (v: number) => Math.fround(v / 255) : (v: number) => Math.fround(v * scale);
  for (let c = 0; c < CHANNELS; c++) {
    const mean = Math.fround(spec.mean[c]!);
    const std = Math.fround(spec.std[c]!);
    for (let v = 0; v < 256; v++) {
      lut[c * 256 + v] = Math.fround(Math.fround(scaled(v) - mean) / std);
    }
  }
  return { cropSize: spec.cropSize, floatsPerImage: tensorFloatsPerImage(spec.cropSize), lut };
}

/** The default card's normalisation: 224 × 224, ImageNet mean and std, scale 1/255. */
export const DEFAULT_CHW_NORMALIZER: ChwNormalizer = createChwNormalizer({
  mean: IMAGENET_MEAN,
  std: IMAGENET_STD,
  scale: DEFAULT_SCALE,
  cropSize: CROP_SIZE,
});

/** The normalized value of 8-bit level `value` in channel `channel` (0 R, 1 G, 2 B). */
export function normalizedValue(channel: number, value: number, normalizer: ChwNormalizer = DEFAULT_CHW_NORMALIZER): number {
  return normalizer.lut[channel * 256 + value] ?? Number.NaN;
}

/**
 * Writes one image's normalized CHW tensor (3 × cropSize × cropSize float32) straight into `target`
 * (typically the shared batch tensor) starting at float index `offsetFloats`. `rgb` is the HWC RGB
 * crop from `preprocessImage`. Nothing outside [offset, offset + floatsPerImage) is touched and
 * nothing is allocated.
 */
export function writeNormalizedChw(
  rgb: Uint8Array,
  target: Float32Array,
  offsetFloats: number,
  normalizer: ChwNormalizer = DEFAULT_CHW_NORMALIZER,
): void {
  const n = normalizer.cropSize;
  const plane = n * n;
  const floats = normalizer.floatsPerImage;
  if (rgb.length !== plane * CHANNELS) {
    throw new RangeError(`writeNormalizedChw: expected ${plane * CHANNELS} bytes of ${n}×${n} RGB, got ${rgb.length}`);
  }
  if (!Number.isInteger(offsetFloats) || offsetFloats < 0 || offsetFloats + floats > target.length) {
    throw new RangeError(`writeNormalizedChw: offset ${offsetFloats} + ${floats} floats does not fit a tensor of ${target.length}`);
  }
  const lut = normalizer.lut;
  const r0 = offsetFloats;
  const g0 = offsetFloats + plane;
  const b0 = offsetFloats + 2 * plane;
  for (let i = 0, p = 0; i < plane; i++, p += 3) {
    // Indices are in range by construction (bytes index 256-entry tables; lengths checked above).
    target[r0 + i] = lut[rgb[p]!]!;
    target[g0 + i] = lut[256 + rgb[p + 1]!]!;
    target[b0 + i] = lut[512 + rgb[p + 2]!]!;
  }
}
