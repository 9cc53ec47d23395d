import { CROP_SIZE, IMAGENET_MEAN, IMAGENET_STD, TENSOR_FLOATS_PER_IMAGE } from '../../src/preprocess/constants';
import { normalizedValue, writeNormalizedChw } from '../../src/preprocess/normalize';

const PLANE = CROP_SIZE * CROP_SIZE;

function sampleRgb(): Uint8Array {
  const rgb = new Uint8Array(PLANE * 3);
  for (let i = 0; i < rgb.length; i++) rgb[i] = (i * 31 + (i >> 7)) & 0xff;
  return rgb;
}

describe('writeNormalizedChw', () => {
  test('writes exactly 3×224×224 floats at the offset and leaves the rest of the batch tensor untouched', () => {
    const rgb = sampleRgb();
    const offset = TENSOR_FLOATS_PER_IMAGE + 17; // second slot of a batch, plus an odd shift
    const target = new Float32Array(3 * TENSOR_FLOATS_PER_IMAGE).fill(-999);
    writeNormalizedChw(rgb, target, offset);
    let touchedOutside = 0;
    for (let i = 0; i < offset; i++) if (target[i] !== -999) touchedOutside++;
    for (let i = offset + TENSOR_FLOATS_PER_IMAGE; i < target.length; i++) if (target[i] !== -999) touchedOutside++;
    let written = 0;
    for (let i = offset; i < offset + TENSOR_FLOATS_PER_IMAGE; i++) if (target[i] !== -999) written++;
    expect(touchedOutside).toBe(0);
    expect(written).toBe(TENSOR_FLOATS_PER_IMAGE);
  });

  test('values are (x/255 − mean)/std in CHW order, as torchvision computes them in float32', () => {
    const rgb = sampleRgb();
    const target = new Float32Array(TENSOR_FLOATS_PER_IMAGE);
    writeNormalizedChw(rgb, target, 0);
    for (let c = 0; c < 3; c++) {
      const mean = IMAGENET_MEAN[c]!;
      const std = IMAGENET_STD[c]!;
      const meanF = Math.fround(mean);
      const stdF = Math.fround(std);
      for (let y = 0; y < CROP_SIZE; y += 7) {
        for (let x = 0; x < CROP_SIZE; x += 5) {
          const v = rgb[(y * CROP_SIZE + x) * 3 + c]!;
          const got = target[c * PLANE + y * CROP_SIZE + x]!;
          // Mathematically: within float32 rounding of the double-precision formula.
          expect(Math.abs(got - (v / 255 - mean) / std)).toBeLessThan(1e-6);
          // Bit-exact with PyTorch: ToTensor (float32 /255), then Normalize (float32 sub, div).
          expect(got).toBe(Math.fround(Math.fround(Math.fround(v / 255) - meanF) / stdF));
        }
      }
    }
  });

  test('extreme levels map to the ImageNet range ends', () => {
    expect(normalizedValue(0, 0)).toBeCloseTo(-0.485 / 0.229, 5);
    expect(normalizedValue(2, 255)).toBeCloseTo((1 - 0.406) / 0.225, 5);
    const rgb = new Uint8Array(PLANE * 3).fill(255);
    const target = new Float32Array(TENSOR_FLOATS_PER_IMAGE);
    writeNormalizedChw(rgb, target, 0);
    expect(target[0]).toBeCloseTo((1 - 0.485) / 0.229, 5);
    expect(target[PLANE]).toBeCloseTo((1 - 0.456) / 0.224, 5);
    expect(target[2 * PLANE + PLANE - 1]).toBeCloseTo((1 - 0.406) / 0.225, 5);
  });

  test('refuses a wrong-sized crop or an offset that does not fit', () => {
    const target = new Float32Array(TENSOR_FLOATS_PER_IMAGE * 2);
    expect(() => writeNormalizedChw(new Uint8Array(100), target, 0)).toThrow(RangeError);
    expect(() => writeNormalizedChw(sampleRgb(), target, TENSOR_FLOATS_PER_IMAGE + 1)).toThrow(RangeError);
    expect(() => writeNormalizedChw(sampleRgb(), target, -1)).toThrow(RangeError);
    expect(() => writeNormalizedChw(sampleRgb(), target, 0.5)).toThrow(RangeError);
  });
});
