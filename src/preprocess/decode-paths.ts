import sharp from 'sharp';
import { RevmodError } from '@revmod/client';
import { CHANNELS } from './constants';
import { pilCmykToRgb } from './colour';
import { decodeHeic } from './heic-decoder';
import { mapSharpError } from './map-sharp-error';
import { pilBilinearResizeCrop, planResizeCrop } from './pil-resample';
import type { PreprocessPlan, Size } from './plan';
import type { DecodeOptions } from './preprocess-options';
import { sharpInputOptions, type ImageHeader } from './read-header';

/**
 * How an image is decoded and resized:
 * - 'exact': full decode, then Pillow's resampler in JS (pil-resample.ts), bit-exact with PIL;
 * - 'cmyk': raw CMYK read and converted with PIL's formula, then sharp resizes;
 * - 'alpha': alpha dropped at full size, then sharp resizes (sharp would premultiply in its resize,
 *   blackening RGB under transparent pixels, which PIL keeps);
 * - 'sharp': sharp decodes and resizes in one pipeline;
 * - 'heic': libheif-js decodes (heic-decoder.ts), then Pillow's resampler or sharp resizes the
 *   decoded pixels, by the same rule as the other formats.
 */
export type DecodePath = 'exact' | 'cmyk' | 'alpha' | 'sharp' | 'heic';

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
 * Whether 'torchvision' mode takes the exact path instead of sharp. sharp's 'linear' resize is PIL's
 * filter, but a reduction of 4× or more is pre-shrunk first (a JPEG by a DCT shrink on load, any
 * other image by libvips' box shrink of floor(shrink / 2)), which blurs fine texture more than PIL's
 * single antialiased pass. The exact path decodes at full size, so it is taken where sharp is
 * measurably off and the full decode is cheap (figures in docs/preprocessing.md):
 * - JPEG (not CMYK): where the DCT shrink would be 2× with less than 2.5× left (a shrink of 4–5);
 * - other rasters and CMYK JPEGs (decoded at full size either way): wherever libvips would box-shrink;
 * - upscaling, in both modes: sharp's linear upscale is not PIL's, and a small source is cheap;
 * - never for SVG (rendered at the target scale; no PIL counterpart).
 */
function usePilResampler(format: string, cmyk: boolean, stored: Size, resizeTo: Size): boolean {
  if (format === 'svg') return false;
  if (isUpscale(stored, resizeTo)) return true;
  const hshrink = stored.width / resizeTo.width;
  const vshrink = stored.height / resizeTo.height;
  if (format === 'jpeg' && !cmyk) {
    const shrink = Math.min(hshrink, vshrink);
    const onLoad = sharpJpegShrinkOnLoad(shrink);
    return onLoad === 2 && shrink / onLoad < 2.5;
  }
  return Math.max(hshrink, vshrink) >= 4;
}

const isUpscale = (stored: Size, resizeTo: Size) => resizeTo.width > stored.width || resizeTo.height > stored.height;

/** The decode path for an image resized to `resizeTo` (in its stored orientation). */
export function chooseDecodePath(header: ImageHeader, resizeTo: Size, mode: DecodeOptions['mode']): DecodePath {
  if (header.format === 'heic') return 'heic';
  const cmyk = header.space === 'cmyk';
  const exactAllowed = mode === 'torchvision' || isUpscale(header, resizeTo);
  if (exactAllowed && usePilResampler(header.format, cmyk, header, resizeTo)) return 'exact';
  if (cmyk) return 'cmyk';
  if (header.hasAlpha) return 'alpha';
  return 'sharp';
}

/**
 * Decodes, resizes and crops as the plan says: the crop as HWC RGB bytes, still in the stored
 * orientation.
 * @throws RevmodError IMAGE_CORRUPT (and the other codes of mapSharpError); INTERNAL when a decode
 * comes back in an unexpected shape.
 */
export async function decodeCrop(bytes: Buffer, plan: PreprocessPlan, options: DecodeOptions, page = 0): Promise<Buffer> {
  let crop: Buffer;
  try {
    crop = await PATHS[plan.path](bytes, plan, options, sharpInputOptions(options, page));
  } catch (err) {
    throw mapSharpError(err, { stage: 'decode', format: plan.format });
  }
  const expected = plan.crop.width * plan.crop.height * CHANNELS;
  if (crop.length !== expected) {
    throw new RevmodError('INTERNAL', `preprocess produced ${crop.length} bytes, expected ${expected}`);
  }
  return crop;
}

/** sharp's resize to the plan's size with PIL's filter; shrink-on-load fully on only in 'fast' mode. */
function sharpResize(plan: PreprocessPlan, options: DecodeOptions): sharp.ResizeOptions {
  return { ...plan.resizeTo, fit: 'fill', kernel: 'linear', fastShrinkOnLoad: options.mode === 'fast' };
}

function sharpCrop(bytes: Buffer, plan: PreprocessPlan, options: DecodeOptions, input: sharp.SharpOptions): Promise<Buffer> {
  return sharp(bytes, input).resize(sharpResize(plan, options)).extract(plan.crop).removeAlpha().raw().toBuffer();
}

/** Resizes and crops RGB pixels already decoded at full size (an alpha band, if any, is dropped). */
export function rawRgbCrop(rgb: Buffer, size: Size, plan: PreprocessPlan, options: DecodeOptions, channels: 3 | 4 = 3): Promise<Buffer> {
  return sharp(rgb, { raw: { ...size, channels }, limitInputPixels: options.maxPixels })
    .removeAlpha()
    .resize({ ...sharpResize(plan, options), fastShrinkOnLoad: false })
    .extract(plan.crop)
    .raw()
    .toBuffer();
}

/**
 * The 'heic' path: libheif-js decodes the primary image at full size; the crop is then taken with
 * Pillow's resampler where 'torchvision' mode would take the exact path for any other non-JPEG
 * raster (a shrink of 4× or more, or an upscale), else by sharp from the raw pixels. Returns the
 * decoded pixels too, for the detector views.
 */
export async function heicDecode(bytes: Buffer, plan: PreprocessPlan, options: DecodeOptions): Promise<{ crop: Buffer; pixels: { data: Buffer; channels: number; size: Size } }> {
  const pixels = await decodeHeic(bytes, options.maxPixels);
  if (pixels.size.width !== plan.stored.width || pixels.size.height !== plan.stored.height) {
    throw new RevmodError('IMAGE_CORRUPT', `HEIC decoded to ${pixels.size.width}×${pixels.size.height}, its header says ${plan.stored.width}×${plan.stored.height}`);
  }
  const exactAllowed = options.mode === 'torchvision' || isUpscale(plan.stored, plan.resizeTo);
  if (!(exactAllowed && usePilResampler('heic', false, plan.stored, plan.resizeTo))) {
    return { crop: await rawRgbCrop(pixels.data, pixels.size, plan, options, 4), pixels };
  }
  const resample = planResizeCrop(pixels.size.width, pixels.size.height, plan.resizeTo.width, plan.resizeTo.height, plan.crop);
  const crop = Buffer.allocUnsafe(plan.crop.width * plan.crop.height * CHANNELS);
  try {
    pilBilinearResizeCrop({ data: pixels.data, channels: 4, rect: { left: 0, top: 0, ...pixels.size } }, resample, crop);
  } catch (err) {
    throw new RevmodError('INTERNAL', `resampling failed: ${err instanceof Error ? err.message : String(err)}`, { cause: err });
  }
  return { crop, pixels };
}

async function heicCrop(bytes: Buffer, plan: PreprocessPlan, options: DecodeOptions): Promise<Buffer> {
  return (await heicDecode(bytes, plan, options)).crop;
}

/** The whole image as RGB, alpha dropped without compositing (as PIL's convert('RGB')). */
export async function decodeRgbDroppingAlpha(bytes: Buffer, input: sharp.SharpOptions): Promise<{ data: Buffer; size: Size }> {
  const full = await sharp(bytes, input).removeAlpha().raw().toBuffer({ resolveWithObject: true });
  if (full.info.channels !== 3) {
    throw new RevmodError('INTERNAL', `expected 3 channels after removing alpha, got ${full.info.channels}`);
  }
  return { data: full.data, size: { width: full.info.width, height: full.info.height } };
}

async function alphaCrop(bytes: Buffer, plan: PreprocessPlan, options: DecodeOptions, input: sharp.SharpOptions): Promise<Buffer> {
  const full = await decodeRgbDroppingAlpha(bytes, input);
  return rawRgbCrop(full.data, full.size, plan, options);
}

/**
 * CMYK off the exact path: 'torchvision' mode reads the raw CMYK at full size and converts it before
 * resizing (bit-exact with PIL's conversion); 'fast' mode resizes the CMYK bands and converts only
 * the crop.
 */
async function cmykCrop(bytes: Buffer, plan: PreprocessPlan, options: DecodeOptions, input: sharp.SharpOptions): Promise<Buffer> {
  if (options.mode === 'fast') {
    const small = await sharp(bytes, input)
      .pipelineColourspace('cmyk')
      .resize(sharpResize(plan, options))
      .extract(plan.crop)
      .toColourspace('cmyk')
      .raw()
      .toBuffer({ resolveWithObject: true });
    return pilCmykToRgb(small.data, plan.crop.width * plan.crop.height, small.info.channels);
  }
  return rawRgbCrop(await decodeCmykAsRgb(bytes, plan, input), plan.stored, plan, options);
}

/** The whole CMYK image as RGB by PIL's formula (bit-exact with PIL's conversion). */
export async function decodeCmykAsRgb(bytes: Buffer, plan: PreprocessPlan, input: sharp.SharpOptions): Promise<Buffer> {
  const full = await sharp(bytes, input).pipelineColourspace('cmyk').toColourspace('cmyk').raw().toBuffer({ resolveWithObject: true });
  const { width, height } = plan.stored;
  if (full.info.width !== width || full.info.height !== height || full.info.channels < 4) {
    throw new RevmodError('INTERNAL', `unexpected raw CMYK decode ${full.info.width}×${full.info.height}×${full.info.channels}`);
  }
  return pilCmykToRgb(full.data, width * height, full.info.channels);
}

/**
 * The exact path: decode at full size with sharp, keeping only the columns the crop reads but every
 * row (so that truncated or damaged data anywhere is still detected, as on sharp's path), then
 * Pillow's resampler for the crop alone. CMYK is read raw and converted with PIL's formula first;
 * greyscale stays one band (resampled once, then replicated); an alpha band is read and ignored
 * (PIL's convert('RGB') drops it, without compositing).
 */
async function exactCrop(bytes: Buffer, plan: PreprocessPlan, options: DecodeOptions, input: sharp.SharpOptions): Promise<Buffer> {
  return (await exactDecode(bytes, plan, input, false)).crop;
}

/**
 * The exact path's decode and crop. With `wholeImage`, every column is decoded (for the detector
 * views) and the decoded pixels are returned too: 1 (greyscale), 3 or 4 (alpha, ignored) channels.
 */
export async function exactDecode(
  bytes: Buffer, plan: PreprocessPlan, input: sharp.SharpOptions, wholeImage: boolean,
): Promise<{ crop: Buffer; pixels: { data: Buffer; channels: number; size: Size } }> {
  const { width, height } = plan.stored;
  const resample = planResizeCrop(width, height, plan.resizeTo.width, plan.resizeTo.height, plan.crop);
  const region = wholeImage ? { left: 0, top: 0, width, height } : { left: resample.source.left, top: 0, width: resample.source.width, height };
  let pipeline = sharp(bytes, input);
  if (region.width !== width) pipeline = pipeline.extract(region);
  const cmyk = plan.space === 'cmyk';
  if (cmyk) pipeline = pipeline.pipelineColourspace('cmyk').toColourspace('cmyk');
  else if (plan.space === 'b-w') pipeline = pipeline.toColourspace('b-w');
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
  const out = Buffer.allocUnsafe(plan.crop.width * plan.crop.height * CHANNELS);
  try {
    pilBilinearResizeCrop(source, resample, out);
  } catch (err) {
    // Only a broken invariant or a failed allocation can land here: never the image's fault.
    throw new RevmodError('INTERNAL', `resampling failed: ${err instanceof Error ? err.message : String(err)}`, { cause: err });
  }
  return { crop: out, pixels: { data: source.data, channels: source.channels, size: { width: region.width, height: region.height } } };
}

type PathDecoder = (bytes: Buffer, plan: PreprocessPlan, options: DecodeOptions, input: sharp.SharpOptions) => Promise<Buffer>;

const PATHS: Readonly<Record<DecodePath, PathDecoder>> = {
  exact: exactCrop,
  cmyk: cmykCrop,
  alpha: alphaCrop,
  sharp: sharpCrop,
  heic: heicCrop,
};

/**
 * The crops of several frames of an animated image from one read of its pages, where that gives
 * the bytes the frame-by-frame decode gives (`decodeCrop(…, page)`): the exact path, the alpha path
 * and sharp's path without shrink-on-load, all of which resize full-size pixels. One read matters:
 * a GIF or WebP frame is composed from every frame before it, so reading each sampled frame on its
 * own decodes the start of the animation again and again (cost quadratic in the frames sampled).
 * Returns undefined where it does not apply or the decoded pages would exceed `maxPixels` (then
 * the caller decodes frame by frame).
 */
export async function decodeFrameCrops(bytes: Buffer, plan: PreprocessPlan, options: DecodeOptions, pages: readonly number[], shrinksOnLoad: boolean): Promise<Buffer[] | undefined> {
  if (pages.length === 0) return [];
  if (plan.path === 'heic' || plan.path === 'cmyk' || plan.space === 'b-w' || plan.space === 'cmyk') return undefined;
  if (plan.path === 'sharp' && shrinksOnLoad) return undefined;
  const first = Math.min(...pages);
  const last = Math.max(...pages);
  const { width, height } = plan.stored;
  const count = last - first + 1;
  if (count * width * height > options.maxPixels) return undefined;
  const { data, info } = await sharp(bytes, { ...sharpInputOptions(options, first), pages: count, limitInputPixels: false }).raw().toBuffer({ resolveWithObject: true });
  if (info.width !== width || info.height !== height * count || info.channels < 3 || info.channels > 4) {
    throw new RevmodError('INTERNAL', `unexpected raw decode ${info.width}×${info.height}×${info.channels} of ${count} ${width}×${height} frames`);
  }
  const channels = info.channels as 3 | 4;
  const frameBytes = width * height * channels;
  const resample = plan.path === 'exact' ? planResizeCrop(width, height, plan.resizeTo.width, plan.resizeTo.height, plan.crop) : undefined;
  const crops: Buffer[] = [];
  for (const page of pages) {
    const frame = data.subarray((page - first) * frameBytes, (page - first + 1) * frameBytes);
    if (resample) {
      const out = Buffer.allocUnsafe(plan.crop.width * plan.crop.height * CHANNELS);
      pilBilinearResizeCrop({ data: frame, channels, rect: { left: 0, top: 0, width, height } }, resample, out);
      // The exact path reads RGB from an RGBA frame itself (pil-resample keeps the first three bands).
      crops.push(out);
    } else {
      // Alpha dropped before the resize, as the alpha path does (and as sharp's path sees a frame without one).
      crops.push(await rawRgbCrop(frame, { width, height }, plan, options, channels));
    }
  }
  return crops;
}
