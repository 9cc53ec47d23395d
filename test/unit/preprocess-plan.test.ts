/**
 * The preprocessing plan computed from an image's header: torchvision's resize size and centre
 * crop for 'crop' at any short side, a plain square for 'squash', the crop mapped into the stored
 * orientation, and the decode path.
 */
import { RevmodError } from '@revmod/client';
import { planPreprocess, torchvisionResizeSize, centreCropOffset } from '../../src/preprocess/plan';
import { DEFAULT_PREPROCESS_OPTIONS, type PreprocessOptions } from '../../src/preprocess/preprocess-options';
import type { ImageHeader } from '../../src/preprocess/read-header';
import { validatePreprocessOptions } from '../../src/preprocess/validate-options';

const header = (width: number, height: number, extra: Partial<ImageHeader> = {}): ImageHeader => ({
  format: 'jpeg', space: 'srgb', hasAlpha: false, width, height, orientation: 1, pages: 1, ...extra,
});
const crop288: PreprocessOptions = { ...DEFAULT_PREPROCESS_OPTIONS, resizeShortSide: 288 };
const squash = (cropSize = 224): PreprocessOptions => ({ ...DEFAULT_PREPROCESS_OPTIONS, resize: 'squash', cropSize });

describe('crop: Resize(resizeShortSide) → CenterCrop(cropSize)', () => {
  test('the default short side is 256, and 288 gives another resize and crop', () => {
    const h = header(1080, 920);
    const at256 = planPreprocess(h, DEFAULT_PREPROCESS_OPTIONS);
    const at288 = planPreprocess(h, crop288);
    // Python: int(256 * 1080 / 920) = 300, round((300 - 224) / 2) = 38, round((256 - 224) / 2) = 16.
    expect(at256.resizeTo).toEqual({ width: 300, height: 256 });
    expect(at256.crop).toEqual({ left: 38, top: 16, width: 224, height: 224 });
    // int(288 * 1080 / 920) = 338, round(114 / 2) = 57, round(64 / 2) = 32.
    expect(at288.resizeTo).toEqual({ width: 338, height: 288 });
    expect(at288.crop).toEqual({ left: 57, top: 32, width: 224, height: 224 });
  });

  test('torchvision sizes and banker\'s rounding of the offset at any short side', () => {
    expect(torchvisionResizeSize(451, 300, 288)).toEqual({ width: 432, height: 288 }); // int(288·451/300) = 432.96 → 432
    expect(torchvisionResizeSize(300, 451, 288)).toEqual({ width: 288, height: 432 });
    expect(centreCropOffset(301, 224)).toBe(38); // round(38.5) = 38 (even)
    expect(centreCropOffset(303, 224)).toBe(40); // round(39.5) = 40 (even)
    expect(centreCropOffset(320, 240)).toBe(40);
  });

  test('a crop size other than 224', () => {
    const p = planPreprocess(header(640, 480), { ...DEFAULT_PREPROCESS_OPTIONS, resizeShortSide: 320, cropSize: 300 });
    expect(p.resizeTo).toEqual({ width: 426, height: 320 });
    expect(p.crop).toEqual({ left: 63, top: 10, width: 300, height: 300 });
  });

  test('EXIF 6: sized and cropped upright, resized in the stored frame with the crop mapped into it', () => {
    const p = planPreprocess(header(1440, 1080, { orientation: 6 }), crop288);
    expect(p.upright).toEqual({ width: 1080, height: 1440 });
    expect(p.applied).toBe(6);
    // Upright: 288 × int(288·1440/1080) = 288 × 384, crop at (32, 80); stored frame 384 × 288.
    expect(p.resizeTo).toEqual({ width: 384, height: 288 });
    expect(p.crop).toEqual({ left: 80, top: 288 - 32 - 224, width: 224, height: 224 });
    const off = planPreprocess(header(1440, 1080, { orientation: 6 }), { ...crop288, autoOrient: false });
    expect([off.applied, off.orientation, off.upright]).toEqual([1, 6, { width: 1440, height: 1080 }]);
  });

  test('an aspect ratio whose resized image would pass maxPixels is IMAGE_TOO_LARGE, naming the short side', () => {
    expect(() => planPreprocess(header(100_000, 10), { ...crop288, maxPixels: 2_000_000 }))
      .toThrow(expect.objectContaining({ code: 'IMAGE_TOO_LARGE', message: expect.stringMatching(/288-pixel short side gives 2880000×288/) }));
  });
});

describe('squash: PIL resize((cropSize, cropSize)), nothing cut', () => {
  test('any aspect ratio becomes the square, whole', () => {
    for (const [w, h] of [[1080, 920], [451, 300], [300, 4000], [224, 224], [50, 40]] as const) {
      const p = planPreprocess(header(w, h), squash());
      expect([p.resizeTo, p.crop]).toEqual([{ width: 224, height: 224 }, { left: 0, top: 0, width: 224, height: 224 }]);
    }
    expect(planPreprocess(header(1080, 920), squash(160)).crop).toEqual({ left: 0, top: 0, width: 160, height: 160 });
  });

  test('an extreme aspect ratio is fine: the square is small', () => {
    expect(planPreprocess(header(100_000, 10), { ...squash(), maxPixels: 2_000_000 }).resizeTo).toEqual({ width: 224, height: 224 });
  });

  test('orientation 5–8: upright size transposed, the whole square still taken', () => {
    const p = planPreprocess(header(400, 600, { orientation: 6 }), squash());
    expect(p.upright).toEqual({ width: 600, height: 400 });
    expect([p.resizeTo, p.crop]).toEqual([{ width: 224, height: 224 }, { left: 0, top: 0, width: 224, height: 224 }]);
  });
});

describe('decode path (the rule in decode-paths.ts)', () => {
  test.each([
    ['JPEG 1080×920, squash 224 (DCT shrink 2, 2.05× left)', header(1080, 920), squash(), 'exact'],
    ['JPEG 4032×3024, squash 224 (DCT shrink 4)', header(4032, 3024), squash(), 'sharp'],
    ['JPEG 600×400, squash 224 (under 4×)', header(600, 400), squash(), 'sharp'],
    ['JPEG 1080×1080, crop 256 (4.2×)', header(1080, 1080), DEFAULT_PREPROCESS_OPTIONS, 'exact'],
    ['JPEG 1080×1080, crop 288 (3.75×)', header(1080, 1080), crop288, 'sharp'],
    ['PNG 960×540, squash 224 (box shrink on one axis)', header(960, 540, { format: 'png' }), squash(), 'exact'],
    ['PNG with alpha 451×300, squash', header(451, 300, { format: 'png', hasAlpha: true }), squash(), 'alpha'],
    ['CMYK JPEG 600×400, squash', header(600, 400, { space: 'cmyk' }), squash(), 'cmyk'],
    ['JPEG 1080×920 in fast mode', header(1080, 920), { ...squash(), mode: 'fast' as const }, 'sharp'],
    ['SVG', header(2000, 2000, { format: 'svg' }), squash(), 'sharp'],
  ])('%s → %s', (_name, h, options, path) => {
    expect(planPreprocess(h, options).path).toBe(path);
  });
});

describe('validatePreprocessOptions', () => {
  test.each([
    ['resizeShortSide', { ...squash(), resizeShortSide: 256 }, /resizeShortSide applies to resize 'crop' only.*got 256/],
    ['resizeShortSide', { ...DEFAULT_PREPROCESS_OPTIONS, resizeShortSide: 200 }, /resizeShortSide must be an integer ≥ cropSize \(224\), got 200/],
    ['cropSize', { ...DEFAULT_PREPROCESS_OPTIONS, cropSize: 224.5 }, /cropSize must be an integer from 1 to 1024, got 224.5/],
    ['resize', { ...DEFAULT_PREPROCESS_OPTIONS, resize: 'fit' as PreprocessOptions['resize'] }, /resize must be 'crop' or 'squash', got 'fit'/],
    ['maxPixels', { ...DEFAULT_PREPROCESS_OPTIONS, maxPixels: -1 }, /maxPixels must be a positive integer, got -1/],
  ])('refuses a bad %s with CONFIG_INVALID naming it and the value', (_field, options, message) => {
    let err: unknown;
    try {
      validatePreprocessOptions(options);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(RevmodError);
    expect(err).toMatchObject({ code: 'CONFIG_INVALID', message: expect.stringMatching(message) });
  });

  test('accepts the defaults, squash without a short side, and crop with one', () => {
    expect(() => validatePreprocessOptions(DEFAULT_PREPROCESS_OPTIONS)).not.toThrow();
    expect(() => validatePreprocessOptions(squash(160))).not.toThrow();
    expect(() => validatePreprocessOptions(crop288)).not.toThrow();
  });
});
