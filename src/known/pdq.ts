/**
 * PDQ, Meta's 256-bit perceptual image hash with a quality score.
 *
 * Follows the algorithm as published in facebook/ThreatExchange (BSD licence): the description in
 * `hashing/hashing.pdf` and the reference C++ (`pdq/cpp/hashing/pdqhashing.cpp`,
 * `pdq/cpp/downscaling/downscaling.cpp`) and Python (`pdq/python/pdqhashing/hasher/pdq_hasher.py`):
 *
 * 1. luma Y = 0.299 R + 0.587 G + 0.114 B (grey images: the grey value);
 * 2. two X-then-Y passes of a 1-D box filter (Jarosz: together a tent filter), window
 *    ⌈size / 128⌉ along each axis, then decimation to 64 × 64 at the centres of 64 equal strips;
 * 3. quality from the 64 × 64 image: the sum of |Δ|·100/255 (truncated) over horizontal and vertical
 *    neighbours, divided by 90, capped at 100;
 * 4. the 16 × 16 block of DCT-II coefficients 1..16 × 1..16 (the DC row and column left out);
 * 5. bit (i, j) set where coefficient (i, j) is above the median of the 256 (Torben's median: the
 *    128th smallest).
 *
 * The eight dihedral hashes (rotations, flips) come from the same 16 × 16 coefficients with sign
 * changes and a transpose, as the reference does. Given the same pixels, quality and all eight hashes
 * equal the C++ reference's on 47 of 48 test images; on the 48th (quality 3, nearly flat) two of the
 * dihedral hashes differ by 2 bits, from float rounding near the median (docs/known-images.md).
 *
 * Bit layout and hex follow the reference's `Hash256`: 16 words of 16 bits, word i holds DCT row i,
 * bit j column j, and the hex string is word 15 first. A {@link PdqHash} is the 32 bytes that hex
 * string spells.
 */

/** Decoded pixels, row-major, channels interleaved (1 grey, 2 grey + alpha, 3 RGB, 4 RGBA). */
export interface PixelView {
  readonly data: Uint8Array;
  readonly width: number;
  readonly height: number;
  readonly channels: number;
}

/** 256 bits as 32 bytes, in the order of the reference's hex string (see the module comment). */
export type PdqHash = Uint8Array;

export interface PdqResult {
  readonly hash: PdqHash;
  /** 0..100; the published operating point discards hashes below 50. */
  readonly quality: number;
}

/** The reference's names for the eight symmetries of the square. */
export const DIHEDRAL_NAMES = [
  'original', 'rotate90', 'rotate180', 'rotate270', 'flipX', 'flipY', 'flipPlus1', 'flipMinus1',
] as const;
export type DihedralName = (typeof DIHEDRAL_NAMES)[number];

export interface PdqDihedralResult {
  /**
   * The hash the image would have after each transform: `rotate90` is this image turned 90°
   * anticlockwise (`rotate270` clockwise); `flipX` mirrors it top to bottom, `flipY` left to right,
   * `flipPlus1` across the main diagonal (transpose), `flipMinus1` across the other.
   */
  readonly hashes: Readonly<Record<DihedralName, PdqHash>>;
  readonly quality: number;
}

export const PDQ_HASH_BYTES = 32;
export const PDQ_HASH_BITS = 256;
/** Distance at or below which two hashes are the same picture (PDQ's published operating point). */
export const PDQ_MATCH_DISTANCE = 31;
/** Quality below which a hash should not be matched (PDQ's published operating point). */
export const PDQ_MIN_QUALITY = 50;
/**
 * The reference implementations reduce larger images to this size before hashing: Python with PIL's
 * `thumbnail((512, 512))`, C++ (`pdqio.cpp`) with CImg to 512 × 512, because the full-size tent filter
 * is slow. {@link pdqHash} hashes whatever it is given; decoders should hand it a view no larger.
 */
export const PDQ_DOWNSAMPLE_MAX_SIDE_PX = 512;

/** Images smaller than this along either side get an all-zero hash and quality 0 (as the reference). */
const MIN_HASHABLE_SIDE_PX = 5;
const LUMA_R = 0.299;
const LUMA_G = 0.587;
const LUMA_B = 0.114;
const JAROSZ_PASSES = 2;

/** Rows 1..16 of the 64-point orthonormal DCT-II matrix, row-major 16 × 64. */
const DCT_16x64: Float64Array = (() => {
  const d = new Float64Array(16 * 64);
  const scale = Math.sqrt(2 / 64);
  for (let i = 0; i < 16; i++) {
    for (let j = 0; j < 64; j++) d[i * 64 + j] = scale * Math.cos((Math.PI / 128) * (i + 1) * (2 * j + 1));
  }
  return d;
})();

/** Hashes an image: the original orientation only. */
export function pdqHash(view: PixelView): PdqResult {
  const { dct, quality } = pdqTransform(view);
  return { hash: pdqHashFromDct(dct), quality };
}

/** Hashes an image and the seven other orientations of it, from one pass over the pixels. */
export function pdqDihedralHashes(view: PixelView): PdqDihedralResult {
  const { dct, quality } = pdqTransform(view);
  const out = new Float64Array(256);
  const hashes = {} as Record<DihedralName, PdqHash>;
  for (const name of DIHEDRAL_NAMES) {
    dihedralDct(dct, name, out);
    hashes[name] = pdqHashFromDct(out);
  }
  return { hashes, quality };
}

/**
 * How each symmetry acts on the DCT coefficients. Reversing the samples along an axis multiplies the
 * coefficient of frequency k by (−1)^k; row i holds frequency i + 1, so the even rows (columns)
 * change sign. A quarter turn or a diagonal flip also swaps the axes (transpose).
 */
const DIHEDRAL_ACTIONS: Readonly<Record<DihedralName, { readonly transpose: boolean; readonly negateEvenRows: boolean; readonly negateEvenCols: boolean }>> = {
  original: { transpose: false, negateEvenRows: false, negateEvenCols: false },
  rotate90: { transpose: true, negateEvenRows: false, negateEvenCols: true },
  rotate180: { transpose: false, negateEvenRows: true, negateEvenCols: true },
  rotate270: { transpose: true, negateEvenRows: true, negateEvenCols: false },
  flipX: { transpose: false, negateEvenRows: true, negateEvenCols: false },
  flipY: { transpose: false, negateEvenRows: false, negateEvenCols: true },
  flipPlus1: { transpose: true, negateEvenRows: false, negateEvenCols: false },
  flipMinus1: { transpose: true, negateEvenRows: true, negateEvenCols: true },
};

/** The DCT coefficients of the image after the symmetry `name`, from those of the image. */
export function dihedralDct(dct: Float64Array, name: DihedralName, out: Float64Array = new Float64Array(256)): Float64Array {
  const { transpose, negateEvenRows, negateEvenCols } = DIHEDRAL_ACTIONS[name];
  for (let i = 0; i < 16; i++) {
    const rowSign = negateEvenRows && (i & 1) === 0 ? -1 : 1;
    for (let j = 0; j < 16; j++) {
      const sign = negateEvenCols && (j & 1) === 0 ? -rowSign : rowSign;
      out[transpose ? j * 16 + i : i * 16 + j] = sign * dct[i * 16 + j]!;
    }
  }
  return out;
}

/** The 16 × 16 DCT coefficients (row-major) and the quality of an image. */
export function pdqTransform(view: PixelView): { dct: Float64Array; quality: number } {
  checkView(view);
  const { width, height } = view;
  if (width < MIN_HASHABLE_SIDE_PX || height < MIN_HASHABLE_SIDE_PX) return { dct: new Float64Array(256), quality: 0 };
  const luma = lumaOf(view);
  const windowAlongRows = jaroszWindow(width);
  const windowAlongCols = jaroszWindow(height);
  for (let pass = 0; pass < JAROSZ_PASSES; pass++) {
    boxAlongRows(luma, width, height, windowAlongRows);
    boxAlongCols(luma, width, height, windowAlongCols);
  }
  const small = decimate64(luma, width, height);
  return { dct: dct64To16(small), quality: qualityOf(small) };
}

function checkView(view: PixelView): void {
  const { data, width, height, channels } = view;
  if (!Number.isInteger(width) || width < 1) throw new RangeError(`pdq: width must be a positive integer, got ${String(width)}`);
  if (!Number.isInteger(height) || height < 1) throw new RangeError(`pdq: height must be a positive integer, got ${String(height)}`);
  if (!Number.isInteger(channels) || channels < 1 || channels > 4) throw new RangeError(`pdq: channels must be 1, 2, 3 or 4, got ${String(channels)}`);
  if (!(data instanceof Uint8Array)) throw new TypeError('pdq: data must be a Uint8Array (or Buffer)');
  if (data.length < width * height * channels) {
    throw new RangeError(`pdq: data holds ${data.length} bytes, fewer than width × height × channels = ${width * height * channels}`);
  }
}

/** ⌈size / 128⌉: half of a 64th of the side per pass, so that two passes span a whole 64th. */
function jaroszWindow(size: number): number {
  return Math.floor((size + 127) / 128);
}

function lumaOf(view: PixelView): Float32Array {
  const { data, width, height, channels } = view;
  const n = width * height;
  const luma = new Float32Array(n);
  if (channels === 3) {
    for (let p = 0, s = 0; p < n; p++, s += 3) luma[p] = LUMA_R * data[s]! + LUMA_G * data[s + 1]! + LUMA_B * data[s + 2]!;
  } else if (channels === 4) {
    for (let p = 0, s = 0; p < n; p++, s += 4) luma[p] = LUMA_R * data[s]! + LUMA_G * data[s + 1]! + LUMA_B * data[s + 2]!;
  } else {
    for (let p = 0, s = 0; p < n; p++, s += channels) luma[p] = data[s]!;
  }
  return luma;
}

/**
 * The reference's box filter, `box1DFloat`: output o is the mean of inputs o − behind .. o + ahead,
 * clipped to the ends, with ahead = ⌊(w + 2) / 2⌋ − 1 and behind = w − 1 − ahead; a running sum adds
 * the entering sample, then takes off the leaving one, in that order. Here in place, along each row,
 * in the reference's phases (growing window, full window, shrinking window) so that the inner loops
 * carry no edge tests. A window above 1 needs a side of at least 129, so the window always fits.
 */
function boxAlongRows(buf: Float32Array, width: number, height: number, window: number): void {
  if (window <= 1) return;
  const ahead = Math.floor((window + 2) / 2) - 1;
  const behind = window - ahead - 1;
  const row = new Float32Array(width);
  for (let r = 0, base = 0; r < height; r++, base += width) {
    row.set(buf.subarray(base, base + width));
    let sum = 0;
    for (let k = 0; k < ahead; k++) sum += row[k]!;
    let o = 0;
    for (; o <= behind; o++) {
      sum += row[o + ahead]!;
      buf[base + o] = sum / (o + ahead + 1);
    }
    for (; o < width - ahead; o++) {
      sum += row[o + ahead]!;
      sum -= row[o - behind - 1]!;
      buf[base + o] = sum / window;
    }
    for (; o < width; o++) {
      sum -= row[o - behind - 1]!;
      buf[base + o] = sum / (width - o + behind);
    }
  }
}

/**
 * The same filter down each column, computed row by row for all columns at once so that memory is
 * read in order (a column-at-a-time walk strides across the whole image). Each column sees the same
 * sequence of additions and subtractions as in the reference. In place: the rows that are still to
 * be subtracted are kept in a ring of `behind + 1` rows.
 */
function boxAlongCols(buf: Float32Array, width: number, height: number, window: number): void {
  if (window <= 1) return;
  const ahead = Math.floor((window + 2) / 2) - 1;
  const behind = window - ahead - 1;
  const sums = new Float64Array(width);
  // Row o − behind − 1 leaves the window when row o is written: ring slot o mod (behind + 1) holds it
  // until then, and takes row o in its place.
  const ringRows = behind + 1;
  const ring = new Float32Array(ringRows * width);
  for (let k = 0; k < ahead; k++) {
    const base = k * width;
    for (let c = 0; c < width; c++) sums[c]! += buf[base + c]!;
  }
  for (let o = 0; o < height; o++) {
    const enterBase = (o + ahead) * width;
    const outBase = o * width;
    const slot = (o % ringRows) * width;
    const adds = o + ahead < height;
    const subtracts = o > behind;
    const count = Math.min(height - 1, o + ahead) - Math.max(0, o - behind) + 1;
    if (adds && subtracts) {
      for (let c = 0; c < width; c++) {
        let sum = sums[c]! + buf[enterBase + c]!;
        sum -= ring[slot + c]!;
        sums[c] = sum;
        ring[slot + c] = buf[outBase + c]!;
        buf[outBase + c] = sum / count;
      }
    } else {
      for (let c = 0; c < width; c++) {
        let sum = sums[c]!;
        if (adds) sum += buf[enterBase + c]!;
        if (subtracts) sum -= ring[slot + c]!;
        sums[c] = sum;
        ring[slot + c] = buf[outBase + c]!;
        buf[outBase + c] = sum / count;
      }
    }
  }
}

/** Samples the filtered image at the centres of a 64 × 64 grid. */
function decimate64(buf: Float32Array, width: number, height: number): Float64Array {
  const out = new Float64Array(64 * 64);
  const cols = new Int32Array(64);
  for (let j = 0; j < 64; j++) cols[j] = Math.floor(((j + 0.5) * width) / 64);
  for (let i = 0; i < 64; i++) {
    const base = Math.floor(((i + 0.5) * height) / 64) * width;
    for (let j = 0; j < 64; j++) out[i * 64 + j] = buf[base + cols[j]!]!;
  }
  return out;
}

/** The reference's heuristic: count significant gradients, not the sum of many small ones. */
function qualityOf(a: Float64Array): number {
  let sum = 0;
  for (let i = 0; i < 63; i++) {
    for (let j = 0; j < 64; j++) sum += Math.abs(Math.trunc(((a[i * 64 + j]! - a[(i + 1) * 64 + j]!) * 100) / 255));
  }
  for (let i = 0; i < 64; i++) {
    for (let j = 0; j < 63; j++) sum += Math.abs(Math.trunc(((a[i * 64 + j]! - a[i * 64 + j + 1]!) * 100) / 255));
  }
  return Math.min(100, Math.trunc(sum / 90));
}

/** B = D · A · Dᵀ with D the 16 × 64 DCT rows: only the coefficients the hash uses. */
function dct64To16(a: Float64Array): Float64Array {
  const d = DCT_16x64;
  const t = new Float64Array(16 * 64);
  for (let i = 0; i < 16; i++) {
    for (let k = 0; k < 64; k++) {
      const dik = d[i * 64 + k]!;
      const rowA = k * 64;
      const rowT = i * 64;
      for (let j = 0; j < 64; j++) t[rowT + j]! += dik * a[rowA + j]!;
    }
  }
  const b = new Float64Array(256);
  for (let i = 0; i < 16; i++) {
    for (let j = 0; j < 16; j++) {
      let sum = 0;
      for (let k = 0; k < 64; k++) sum += t[i * 64 + k]! * d[j * 64 + k]!;
      b[i * 16 + j] = sum;
    }
  }
  return b;
}

const selectScratch = new Float64Array(256);

/** The k-th smallest of `a` (0-based), reordering `a`: Hoare's selection with a median-of-3 pivot. */
function selectKth(a: Float64Array, k: number): number {
  let lo = 0;
  let hi = a.length - 1;
  while (hi > lo) {
    const mid = (lo + hi) >> 1;
    let x = a[lo]!, y = a[mid]!, z = a[hi]!;
    if (x > y) [x, y] = [y, x];
    if (y > z) [y, z] = [z, y];
    if (x > y) [x, y] = [y, x];
    const pivot = y;
    let i = lo;
    let j = hi;
    while (i <= j) {
      while (a[i]! < pivot) i++;
      while (a[j]! > pivot) j--;
      if (i <= j) {
        const t = a[i]!;
        a[i] = a[j]!;
        a[j] = t;
        i++;
        j--;
      }
    }
    if (k <= j) hi = j;
    else if (k >= i) lo = i;
    else return a[k]!;
  }
  return a[k]!;
}

/**
 * The hash of 16 × 16 DCT coefficients (row-major): bit (i, j) is set where coefficient (i, j) is
 * above their median.
 */
export function pdqHashFromDct(dct: Float64Array): PdqHash {
  if (!(dct instanceof Float64Array) || dct.length !== 256) throw new RangeError(`pdq: dct must be a Float64Array of 256, got ${String(dct?.length)}`);
  selectScratch.set(dct);
  // Torben's median as the reference uses it: the element of rank (n + 1) / 2 = 128, i.e. index 127.
  const median = selectKth(selectScratch, 127);
  const hash = new Uint8Array(PDQ_HASH_BYTES);
  for (let i = 0; i < 16; i++) {
    // Word i is the (15 − i)th 16-bit group of the hex string, high byte first.
    const hi = 2 * (15 - i);
    for (let j = 0; j < 16; j++) {
      if (dct[i * 16 + j]! > median) hash[j >= 8 ? hi : hi + 1]! |= 1 << (j & 7);
    }
  }
  return hash;
}

// ---------------------------------------------------------------------------------------------
// Hashes as values

const POPCOUNT_8 = (() => {
  const t = new Uint8Array(256);
  for (let i = 1; i < 256; i++) t[i] = (i & 1) + t[i >> 1]!;
  return t;
})();

/** Number of differing bits between two hashes (0..256). */
export function hammingDistance(a: PdqHash, b: PdqHash): number {
  checkHash(a, 'a');
  checkHash(b, 'b');
  let d = 0;
  for (let k = 0; k < PDQ_HASH_BYTES; k++) d += POPCOUNT_8[a[k]! ^ b[k]!]!;
  return d;
}

/** The smallest distance from `query` to any of `hashes` (e.g. the eight dihedral hashes of one image). */
export function minHammingDistance(query: PdqHash, hashes: Iterable<PdqHash>): number {
  let best = PDQ_HASH_BITS + 1;
  for (const h of hashes) best = Math.min(best, hammingDistance(query, h));
  return best;
}

/** The reference's 64-character lower-case hex form. */
export function pdqHashToHex(hash: PdqHash): string {
  checkHash(hash, 'hash');
  return Buffer.from(hash.buffer, hash.byteOffset, PDQ_HASH_BYTES).toString('hex');
}

/** Parses the 64-character hex form (either case). */
export function pdqHashFromHex(hex: string): PdqHash {
  if (typeof hex !== 'string' || !/^[0-9a-fA-F]{64}$/.test(hex)) {
    throw new RangeError(`pdq: hex must be 64 hexadecimal characters, got ${JSON.stringify(String(hex).slice(0, 80))}`);
  }
  return new Uint8Array(Buffer.from(hex, 'hex'));
}

function checkHash(hash: PdqHash, name: string): void {
  if (!(hash instanceof Uint8Array) || hash.length !== PDQ_HASH_BYTES) {
    throw new RangeError(`pdq: ${name} must be a ${PDQ_HASH_BYTES}-byte Uint8Array, got ${hash instanceof Uint8Array ? `${hash.length} bytes` : typeof hash}`);
  }
}
