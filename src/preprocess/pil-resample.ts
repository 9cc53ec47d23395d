/**
 * Pillow's resampler (libImaging/Resample.c, Pillow 9.4: `ImagingResample` with the BILINEAR filter,
 * 8 bits per channel), reproduced bit-exactly for the one job this worker needs: a resize followed
 * by a crop (torchvision's `Resize(n)` → `CenterCrop(m)`, or a squash, whose crop is the whole
 * image), computing only the pixels of the crop.
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
  /**
   * Fixed-point weights (Pillow's 22-bit integers, held as doubles: V8 multiplies them with bytes
   * faster than Int32Array entries), ksize per output index (entries past the tap count are 0).
   */
  readonly weights: Float64Array;
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
  const weights = new Float64Array(count).fill(ONE);
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
  const weights = new Float64Array(count * ksize);
  const k = new Float64Array(ksize);
  let sourceStart = inSize;
  let sourceEnd = 0;
  for (let j = 0; j < count; j++) {
    const center = (first + j + 0.5) * scale;
    // (int) casts: truncation towards zero.
    let xmin = (center - support + 0.5) | 0;
    if (xmin < 0) xmin = 0;
    let xmax = (center + support + 0.5) | 0;
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

  // Horizontal pass: source rows v.sourceStart … v.sourceEnd − 1, the crop's columns only.
  const rows = v.sourceEnd - v.sourceStart;
  const rowBytes = cw * bands;
  const scratch = new Uint8Array(rows * rowBytes);
  const stride = r.width * ch;
  const firstRow = (v.sourceStart - r.top) * stride - r.left * ch;
  if (bands === 3) horizontalRgb(src.data, ch, stride, firstRow, rows, h, scratch);
  else horizontalGrey(src.data, ch, stride, firstRow, rows, h, scratch);

  // Vertical pass: the crop's rows.
  if (bands === 3) verticalRgb(scratch, rowBytes, v, target);
  else verticalGrey(scratch, rowBytes, v, target);
  return target;
}

/*
 * The sums below are exact in double precision (integers below 2^31: with BILINEAR's non-negative
 * weights a sum is at most 255 · (2^22 + taps / 2) + 2^21), so `>>` in clip8 is Pillow's shift. No
 * Math.* calls in the loops: under jest's vm contexts they are not inlined and run ~100× slower.
 * Two source rows (horizontal pass) or two pixels (vertical pass) are done per iteration, sharing
 * the weight loads: ~15 % and ~2× faster in V8 than one at a time.
 */

/** Horizontal pass over `rows` source rows of 3- or 4-channel pixels (the 4th is skipped). */
function horizontalRgb(
  data: Uint8Array,
  ch: number,
  stride: number,
  firstRow: number,
  rows: number,
  h: AxisCoefficients,
  scratch: Uint8Array,
): void {
  const bounds = h.bounds;
  const weights = h.weights;
  const ksize = h.ksize;
  const cw = h.count;
  const rowBytes = cw * 3;
  let y = 0;
  for (; y + 1 < rows; y += 2) {
    const rowStart = firstRow + y * stride;
    let o = y * rowBytes;
    for (let xx = 0; xx < cw; xx++, o += 3) {
      let p = rowStart + bounds[xx * 2]! * ch;
      let kb = xx * ksize;
      const end = kb + bounds[xx * 2 + 1]!;
      let a0 = HALF;
      let a1 = HALF;
      let a2 = HALF;
      let b0 = HALF;
      let b1 = HALF;
      let b2 = HALF;
      for (; kb < end; kb++, p += ch) {
        const k = weights[kb]!;
        const q = p + stride;
        a0 += data[p]! * k;
        a1 += data[p + 1]! * k;
        a2 += data[p + 2]! * k;
        b0 += data[q]! * k;
        b1 += data[q + 1]! * k;
        b2 += data[q + 2]! * k;
      }
      scratch[o] = clip8(a0);
      scratch[o + 1] = clip8(a1);
      scratch[o + 2] = clip8(a2);
      scratch[o + rowBytes] = clip8(b0);
      scratch[o + rowBytes + 1] = clip8(b1);
      scratch[o + rowBytes + 2] = clip8(b2);
    }
  }
  if (y < rows) {
    const rowStart = firstRow + y * stride;
    let o = y * rowBytes;
    for (let xx = 0; xx < cw; xx++) {
      let p = rowStart + bounds[xx * 2]! * ch;
      let kb = xx * ksize;
      const end = kb + bounds[xx * 2 + 1]!;
      let a0 = HALF;
      let a1 = HALF;
      let a2 = HALF;
      for (; kb < end; kb++, p += ch) {
        const k = weights[kb]!;
        a0 += data[p]! * k;
        a1 += data[p + 1]! * k;
        a2 += data[p + 2]! * k;
      }
      scratch[o++] = clip8(a0);
      scratch[o++] = clip8(a1);
      scratch[o++] = clip8(a2);
    }
  }
}

/** Horizontal pass over `rows` source rows of 1- or 2-channel pixels (the 2nd is skipped). */
function horizontalGrey(
  data: Uint8Array,
  ch: number,
  stride: number,
  firstRow: number,
  rows: number,
  h: AxisCoefficients,
  scratch: Uint8Array,
): void {
  const bounds = h.bounds;
  const weights = h.weights;
  const ksize = h.ksize;
  const cw = h.count;
  let o = 0;
  for (let y = 0; y < rows; y++) {
    const rowStart = firstRow + y * stride;
    for (let xx = 0; xx < cw; xx++) {
      let p = rowStart + bounds[xx * 2]! * ch;
      let kb = xx * ksize;
      const end = kb + bounds[xx * 2 + 1]!;
      let a = HALF;
      for (; kb < end; kb++, p += ch) a += data[p]! * weights[kb]!;
      scratch[o++] = clip8(a);
    }
  }
}

/** Vertical pass over RGB rows of `rowBytes` bytes, written as RGB. */
function verticalRgb(scratch: Uint8Array, rowBytes: number, v: AxisCoefficients, target: Uint8Array): void {
  const bounds = v.bounds;
  const weights = v.weights;
  const ksize = v.ksize;
  const pairBytes = rowBytes - (rowBytes % 6);
  let o = 0;
  for (let yy = 0; yy < v.count; yy++) {
    const first = (bounds[yy * 2]! - v.sourceStart) * rowBytes;
    const kb = yy * ksize;
    const end = kb + bounds[yy * 2 + 1]!;
    let i = 0;
    for (; i < pairBytes; i += 6) {
      let a0 = HALF;
      let a1 = HALF;
      let a2 = HALF;
      let b0 = HALF;
      let b1 = HALF;
      let b2 = HALF;
      for (let k = kb, p = first + i; k < end; k++, p += rowBytes) {
        const w = weights[k]!;
        a0 += scratch[p]! * w;
        a1 += scratch[p + 1]! * w;
        a2 += scratch[p + 2]! * w;
        b0 += scratch[p + 3]! * w;
        b1 += scratch[p + 4]! * w;
        b2 += scratch[p + 5]! * w;
      }
      target[o++] = clip8(a0);
      target[o++] = clip8(a1);
      target[o++] = clip8(a2);
      target[o++] = clip8(b0);
      target[o++] = clip8(b1);
      target[o++] = clip8(b2);
    }
    for (; i < rowBytes; i++) {
      let a = HALF;
      for (let k = kb, p = first + i; k < end; k++, p += rowBytes) a += scratch[p]! * weights[k]!;
      target[o++] = clip8(a);
    }
  }
}

/** Vertical pass over grey rows of `rowBytes` bytes, each value written three times (RGB). */
function verticalGrey(scratch: Uint8Array, rowBytes: number, v: AxisCoefficients, target: Uint8Array): void {
  const bounds = v.bounds;
  const weights = v.weights;
  const ksize = v.ksize;
  let o = 0;
  for (let yy = 0; yy < v.count; yy++) {
    const first = (bounds[yy * 2]! - v.sourceStart) * rowBytes;
    const kb = yy * ksize;
    const end = kb + bounds[yy * 2 + 1]!;
    for (let i = 0; i < rowBytes; i++) {
      let a = HALF;
      for (let k = kb, p = first + i; k < end; k++, p += rowBytes) a += scratch[p]! * weights[k]!;
      const g = clip8(a);
      target[o++] = g;
      target[o++] = g;
      target[o++] = g;
    }
  }
}

/** Pillow's clip8: the fixed-point sum's integer part, clipped to 0…255. */
function clip8(sum: number): number {
  const v = sum >> PRECISION_BITS;
  return v < 0 ? 0 : v > 255 ? 255 : v;
}
