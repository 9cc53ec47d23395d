/**
 * Pillow's BILINEAR resampler (src/preprocess/pil-resample.ts): a hand-checked case, and agreement with a
 * straightforward transcription of Pillow 9.4's Resample.c (whole image, horizontal pass then vertical,
 * then cropped) on random pixels over down- and upscaling, identity axes, grey and alpha bands, source
 * windows and odd crop sizes.
 */
import {
  bilinearCoefficients,
  pilBilinearResizeCrop,
  planResizeCrop,
  type PixelRect,
} from '../../src/preprocess/pil-resample';

/**
 * Reference: Pillow's ImagingResample (BILINEAR, 8 bits per channel, 22-bit fixed-point weights) on
 * interleaved pixels of `bands` channels, on the whole image, each pass skipped when its size is unchanged.
 */
function naivePilResize(src: Uint8Array, bands: number, w: number, h: number, ow: number, oh: number): Uint8Array {
  const PRECISION = 22;
  const coefficients = (inSize: number, outSize: number) => {
    const scale = inSize / outSize;
    const filterScale = Math.max(scale, 1);
    const support = filterScale;
    const ksize = Math.ceil(support) * 2 + 1;
    const kk = new Int32Array(outSize * ksize);
    const bounds = new Int32Array(outSize * 2);
    for (let xx = 0; xx < outSize; xx++) {
      const center = (xx + 0.5) * scale;
      const xmin = Math.max(Math.trunc(center - support + 0.5), 0);
      const xmax = Math.min(Math.trunc(center + support + 0.5), inSize) - xmin;
      const k = new Float64Array(xmax);
      let ww = 0;
      for (let x = 0; x < xmax; x++) {
        const t = Math.abs((x + xmin - center + 0.5) * (1 / filterScale));
        k[x] = t < 1 ? 1 - t : 0;
        ww += k[x]!;
      }
      for (let x = 0; x < xmax; x++) {
        const v = ww === 0 ? k[x]! : k[x]! / ww;
        kk[xx * ksize + x] = v < 0 ? Math.trunc(-0.5 + v * (1 << PRECISION)) : Math.trunc(0.5 + v * (1 << PRECISION));
      }
      bounds[xx * 2] = xmin;
      bounds[xx * 2 + 1] = xmax;
    }
    return { kk, bounds, ksize };
  };
  // Pillow's clip8 (in >> PRECISION_BITS, clipped); no Math.* here: it is slow inside jest's vm context.
  const clip8 = (v: number) => {
    const x = v >> PRECISION;
    return x < 0 ? 0 : x > 255 ? 255 : x;
  };
  let cur = src;
  let cw = w;
  if (ow !== w) {
    const { kk, bounds, ksize } = coefficients(w, ow);
    const out = new Uint8Array(ow * h * bands);
    for (let y = 0; y < h; y++) {
      for (let xx = 0; xx < ow; xx++) {
        const xmin = bounds[xx * 2]!;
        const n = bounds[xx * 2 + 1]!;
        for (let c = 0; c < bands; c++) {
          let ss = 1 << (PRECISION - 1);
          for (let x = 0; x < n; x++) ss += cur[(y * w + xmin + x) * bands + c]! * kk[xx * ksize + x]!;
          out[(y * ow + xx) * bands + c] = clip8(ss);
        }
      }
    }
    cur = out;
    cw = ow;
  }
  if (oh !== h) {
    const { kk, bounds, ksize } = coefficients(h, oh);
    const out = new Uint8Array(cw * oh * bands);
    for (let yy = 0; yy < oh; yy++) {
      const ymin = bounds[yy * 2]!;
      const n = bounds[yy * 2 + 1]!;
      for (let x = 0; x < cw; x++) {
        for (let c = 0; c < bands; c++) {
          let ss = 1 << (PRECISION - 1);
          for (let y = 0; y < n; y++) ss += cur[((ymin + y) * cw + x) * bands + c]! * kk[yy * ksize + y]!;
          out[(yy * cw + x) * bands + c] = clip8(ss);
        }
      }
    }
    cur = out;
  }
  return cur;
}

/** `rect` of an interleaved image, as RGB (grey replicated; an alpha band dropped). */
function cropAsRgb(img: Uint8Array, channels: number, width: number, rect: PixelRect): Uint8Array {
  const out = new Uint8Array(rect.width * rect.height * 3);
  let o = 0;
  for (let y = rect.top; y < rect.top + rect.height; y++) {
    for (let x = rect.left; x < rect.left + rect.width; x++) {
      const i = (y * width + x) * channels;
      if (channels >= 3) {
        out[o++] = img[i]!;
        out[o++] = img[i + 1]!;
        out[o++] = img[i + 2]!;
      } else {
        out[o++] = img[i]!;
        out[o++] = img[i]!;
        out[o++] = img[i]!;
      }
    }
  }
  return out;
}

/** Deterministic pseudo-random bytes, with smooth areas and hard edges mixed in. */
function randomImage(width: number, height: number, channels: number, seed: number): Uint8Array {
  const out = new Uint8Array(width * height * channels);
  let s = seed >>> 0;
  let i = 0;
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      for (let c = 0; c < channels; c++, i++) {
        s = (s * 1664525 + 1013904223) % 4294967296;
        out[i] = (x >> 4) % 3 === 0 ? (x * 3 + y + c) & 0xff : (y >> 3) % 5 === 0 ? ((x ^ y) & 1) * 255 : s >>> 24;
      }
    }
  }
  return out;
}

describe('bilinearCoefficients', () => {
  test('4 → 2 by hand: support 2, triangle weights 3/7, 3/7, 1/7 in 22-bit fixed point', () => {
    const c = bilinearCoefficients(4, 2);
    expect(c.ksize).toBe(5);
    // Output 0: centre 1.0, sources 0..2 at distances 0.25, 0.25, 0.75 (÷2) → 0.75, 0.75, 0.25 → /1.75.
    // Output 1: centre 3.0, sources 1..3 → 0.25, 0.75, 0.75 → /1.75. round(3/7 · 2^22) = 1797559,
    // round(1/7 · 2^22) = 599186 (the two sum to exactly 2^22).
    expect([...c.bounds]).toEqual([0, 3, 1, 3]);
    expect([...c.weights]).toEqual([1797559, 1797559, 599186, 0, 0, 599186, 1797559, 1797559, 0, 0]);
    expect([c.sourceStart, c.sourceEnd]).toEqual([0, 4]);
  });

  test('only the requested outputs are computed, and a size kept unchanged is the identity', () => {
    const whole = bilinearCoefficients(1440, 341);
    const part = bilinearCoefficients(1440, 341, 58, 224);
    expect([...part.bounds]).toEqual([...whole.bounds.subarray(58 * 2, (58 + 224) * 2)]);
    expect([...part.weights]).toEqual([...whole.weights.subarray(58 * whole.ksize, (58 + 224) * whole.ksize)]);
    expect([part.sourceStart, part.sourceEnd]).toEqual([part.bounds[0], part.bounds[223 * 2]! + part.bounds[223 * 2 + 1]!]);
    expect(bilinearCoefficients(1440, 341, 58, 224)).toBe(part); // cached
    const identity = bilinearCoefficients(300, 300, 16, 3);
    expect([...identity.bounds, ...identity.weights]).toEqual([16, 1, 17, 1, 18, 1, 1 << 22, 1 << 22, 1 << 22]);
  });

  test('rejects sizes and ranges that make no sense', () => {
    expect(() => bilinearCoefficients(0, 2)).toThrow(RangeError);
    expect(() => bilinearCoefficients(10, 5, 3, 3)).toThrow(RangeError);
    expect(() => bilinearCoefficients(10, 5, -1, 2)).toThrow(RangeError);
  });
});

describe('pilBilinearResizeCrop', () => {
  test('4×1 grey → 2×1 by hand (with Pillow\'s +0.5 rounding and truncation)', () => {
    // (0·3 + 70·3 + 140·1) / 7 = 50 and (70·1 + 140·3 + 210·3) / 7 = 160 (fixed point: 50.49…, 160.49…).
    const plan = planResizeCrop(4, 1, 2, 1, { left: 0, top: 0, width: 2, height: 1 });
    const out = pilBilinearResizeCrop({ data: Uint8Array.from([0, 70, 140, 210]), channels: 1, rect: { left: 0, top: 0, width: 4, height: 1 } }, plan);
    expect([...out]).toEqual([50, 50, 50, 160, 160, 160]);
    // 7 · 599186 + 2^21 = 6291454 → 1; 7 · 1797559 + 2^21 = 14680065 → 3 (3.5000002, truncated).
    const rounding = pilBilinearResizeCrop({ data: Uint8Array.from([0, 0, 7, 0]), channels: 1, rect: { left: 0, top: 0, width: 4, height: 1 } }, plan);
    expect([...rounding]).toEqual([1, 1, 1, 3, 3, 3]);
    // The same along the other axis, on RGB.
    const vplan = planResizeCrop(1, 4, 1, 2, { left: 0, top: 0, width: 1, height: 2 });
    const column = Uint8Array.from([0, 0, 255, 70, 0, 255, 140, 7, 255, 210, 0, 255]);
    const v = pilBilinearResizeCrop({ data: column, channels: 3, rect: { left: 0, top: 0, width: 1, height: 4 } }, vplan);
    expect([...v]).toEqual([50, 1, 255, 160, 3, 255]);
  });

  const cases: Array<[string, number, number, number, number, number, PixelRect]> = [
    // label, width, height, channels, out width, out height, crop
    ['720×540 RGB → 171×128 (a 4.22× reduction, as 1440×1080 → 341×256)', 720, 540, 3, 171, 128, { left: 20, top: 9, width: 120, height: 110 }],
    ['611×403 RGB → 388×256', 611, 403, 3, 388, 256, { left: 82, top: 16, width: 224, height: 224 }],
    ['403×611 RGBA → 256×388 (alpha ignored)', 403, 611, 4, 256, 388, { left: 16, top: 82, width: 224, height: 224 }],
    ['1200×900 grey → 341×256', 1200, 900, 1, 341, 256, { left: 58, top: 16, width: 224, height: 224 }],
    ['500×300 grey + alpha → 426×256', 500, 300, 2, 426, 256, { left: 101, top: 16, width: 224, height: 224 }],
    ['upscaling 90×60 RGB → 384×256', 90, 60, 3, 384, 256, { left: 80, top: 16, width: 224, height: 224 }],
    ['height only: 256×700 RGB → 256×500', 256, 700, 3, 256, 500, { left: 16, top: 138, width: 224, height: 224 }],
    ['odd crop at the edges, 333×251 RGB → 77×58', 333, 251, 3, 77, 58, { left: 0, top: 51, width: 77, height: 7 }],
    ['odd crop, grey, 97×89 → 13×11', 97, 89, 1, 13, 11, { left: 12, top: 0, width: 1, height: 11 }],
  ];

  test.each(cases)('%s: identical to Pillow\'s whole-image resize, then cropped', (_label, w, h, channels, ow, oh, crop) => {
    const src = randomImage(w, h, channels, w * 31 + h);
    const expected = cropAsRgb(naivePilResize(src, channels, w, h, ow, oh), channels, ow, crop);
    const plan = planResizeCrop(w, h, ow, oh, crop);
    const got = pilBilinearResizeCrop({ data: src, channels, rect: { left: 0, top: 0, width: w, height: h } }, plan);
    expect(got.length).toBe(crop.width * crop.height * 3);
    expect(Buffer.from(got).equals(Buffer.from(expected))).toBe(true);

    // From just the region the plan reads (as the decoder hands it over), into a given buffer.
    const r = plan.source;
    const window = new Uint8Array(r.width * r.height * channels);
    for (let y = 0; y < r.height; y++) {
      const from = ((r.top + y) * w + r.left) * channels;
      window.set(src.subarray(from, from + r.width * channels), y * r.width * channels);
    }
    const out = new Uint8Array(got.length);
    expect(pilBilinearResizeCrop({ data: window, channels, rect: r }, plan, out)).toBe(out);
    expect(Buffer.from(out).equals(Buffer.from(expected))).toBe(true);
  });

  test('refuses source pixels that do not cover what the crop reads', () => {
    const plan = planResizeCrop(1440, 1080, 341, 256, { left: 58, top: 16, width: 224, height: 224 });
    const r = plan.source;
    const short = { left: r.left + 1, top: r.top, width: r.width - 1, height: r.height };
    expect(() => pilBilinearResizeCrop({ data: new Uint8Array(short.width * short.height * 3), channels: 3, rect: short }, plan)).toThrow(RangeError);
    expect(() => pilBilinearResizeCrop({ data: new Uint8Array(10), channels: 3, rect: r }, plan)).toThrow(RangeError);
    expect(() => pilBilinearResizeCrop({ data: new Uint8Array(r.width * r.height * 5), channels: 5, rect: r }, plan)).toThrow(RangeError);
  });
});
