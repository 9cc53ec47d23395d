/**
 * Pillow's resampler (libImaging/Resample.c, Pillow 9.4: `ImagingResample` with the BILINEAR filter,
 * 8 bits per channel), reproduced bit-exactly for the one job this worker needs: torchvision's
 * `Resize(256)` followed by `CenterCrop(224)`, computing only the pixels of the crop.
 *
 * What Pillow does, and what is copied here:
 * - Separable, two passes: horizontal first, then vertical over the horizontal result. Each axis has
 *   its own table of per-output-pixel source ranges and weights.
 * - Coefficients (`precompute_coeffs`): scale = in / out; filterscale = max(scale, 1); support =
 *   1.0 · filterscale (the triangle widens with the reduction: antialiasing). For output index i:
 *   center = (i + 0.5) · scale, first source = (int)(center − support + 0.5) clamped to 0, end =
 *   (int)(center + support + 0.5) clamped to the size; weight of source x = triangle((x − center +
 *   0.5) · (1 / filterscale)), then divided by the sum of weights (all in double precision).
 * - 8-bit weights (`normalize_coeffs_8bpc`): fixed point with 22 fractional bits (32 − 8 − 2), rounded
 *   half away from zero; each sum starts at 1 << 21 and the result is (sum >> 22) clipped to 0..255.
 * - Vertical weights are computed against the original rows; the horizontal pass runs only on the
 *   rows some output row reads, which changes nothing in the result.
 *
 * Computing only the crop is exact too: an output pixel depends only on its own coefficients. The
 * horizontal pass produces the crop's columns for the source rows the crop's rows read, the vertical
 * pass the crop's rows from those. An axis whose size does not change (Pillow skips that pass) gets an
 * identity table (one tap of weight 1 << 22), which reproduces the input value.
 */

/** Pillow's PRECISION_BITS for 8-bit images. */
const PRECISION_BITS = 32 - 8 - 2;
const ONE = 1 << PRECISION_BITS;
const HALF = 1 << (PRECISION_BITS - 1);

/** Resampling coefficients along one axis, for output indices `first` … `first + count − 1`. */
export interface AxisCoefficients {
  /** Input size along the axis. */
  readonly inSize: number;
  /** Output size along the axis (of the whole resized image, not of the crop). */
  readonly outSize: number;
  /** First output index covered. */
  readonly first: number;
  /** Output indices covered. */
  readonly count: number;
  /** Taps per output index (table stride): ceil(support) · 2 + 1, or 1 for an identity axis. */
  readonly ksize: number;
  /** [2j] first source index, [2j + 1] number of taps, of output index first + j. */
  readonly bounds: Int32Array;
  /** Fixed-point weights, ksize per output index (entries past the tap count are 0). */
  readonly weights: Int32Array;
  /** Lowest source index any covered output reads. */
  readonly sourceStart: number;
  /** One past the highest source index any covered output reads. */
  readonly sourceEnd: number;
}

const coefficientCache = new Map<string, AxisCoefficients>();
/** Distinct (size, crop) combinations remembered; uploads come in a handful of sizes. */
const COEFFICIENT_CACHE_LIMIT = 64;

/**
 * Pillow's BILINEAR coefficients (8-bit fixed point) for resizing an axis of `inSize` pixels to
 * `outSize`, restricted to output indices `first` … `first + count − 1`. Tables are cached (they are
 * immutable).
 */
export function bilinearCoefficients(inSize: number, outSize: number, first = 0, count = outSize - first): AxisCoefficients {
  if (!(Number.isSafeInteger(inSize) && inSize > 0 && Number.isSafeInteger(outSize) && outSize > 0)) {
    throw new RangeError(`resample sizes must be positive integers, got ${inSize} → ${outSize}`);
  }
  if (!(Number.isSafeInteger(first) && Number.isSafeInteger(count) && first >= 0 && count > 0 && first + count <= outSize)) {
    throw new RangeError(`output range ${first} + ${count} does not lie within 0…${outSize}`);
  }
  const key = `${inSize}:${outSize}:${first}:${count}`;
  const cached = coefficientCache.get(key);
  if (cached !== undefined) return cached;
  const table = inSize === outSize ? identityTable(inSize, first, count) : computeTable(inSize, outSize, first, count);
  if (coefficientCache.size >= COEFFICIENT_CACHE_LIMIT) coefficientCache.clear();
  coefficientCache.set(key, table);
  return table;
}

function identityTable(size: number, first: number, count: number): AxisCoefficients {
  const bounds = new Int32Array(count * 2);
  const weights = new Int32Array(count).fill(ONE);
  for (let j = 0; j < count; j++) {
    bounds[j * 2] = first + j;
    bounds[j * 2 + 1] = 1;
  }
  return { inSize: size, outSize: size, first, count, ksize: 1, bounds, weights, sourceStart: first, sourceEnd: first + count };
}

function computeTable(inSize: number, outSize: number, first: number, count: number): AxisCoefficients {
  const scale = inSize / outSize;
  const filterscale = scale < 1 ? 1 : scale;
  const support = 1.0 * filterscale;
  const ss = 1.0 / filterscale;
  const ksize = Math.ceil(support) * 2 + 1;
  const bounds = new Int32Array(count * 2);
  const weights = new Int32Array(count * ksize);
  const k = new Float64Array(ksize);
  let sourceStart = inSize;
  let sourceEnd = 0;
  for (let j = 0; j < count; j++) {
    const center = (first + j + 0.5) * scale;
    let xmin = Math.trunc(center - support + 0.5);
    if (xmin < 0) xmin = 0;
    let xmax = Math.trunc(center + support + 0.5);
    if (xmax > inSize) xmax = inSize;
    xmax -= xmin;
    let ww = 0;
    for (let x = 0; x < xmax; x++) {
      let t = (x + xmin - center + 0.5) * ss;
      if (t < 0) t = -t;
      const w = t < 1 ? 1 - t : 0;
      k[x] = w;
      ww += w;
    }
    const base = j * ksize;
    for (let x = 0; x < xmax; x++) {
      const v = ww !== 0 ? k[x]! / ww : k[x]!;
      // normalize_coeffs_8bpc: (int)(±0.5 + v · 2^22), i.e. round half away from zero.
      weights[base + x] = v < 0 ? Math.trunc(-0.5 + v * ONE) : Math.trunc(0.5 + v * ONE);
    }
    bounds[j * 2] = xmin;
    bounds[j * 2 + 1] = xmax;
    if (xmin < sourceStart) sourceStart = xmin;
    if (xmin + xmax > sourceEnd) sourceEnd = xmin + xmax;
  }
  return { inSize, outSize, first, count, ksize, bounds, weights, sourceStart, sourceEnd };
}

/** A rectangle in pixels. */
export interface PixelRect {
  readonly left: number;
  readonly top: number;
  readonly width: number;
  readonly height: number;
}

/** What to compute: `crop` of the `inWidth` × `inHeight` image resized to `outWidth` × `outHeight`. */
export interface ResizeCropPlan {
  readonly horizontal: AxisCoefficients;
  readonly vertical: AxisCoefficients;
  /** The part of the input the crop reads (decode or convert only this much). */
  readonly source: PixelRect;
}

export function planResizeCrop(inWidth: number, inHeight: number, outWidth: number, outHeight: number, crop: PixelRect): ResizeCropPlan {
  const horizontal = bilinearCoefficients(inWidth, outWidth, crop.left, crop.width);
  const vertical = bilinearCoefficients(inHeight, outHeight, crop.top, crop.height);
  return {
    horizontal,
    vertical,
    source: {
      left: horizontal.sourceStart,
      top: vertical.sourceStart,
      width: horizontal.sourceEnd - horizontal.sourceStart,
      height: vertical.sourceEnd - vertical.sourceStart,
    },
  };
}

/** Interleaved 8-bit pixels holding the rectangle `rect` of the input image. */
export interface SourcePixels {
  readonly data: Uint8Array;
  /** 1 (grey), 2 (grey + alpha), 3 (RGB) or 4 (RGB + alpha); alpha is ignored, grey is replicated. */
  readonly channels: number;
  /** Where these pixels lie in the input image; must contain plan.source. */
  readonly rect: PixelRect;
}

/**
 * Pillow's BILINEAR resize of the input to the plan's size, cropped to the plan's crop, as
 * interleaved RGB (crop.width × crop.height × 3 bytes, into `out` when given). Bit-exact with
 * `Image.resize((outWidth, outHeight), BILINEAR).crop(crop)` on the RGB (or greyscale) image. One
 * scratch buffer per call (crop.width × source rows × bands bytes).
 */
export function pilBilinearResizeCrop(src: SourcePixels, plan: ResizeCropPlan, out?: Uint8Array): Uint8Array {
  const { horizontal: h, vertical: v, source } = plan;
  const ch = src.channels;
  if (!(ch >= 1 && ch <= 4 && Number.isInteger(ch))) throw new RangeError(`unsupported channel count ${ch}`);
  const r = src.rect;
  if (
    source.left < r.left ||
    source.top < r.top ||
    source.left + source.width > r.left + r.width ||
    source.top + source.height > r.top + r.height ||
    src.data.length < r.width * r.height * ch
  ) {
    throw new RangeError('the source pixels do not cover the region the crop reads');
  }
  const cw = h.count;
  const chh = v.count;
  const target = out ?? new Uint8Array(cw * chh * 3);
  if (target.length < cw * chh * 3) throw new RangeError('output buffer too small');
  const bands = ch >= 3 ? 3 : 1;

  // Horizontal pass: rows v.sourceStart … v.sourceEnd − 1, the crop's columns.
  const rows = v.sourceEnd - v.sourceStart;
  const rowBytes = cw * bands;
  const scratch = new Uint8Array(rows * rowBytes);
  const data = src.data;
  const hb = h.bounds;
  const hw = h.weights;
  const hk = h.ksize;
  const stride = r.width * ch;
  let o = 0;
  for (let y = 0; y < rows; y++) {
    const rowStart = (v.sourceStart - r.top + y) * stride - r.left * ch;
    if (bands === 3) {
      for (let xx = 0; xx < cw; xx++) {
        const n = hb[xx * 2 + 1]!;
        let p = rowStart + hb[xx * 2]! * ch;
        let kb = xx * hk;
        let s0 = HALF;
        let s1 = HALF;
        let s2 = HALF;
        for (let t = 0; t < n; t++, p += ch, kb++) {
          const k = hw[kb]!;
          s0 = (s0 + Math.imul(data[p]!, k)) | 0;
          s1 = (s1 + Math.imul(data[p + 1]!, k)) | 0;
          s2 = (s2 + Math.imul(data[p + 2]!, k)) | 0;
        }
        scratch[o++] = clip8(s0);
        scratch[o++] = clip8(s1);
        scratch[o++] = clip8(s2);
      }
    } else {
      for (let xx = 0; xx < cw; xx++) {
        const n = hb[xx * 2 + 1]!;
        let p = rowStart + hb[xx * 2]! * ch;
        let kb = xx * hk;
        let s0 = HALF;
        for (let t = 0; t < n; t++, p += ch, kb++) s0 = (s0 + Math.imul(data[p]!, hw[kb]!)) | 0;
        scratch[o++] = clip8(s0);
      }
    }
  }

  // Vertical pass: the crop's rows.
  const vb = v.bounds;
  const vw = v.weights;
  const vk = v.ksize;
  o = 0;
  for (let yy = 0; yy < chh; yy++) {
    const n = vb[yy * 2 + 1]!;
    const first = (vb[yy * 2]! - v.sourceStart) * rowBytes;
    const kb = yy * vk;
    if (bands === 3) {
      for (let i = 0; i < rowBytes; i++) {
        let s = HALF;
        for (let t = 0, p = first + i; t < n; t++, p += rowBytes) s = (s + Math.imul(scratch[p]!, vw[kb + t]!)) | 0;
        target[o++] = clip8(s);
      }
    } else {
      for (let i = 0; i < rowBytes; i++) {
        let s = HALF;
        for (let t = 0, p = first + i; t < n; t++, p += rowBytes) s = (s + Math.imul(scratch[p]!, vw[kb + t]!)) | 0;
        const g = clip8(s);
        target[o++] = g;
        target[o++] = g;
        target[o++] = g;
      }
    }
  }
  return target;
}

/** Pillow's clip8: the fixed-point sum's integer part, clipped to 0…255. */
function clip8(sum: number): number {
  const v = sum >> PRECISION_BITS;
  return v < 0 ? 0 : v > 255 ? 255 : v;
}
