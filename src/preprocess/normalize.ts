import { CHANNELS, CROP_SIZE, IMAGENET_MEAN, IMAGENET_STD, TENSOR_FLOATS_PER_IMAGE } from './constants';

const PLANE = CROP_SIZE * CROP_SIZE;
const RGB_BYTES = PLANE * CHANNELS;

/**
 * One 256-entry table per channel: LUT[c * 256 + v] = (v / 255 − mean[c]) / std[c], evaluated in
 * float32 step by step exactly as torchvision does (ToTensor divides a float32 tensor by 255,
 * Normalize subtracts and divides by float32 mean/std), so the values are bit-identical to PyTorch's.
 */
const LUT: Float32Array = (() => {
  const lut = new Float32Array(CHANNELS * 256);
  for (let c = 0; c < CHANNELS; c++) {
    const mean = Math.fround(IMAGENET_MEAN[c] ?? 0);
    const std = Math.fround(IMAGENET_STD[c] ?? 1);
    for (let v = 0; v < 256; v++) {
      lut[c * 256 + v] = Math.fround(Math.fround(Math.fround(v / 255) - mean) / std);
    }
  }
  return lut;
})();

/** The normalized value of 8-bit level `value` in channel `channel` (0 R, 1 G, 2 B). */
export function normalizedValue(channel: number, value: number): number {
  return LUT[channel * 256 + value] ?? Number.NaN;
}

/**
 * Writes one image's ImageNet-normalized CHW tensor (3 × 224 × 224 float32) straight into `target`
 * (typically the shared batch tensor) starting at float index `offsetFloats`. `rgb` is the 224×224
 * HWC RGB crop from `preprocessImage`. Nothing outside [offset, offset + 150528) is touched and
 * nothing is allocated.
 */
export function writeNormalizedChw(rgb: Uint8Array, target: Float32Array, offsetFloats: number): void {
  if (rgb.length !== RGB_BYTES) {
    throw new RangeError(`writeNormalizedChw: expected ${RGB_BYTES} bytes of 224×224 RGB, got ${rgb.length}`);
  }
  if (!Number.isInteger(offsetFloats) || offsetFloats < 0 || offsetFloats + TENSOR_FLOATS_PER_IMAGE > target.length) {
    throw new RangeError(
      `writeNormalizedChw: offset ${offsetFloats} + ${TENSOR_FLOATS_PER_IMAGE} floats does not fit a tensor of ${target.length}`,
    );
  }
  const lut = LUT;
  const r0 = offsetFloats;
  const g0 = offsetFloats + PLANE;
  const b0 = offsetFloats + 2 * PLANE;
  for (let i = 0, p = 0; i < PLANE; i++, p += 3) {
    // Indices are in range by construction (bytes index 256-entry tables; lengths checked above).
    target[r0 + i] = lut[rgb[p]!]!;
    target[g0 + i] = lut[256 + rgb[p + 1]!]!;
    target[b0 + i] = lut[512 + rgb[p + 2]!]!;
  }
}
