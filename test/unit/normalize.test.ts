import { RevmodError } from '@revmod/client';
import { CROP_SIZE, IMAGENET_MEAN, IMAGENET_STD, TENSOR_FLOATS_PER_IMAGE } from '../../src/preprocess/constants';
import { createChwNormalizer, DEFAULT_CHW_NORMALIZER, normalizedValue, writeNormalizedChw } from '../../src/preprocess/normalize';

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

describe('createChwNormalizer: the card\'s mean, std, scale and crop size', () => {
  const levels = Uint8Array.from({ length: 256 }, (_, v) => v);

  test('the default card\'s normaliser is the ImageNet one at 224', () => {
    const card = createChwNormalizer({ mean: [0.485, 0.456, 0.406], std: [0.229, 0.224, 0.225], scale: 1 / 255, cropSize: 224 });
    expect(card.lut).toEqual(DEFAULT_CHW_NORMALIZER.lut);
    expect(card.floatsPerImage).toBe(TENSOR_FLOATS_PER_IMAGE);
  });

  test('mean 0, std 1, scale 1/255 (nsfwjs-style input): level / 255 in float32', () => {
    const n = createChwNormalizer({ mean: [0, 0, 0], std: [1, 1, 1], scale: 1 / 255, cropSize: 224 });
    for (const v of levels) for (let c = 0; c < 3; c++) expect(normalizedValue(c, v, n)).toBe(Math.fround(v / 255));
    expect(normalizedValue(0, 255, n)).toBe(1);
  });

  test('scale 1/127.5, mean 1, std 1 (the [−1, 1] convention): a float32 multiply, then subtract', () => {
    const n = createChwNormalizer({ mean: [1, 1, 1], std: [1, 1, 1], scale: 1 / 127.5, cropSize: 224 });
    const scale = Math.fround(1 / 127.5);
    for (const v of levels) expect(normalizedValue(1, v, n)).toBe(Math.fround(Math.fround(v * scale) - 1));
    expect(normalizedValue(0, 0, n)).toBe(-1);
    expect(normalizedValue(2, 255, n)).toBeCloseTo(1, 6);
  });

  test('per-channel values in pixel units (scale 1, Caffe-style mean), each channel its own table', () => {
    const n = createChwNormalizer({ mean: [123.675, 116.28, 103.53], std: [58.395, 57.12, 57.375], scale: 1, cropSize: 224 });
    for (const v of [0, 1, 128, 255]) {
      expect(normalizedValue(0, v, n)).toBe(Math.fround(Math.fround(v - Math.fround(123.675)) / Math.fround(58.395)));
      expect(normalizedValue(2, v, n)).toBe(Math.fround(Math.fround(v - Math.fround(103.53)) / Math.fround(57.375)));
    }
    expect(Math.abs(normalizedValue(1, 128, n) - (128 - 116.28) / 57.12)).toBeLessThan(1e-6);
  });

  test('another crop size: 3 × n² floats per image, CHW, and only that many', () => {
    const size = 160;
    const n = createChwNormalizer({ mean: [0, 0, 0], std: [1, 1, 1], scale: 1 / 255, cropSize: size });
    expect(n.floatsPerImage).toBe(3 * size * size);
    const rgb = new Uint8Array(size * size * 3);
    for (let i = 0; i < size * size; i++) rgb.set([i % 256, (i >> 3) % 256, 255 - (i % 256)], i * 3);
    const target = new Float32Array(2 * n.floatsPerImage + 5).fill(-9);
    writeNormalizedChw(rgb, target, n.floatsPerImage, n);
    expect(target.subarray(0, n.floatsPerImage).every((x) => x === -9)).toBe(true);
    expect(target.subarray(2 * n.floatsPerImage).every((x) => x === -9)).toBe(true);
    const plane = size * size;
    const pixel = 1234;
    const at = (c: number) => target[n.floatsPerImage + c * plane + pixel]!;
    expect([at(0), at(1), at(2)]).toEqual([Math.fround((pixel % 256) / 255), Math.fround(((pixel >> 3) % 256) / 255), Math.fround((255 - (pixel % 256)) / 255)]);
    expect(() => writeNormalizedChw(sampleRgb(), target, 0, n)).toThrow(/expected 76800 bytes of 160×160 RGB, got 150528/);
  });

  test.each([
    ['std.1', { mean: [0, 0, 0], std: [1, 0, 1], scale: 1, cropSize: 224 }],
    ['mean', { mean: [0, 0], std: [1, 1, 1], scale: 1, cropSize: 224 }],
    ['scale', { mean: [0, 0, 0], std: [1, 1, 1], scale: -1, cropSize: 224 }],
    ['cropSize', { mean: [0, 0, 0], std: [1, 1, 1], scale: 1, cropSize: 0 }],
  ])('refuses a bad %s with CONFIG_INVALID naming it and the value', (field, spec) => {
    const err = (() => {
      try {
        createChwNormalizer(spec as unknown as Parameters<typeof createChwNormalizer>[0]);
      } catch (e) {
        return e;
      }
      return undefined;
    })();
    expect(err).toBeInstanceOf(RevmodError);
    expect(err).toMatchObject({ code: 'CONFIG_INVALID', message: expect.stringContaining(field) });
  });
});
