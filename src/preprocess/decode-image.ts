import sharp from 'sharp';
import { RevmodError } from '@revmod/client';
import { CHANNELS, CROP_SIZE, RESIZE_SHORT_SIDE } from './constants';
import { formatLabel, mapSharpError } from './map-sharp-error';
import { pilBilinearResizeCrop, planResizeCrop } from './pil-resample';
import { DEFAULT_PREPROCESS_OPTIONS, type PreprocessOptions } from './preprocess-options';
import { describeContent, heifBrand, looksLikeSvg, magicFormat } from './sniff';

/** One image ready for normalization: the 224×224 centre crop as HWC RGB bytes. */
export interface PreprocessedImage {
  /** 224 × 224 × 3 bytes, HWC, RGB: the centre crop, upright when orientation was applied. */
  readonly rgb: Buffer;
  /** sharp's detected format: 'jpeg', 'png', 'webp', 'gif', 'tiff', 'heif' (AVIF), 'svg'. */
  readonly format: string;
  /** Width of the source in the frame the crop was taken from (upright when autoOrient). */
  readonly width: number;
  /** Height of the source in the frame the crop was taken from (upright when autoOrient). */
  readonly height: number;
  /** The EXIF orientation found (1 if none), whether or not it was applied. */
  readonly orientation: number;
}

/** Formats decoded here; anything else sharp recognises is UNSUPPORTED_FORMAT (pdf: NOT_AN_IMAGE). */
const RASTER_FORMATS = new Set(['jpeg', 'png', 'webp', 'gif', 'tiff', 'heif']);
/** Loaders for things that are no images at all. */
const NON_IMAGE_FORMATS = new Set(['pdf', 'csv', 'matrix']);

const CROP_BYTES = CROP_SIZE * CROP_SIZE * CHANNELS;

/**
 * torchvision `Resize(256)` output size: the short side becomes 256, the long side
 * int(256 · long / short) (truncated, computed in double precision like Python).
 */
export function torchvisionResizeSize(width: number, height: number): { width: number; height: number } {
  if (width <= height) {
    return { width: RESIZE_SHORT_SIDE, height: Math.floor((RESIZE_SHORT_SIDE * height) / width) };
  }
  return { width: Math.floor((RESIZE_SHORT_SIDE * width) / height), height: RESIZE_SHORT_SIDE };
}

/**
 * torchvision `CenterCrop` offset: int(round((size − crop) / 2)) with Python's round, i.e. halves go
 * to the even neighbour.
 */
export function centreCropOffset(size: number, crop: number = CROP_SIZE): number {
  const twice = size - crop;
  const floor = Math.floor(twice / 2);
  if (twice % 2 === 0) return floor;
  return floor % 2 === 0 ? floor : floor + 1;
}

interface Rect {
  readonly left: number;
  readonly top: number;
}

/**
 * Where the upright centre crop (left `l`, top `t`, N×N) lies in the resized image in its *stored*
 * orientation (`sw` × `sh`), for each EXIF orientation.
 */
function storedCropRect(orientation: number, l: number, t: number, sw: number, sh: number): Rect {
  const n = CROP_SIZE;
  switch (orientation) {
    case 2: return { left: sw - l - n, top: t };
    case 3: return { left: sw - l - n, top: sh - t - n };
    case 4: return { left: l, top: sh - t - n };
    case 5: return { left: t, top: l };
    case 6: return { left: t, top: sh - l - n };
    case 7: return { left: sw - t - n, top: sh - l - n };
    case 8: return { left: sw - t - n, top: l };
    default: return { left: l, top: t };
  }
}

/**
 * Turns an N×N RGB crop taken in stored orientation upright: output pixel (X, Y) comes from stored
 * crop pixel (x, y) as the EXIF orientation prescribes.
 */
function orientCrop(src: Buffer, orientation: number): Buffer {
  if (orientation === 1) return src;
  const n = CROP_SIZE;
  const m = n - 1;
  const out = Buffer.allocUnsafe(CROP_BYTES);
  // Source index = sx * dx + sy * dy + base, stepping X then Y.
  let base: number;
  let stepX: number;
  let stepY: number;
  const px = 3;
  const row = n * 3;
  switch (orientation) {
    case 2: base = m * px; stepX = -px; stepY = row; break;                 // (m−X, Y)
    case 3: base = m * row + m * px; stepX = -px; stepY = -row; break;      // (m−X, m−Y)
    case 4: base = m * row; stepX = px; stepY = -row; break;                // (X, m−Y)
    case 5: base = 0; stepX = row; stepY = px; break;                       // (Y, X)
    case 6: base = m * row; stepX = -row; stepY = px; break;                // (Y, m−X)
    case 7: base = m * row + m * px; stepX = -row; stepY = -px; break;      // (m−Y, m−X)
    case 8: base = m * px; stepX = row; stepY = -px; break;                 // (m−Y, X)
    default: return src;
  }
  let o = 0;
  for (let y = 0, rowStart = base; y < n; y++, rowStart += stepY) {
    for (let x = 0, s = rowStart; x < n; x++, s += stepX) {
      out[o++] = src[s]!;
      out[o++] = src[s + 1]!;
      out[o++] = src[s + 2]!;
    }
  }
  return out;
}

/**
 * PIL's CMYK → RGB conversion (Convert.c cmyk2rgb, no colour management):
 * R = (255 − K) − round((255 − K) · C / 255), likewise G from M and B from Y.
 * `channels` ≥ 4 (a fifth, alpha, band is dropped).
 */
function pilCmykToRgb(cmyk: Buffer, pixels: number, channels: number): Buffer {
  const rgb = Buffer.allocUnsafe(pixels * 3);
  for (let i = 0, s = 0, d = 0; i < pixels; i++, s += channels, d += 3) {
    const nk = 255 - cmyk[s + 3]!;
    let tmp = cmyk[s]! * nk + 128;
    rgb[d] = nk - (((tmp >> 8) + tmp) >> 8);
    tmp = cmyk[s + 1]! * nk + 128;
    rgb[d + 1] = nk - (((tmp >> 8) + tmp) >> 8);
    tmp = cmyk[s + 2]! * nk + 128;
    rgb[d + 2] = nk - (((tmp >> 8) + tmp) >> 8);
  }
  return rgb;
}

function validateOptions(options: PreprocessOptions): void {
  if (!Number.isSafeInteger(options.maxPixels) || options.maxPixels < 1) {
    throw new RevmodError('CONFIG_INVALID', `preprocess maxPixels must be a positive integer, got ${String(options.maxPixels)}`);
  }
  if (options.mode !== 'torchvision' && options.mode !== 'fast') {
    throw new RevmodError('CONFIG_INVALID', `preprocess mode must be 'torchvision' or 'fast', got ${String(options.mode)}`);
  }
}

/**
 * Decodes an uploaded photo and produces the model's 224×224 RGB input, reproducing torchvision's
 * `PIL.Image.open(...).convert('RGB') → Resize(256) → CenterCrop(224)` (measured against reference
 * tensors: see test/unit/preprocess-parity.test.ts):
 *
 * 1. Classify from the header (`sharp.metadata()`, no pixel decoding): zero bytes → OBJECT_EMPTY;
 *    SVG (unless allowSvg) and HEIC/HEVC → UNSUPPORTED_FORMAT; no image format → NOT_AN_IMAGE;
 *    declared width × height > maxPixels → IMAGE_TOO_LARGE.
 * 2. Decode with `failOn: 'warning'` (truncated or damaged data → IMAGE_CORRUPT, never a grey
 *    image), `limitInputPixels: maxPixels`, embedded ICC profiles ignored (PIL ignores them).
 *    Animated GIF/WebP and multi-page TIFF: the first frame only, as PIL's `open()` gives.
 *    Greyscale, palette and 16-bit images become 8-bit RGB (16-bit is scaled to 8 bits; PIL would
 *    clip 16-bit greyscale to 255, a behaviour not copied here).
 * 3. Resize to torchvision's exact size (short side 256, long side int(256·long/short)) with PIL's
 *    antialiased BILINEAR filter. In 'torchvision' mode, where sharp would pre-shrink enough to blur
 *    measurably (see `usePilResampler`: JPEGs with a 4–5× reduction, other rasters and CMYK from 4×),
 *    the image is decoded at full size and resampled in JS by `pil-resample.ts`, bit-exact with
 *    Pillow, computing only the crop; elsewhere sharp resizes with its 'linear' kernel (= PIL's
 *    filter) and `fastShrinkOnLoad: false` (a JPEG is DCT-shrunk on load only so far that at least a
 *    2× reduction is left to the kernel: sharp does that much whatever the option). 'fast' mode
 *    uses sharp with shrink-on-load fully on, except for upscaling (the exact path in both modes).
 * 4. Take the 224×224 crop at int(round((size − 224) / 2)) (Python's banker's rounding).
 *
 * Special cases reproduce PIL's colour handling: CMYK is read raw and converted with PIL's naive
 * formula (bit-exact), and images with alpha have it dropped before resizing (sharp would
 * premultiply, blackening RGB under transparent pixels, which PIL keeps).
 *
 * EXIF orientation (autoOrient, default on): the image is resized in its stored orientation to the
 * transposed target size and the crop rectangle is mapped into that frame; only the 224×224 crop is
 * then rotated/mirrored, so the result equals orienting at full size first (within resampling
 * rounding) at a fraction of the cost.
 *
 * Throws RevmodError (OBJECT_EMPTY, NOT_AN_IMAGE, UNSUPPORTED_FORMAT, IMAGE_TOO_LARGE, IMAGE_CORRUPT,
 * CONFIG_INVALID; INTERNAL for allocation failures).
 */
export async function preprocessImage(
  bytes: Buffer,
  options: PreprocessOptions = DEFAULT_PREPROCESS_OPTIONS,
): Promise<PreprocessedImage> {
  validateOptions(options);
  if (bytes.length === 0) {
    throw new RevmodError('OBJECT_EMPTY', 'the object has zero bytes');
  }
  if (!options.allowSvg && looksLikeSvg(bytes)) {
    throw new RevmodError('UNSUPPORTED_FORMAT', 'SVG images are not accepted (allowSvg is off)');
  }
  const brand = heifBrand(bytes);

  const inputOptions: sharp.SharpOptions = {
    failOn: 'warning',
    limitInputPixels: options.maxPixels,
    ignoreIcc: true,
    autoOrient: false,
    pages: 1,
  };

  // 1. Header only.
  let meta: sharp.Metadata;
  try {
    meta = await sharp(bytes, { ...inputOptions, limitInputPixels: false }).metadata();
  } catch (err) {
    throw mapSharpError(err, {
      stage: 'header',
      format: magicFormat(bytes),
      heifBrand: brand,
      contentHint: describeContent(bytes),
    });
  }
  const format = meta.format as string;
  if (format === 'svg') {
    if (!options.allowSvg) throw new RevmodError('UNSUPPORTED_FORMAT', 'SVG images are not accepted (allowSvg is off)');
  } else if (NON_IMAGE_FORMATS.has(format)) {
    throw new RevmodError('NOT_AN_IMAGE', `not an image: ${format === 'pdf' ? 'a PDF document' : `${format} data`}`);
  } else if (!RASTER_FORMATS.has(format)) {
    throw new RevmodError('UNSUPPORTED_FORMAT', `${formatLabel(format)} images are not accepted`);
  }
  if (format === 'heif' && meta.compression !== 'av1') {
    throw new RevmodError(
      'UNSUPPORTED_FORMAT',
      `HEIF image with ${meta.compression ?? 'unknown'} compression (HEIC): this worker decodes AVIF only`,
    );
  }

  const storedW = meta.width;
  const storedH = meta.height;
  if (!(storedW > 0 && storedH > 0)) {
    throw new RevmodError('IMAGE_CORRUPT', `corrupt ${formatLabel(format)} header: no image dimensions`);
  }
  const declared = storedW * storedH;
  if (declared > options.maxPixels) {
    throw new RevmodError(
      'IMAGE_TOO_LARGE',
      `${formatLabel(format)} declares ${storedW}×${storedH} = ${declared} pixels, more than the limit of ${options.maxPixels}`,
    );
  }

  const found = Number.isInteger(meta.orientation) && meta.orientation! >= 1 && meta.orientation! <= 8 ? meta.orientation! : 1;
  const applied = options.autoOrient ? found : 1;
  const transposed = applied >= 5;
  const uprightW = transposed ? storedH : storedW;
  const uprightH = transposed ? storedW : storedH;

  const resized = torchvisionResizeSize(uprightW, uprightH);
  if (resized.width * resized.height > options.maxPixels) {
    throw new RevmodError(
      'IMAGE_TOO_LARGE',
      `${formatLabel(format)} of ${uprightW}×${uprightH} has too extreme an aspect ratio: resizing it to a 256-pixel short side gives ` +
        `${resized.width}×${resized.height} pixels, more than the limit of ${options.maxPixels}`,
    );
  }
  const left = centreCropOffset(resized.width);
  const top = centreCropOffset(resized.height);
  const storedResizedW = transposed ? resized.height : resized.width;
  const storedResizedH = transposed ? resized.width : resized.height;
  const rect = storedCropRect(applied, left, top, storedResizedW, storedResizedH);
  const extract = { left: rect.left, top: rect.top, width: CROP_SIZE, height: CROP_SIZE };
  const resize: sharp.ResizeOptions = {
    width: storedResizedW,
    height: storedResizedH,
    fit: 'fill',
    kernel: 'linear',
    fastShrinkOnLoad: options.mode === 'fast',
  };

  // 2–4. Decode, resize, crop (in stored orientation).
  let crop: Buffer;
  try {
    const upscale = storedResizedW > storedW || storedResizedH > storedH;
    if ((options.mode === 'torchvision' || upscale) && usePilResampler(format, meta.space === 'cmyk', storedW, storedH, storedResizedW, storedResizedH)) {
      crop = await pilResampledCrop(bytes, inputOptions, meta.space, storedW, storedH, storedResizedW, storedResizedH, rect);
    } else if (meta.space === 'cmyk') {
      crop = await cmykCrop(bytes, inputOptions, storedW, storedH, resize, extract, options);
    } else if (meta.hasAlpha) {
      // Drop alpha at full size first: a resize would premultiply and blacken RGB under alpha 0.
      const full = await sharp(bytes, inputOptions).removeAlpha().raw().toBuffer({ resolveWithObject: true });
      crop = await rawRgbCrop(full.data, full.info.width, full.info.height, full.info.channels, resize, extract, options);
    } else {
      crop = await sharp(bytes, inputOptions).resize(resize).extract(extract).removeAlpha().raw().toBuffer();
    }
  } catch (err) {
    throw mapSharpError(err, { stage: 'decode', format });
  }
  if (crop.length !== CROP_BYTES) {
    throw new RevmodError('INTERNAL', `preprocess produced ${crop.length} bytes, expected ${CROP_BYTES}`);
  }

  return {
    rgb: orientCrop(crop, applied),
    format,
    width: options.autoOrient ? uprightW : storedW,
    height: options.autoOrient ? uprightH : storedH,
    orientation: found,
  };
}

async function rawRgbCrop(
  data: Buffer,
  width: number,
  height: number,
  channels: number,
  resize: sharp.ResizeOptions,
  extract: sharp.Region,
  options: PreprocessOptions,
): Promise<Buffer> {
  if (channels !== 3) {
    throw new RevmodError('INTERNAL', `expected 3 channels after removing alpha, got ${channels}`);
  }
  return sharp(data, { raw: { width, height, channels: 3 }, limitInputPixels: options.maxPixels })
    .resize({ ...resize, fastShrinkOnLoad: false })
    .extract(extract)
    .raw()
    .toBuffer();
}

/**
 * CMYK: libvips would convert through an ICC transform; PIL (and hence the training data) uses a
 * naive formula. 'torchvision' mode reads the raw CMYK at full size and converts it before resizing
 * (bit-exact with PIL); 'fast' mode resizes the CMYK bands and converts only the crop.
 */
async function cmykCrop(
  bytes: Buffer,
  inputOptions: sharp.SharpOptions,
  width: number,
  height: number,
  resize: sharp.ResizeOptions,
  extract: sharp.Region,
  options: PreprocessOptions,
): Promise<Buffer> {
  if (options.mode === 'fast') {
    const small = await sharp(bytes, inputOptions)
      .pipelineColourspace('cmyk')
      .resize(resize)
      .extract(extract)
      .toColourspace('cmyk')
      .raw()
      .toBuffer({ resolveWithObject: true });
    return pilCmykToRgb(small.data, CROP_SIZE * CROP_SIZE, small.info.channels);
  }
  const full = await sharp(bytes, inputOptions)
    .pipelineColourspace('cmyk')
    .toColourspace('cmyk')
    .raw()
    .toBuffer({ resolveWithObject: true });
  if (full.info.width !== width || full.info.height !== height || full.info.channels < 4) {
    throw new RevmodError('INTERNAL', `unexpected raw CMYK decode ${full.info.width}×${full.info.height}×${full.info.channels}`);
  }
  const rgb = pilCmykToRgb(full.data, width * height, full.info.channels);
  return rawRgbCrop(rgb, width, height, 3, resize, extract, options);
}

/**
 * sharp's JPEG shrink-on-load factor with `fastShrinkOnLoad: false` (sharp's pipeline.cc): the
 * largest of 8, 4, 2 that still leaves at least a 2× reduction for the resize kernel, from the smaller
 * of the two axis shrinks.
 */
function sharpJpegShrinkOnLoad(shrink: number): number {
  if (shrink >= 16) return 8;
  if (shrink >= 8) return 4;
  if (shrink >= 4) return 2;
  return 1;
}

/**
 * Whether 'torchvision' mode resizes with Pillow's resampler in JS (`pil-resample.ts`, bit-exact with
 * the reference) instead of sharp. sharp's 'linear' resize is PIL's filter, but a reduction of 4× or
 * more is pre-shrunk first — a JPEG by a 2×/4×/8× DCT shrink on load, any other (fully decoded) image
 * by libvips' box shrink of floor(shrink / 2) — which blurs fine texture more than PIL's single
 * antialiased pass; the more so, the closer to 2× the reduction left to the kernel. The exact path
 * decodes at full size, so it is used where sharp is measurably off and the full decode is cheap.
 *
 * Rule (mean |Δ| in normalized units against the exact result, measured on four 12 MP photos
 * re-encoded 1024–4032 px wide and on ../shared/parity; CPU ms per image, one stream, 2-core box):
 * - JPEG (not CMYK): exact when sharp's DCT shrink would be 2× with less than 2.5× left, i.e. a shrink
 *   of 4–5 (short side 1024–1279: 1440×1080, 1080×1080, 1280×960 …). sharp there: up to 0.0103
 *   (parity path_1440x1080_q85.jpg, over the 0.01 bound), 0.009 on other textured photos. Cost: the
 *   full decode plus ~4.5 ms of JS, 1440×1080 6.1 → 12.3 ms, 1080×1080 3.3 → 9.2, greyscale
 *   1440×1080 3.9 → 6.9. Other JPEGs keep sharp: ≤ 0.0045 below 4×, ≤ 0.0058 at 5–8×, ≤ 0.0090 at
 *   8–10× and 0.0040–0.0056 at 12 MP (11.8×), where the exact path would cost 3–3.5× (12 MP: 20 → 64 ms).
 * - Other rasters (PNG, WebP, GIF, TIFF, AVIF) and CMYK JPEGs: exact whenever libvips would box-shrink
 *   (shrink ≥ 4 on either axis). They are decoded at full size either way, so only the resampling
 *   costs more: 1.2–1.6 MP WebP 21.1 → 24.3 ms, PNG with alpha 20.6 → 22.4, CMYK 16.5 → 16.5;
 *   12 MP WebP 154 → 178. sharp there: up to 0.0136 on textured WebP/PNG (6–8×, box 3×), 0.0100 at 12 MP.
 * - Below 4× sharp resizes in one pass (≤ 0.0045) and keeps doing it; so do 'fast' mode and SVG
 *   (rendered at the target scale; no PIL counterpart).
 * - Upscaling (short side under 256), in both modes: sharp's linear upscale is not PIL's (240×160 JPEG
 *   of test/fixtures/parity: mean 0.0230, max 0.70, over both modes' bounds); the source is small, so
 *   the exact path costs little.
 */
function usePilResampler(format: string, cmyk: boolean, width: number, height: number, outWidth: number, outHeight: number): boolean {
  if (format === 'svg') return false;
  if (outWidth > width || outHeight > height) return true;
  const hshrink = width / outWidth;
  const vshrink = height / outHeight;
  if (format === 'jpeg' && !cmyk) {
    const shrink = Math.min(hshrink, vshrink);
    const onLoad = sharpJpegShrinkOnLoad(shrink);
    return onLoad === 2 && shrink / onLoad < 2.5;
  }
  return Math.max(hshrink, vshrink) >= 4;
}

/**
 * The exact path: decode at full size with sharp, keeping only the columns the crop reads but every
 * row (so that truncated or damaged data anywhere is still detected, as on sharp's path), then
 * Pillow's resampler for the crop alone. CMYK is read raw and converted with PIL's formula first;
 * greyscale stays one band (resampled once, then replicated); an alpha band is read and ignored
 * (PIL's convert('RGB') drops it, without compositing).
 */
async function pilResampledCrop(
  bytes: Buffer,
  inputOptions: sharp.SharpOptions,
  space: string | undefined,
  width: number,
  height: number,
  outWidth: number,
  outHeight: number,
  rect: Rect,
): Promise<Buffer> {
  const plan = planResizeCrop(width, height, outWidth, outHeight, { left: rect.left, top: rect.top, width: CROP_SIZE, height: CROP_SIZE });
  const region = { left: plan.source.left, top: 0, width: plan.source.width, height };
  let pipeline = sharp(bytes, inputOptions);
  if (region.width !== width) pipeline = pipeline.extract(region);
  const cmyk = space === 'cmyk';
  if (cmyk) pipeline = pipeline.pipelineColourspace('cmyk').toColourspace('cmyk');
  else if (space === 'b-w') pipeline = pipeline.toColourspace('b-w');
  const { data, info } = await pipeline.raw().toBuffer({ resolveWithObject: true });
  const [minChannels, maxChannels] = cmyk ? [4, 5] : [1, 4];
  if (info.width !== region.width || info.height !== region.height || info.channels < minChannels || info.channels > maxChannels) {
    throw new RevmodError(
      'INTERNAL',
      `unexpected raw decode ${info.width}×${info.height}×${info.channels} of a ${region.width}×${region.height} region`,
    );
  }
  const source = cmyk
    ? { data: pilCmykToRgb(data, region.width * region.height, info.channels), channels: 3, rect: region }
    : { data, channels: info.channels, rect: region };
  const out = Buffer.allocUnsafe(CROP_BYTES);
  try {
    pilBilinearResizeCrop(source, plan, out);
  } catch (err) {
    // Only a broken invariant or a failed allocation can land here: never the image's fault.
    throw new RevmodError('INTERNAL', `resampling failed: ${err instanceof Error ? err.message : String(err)}`, { cause: err });
  }
  return out;
}
