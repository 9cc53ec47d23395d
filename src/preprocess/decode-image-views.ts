import sharp from 'sharp';
import { RevmodError } from '@revmod/client';
import { CHANNELS } from './constants';
import { decodeCmykAsRgb, decodeCrop, decodeFrameCrops, decodeRgbDroppingAlpha, exactDecode, heicDecode, rawRgbCrop } from './decode-paths';
import { mapSharpError } from './map-sharp-error';
import { orientCrop, planPreprocess, type PreprocessPlan, type Size } from './plan';
import type { PreprocessOptions } from './preprocess-options';
import { readHeader, sharpInputOptions, type ImageHeader } from './read-header';
import { validatePreprocessOptions } from './validate-options';

/** Decoded pixels for a detector: HWC, 8-bit, upright. */
export interface PixelView {
  readonly data: Uint8Array;
  readonly width: number;
  readonly height: number;
  readonly channels: 1 | 3;
}

/** The detector views wanted besides the model's crop, by longest side in pixels (0: none). */
export interface ViewRequest {
  /** A greyscale view (blur, text gate, perceptual hash). @defaultValue 0 */
  readonly greyMaxSide?: number;
  /** An RGB view (QR codes, OCR). @defaultValue 0 */
  readonly rgbMaxSide?: number;
  /** Frames of an animated image to judge: first, last and evenly between. @defaultValue 1 */
  readonly maxFrames?: number;
}

export interface DecodedImage {
  readonly header: ImageHeader;
  readonly plan: PreprocessPlan;
  /** The model's input per frame judged: cropSize² × 3 bytes, HWC RGB, upright. The first is frame 0. */
  readonly crops: Buffer[];
  /** Which frames `crops` are, by index in the image. */
  readonly frames: number[];
  readonly grey: PixelView | undefined;
  readonly rgb: PixelView | undefined;
  /**
   * Whether the views came from the model's own decode (true), or needed a second, shrink-on-load
   * decode (large JPEGs, whose crop path decodes at a DCT-reduced scale inside one libvips pipeline).
   */
  readonly viewsFromModelDecode: boolean;
  /**
   * One more view of the first frame, made on demand from the same decoded pixels (a shrink-on-load
   * decode for large JPEGs): for views only some images need, such as OCR's behind the text gate.
   */
  viewOf(kind: 'grey' | 'rgb', maxSide: number): Promise<PixelView>;
}

/** Frame indices to judge in an image of `pages` frames: first, last and evenly between, at most `max`. */
export function sampleFrames(pages: number, max: number): number[] {
  if (pages <= 1 || max <= 1) return [0];
  const n = Math.min(pages, max);
  const out = new Set<number>();
  for (let i = 0; i < n; i++) out.add(Math.round((i * (pages - 1)) / (n - 1)));
  return [...out];
}

/** sharp operations that stand a stored image upright for an EXIF orientation (checked against sharp's own auto-orientation in the tests). */
function uprightOps(pipeline: sharp.Sharp, orientation: number): sharp.Sharp {
  switch (orientation) {
    case 2: return pipeline.flop();
    case 3: return pipeline.rotate(180);
    case 4: return pipeline.flip();
    case 5: return pipeline.rotate(270).flop();
    case 6: return pipeline.rotate(90);
    case 7: return pipeline.rotate(90).flop();
    case 8: return pipeline.rotate(270);
    default: return pipeline;
  }
}

/** The whole decoded image, for views: 1 or 3 channels used (an alpha band is dropped). */
interface FullPixels {
  readonly data: Buffer;
  readonly channels: number;
  readonly size: Size;
}

async function viewFrom(pixels: FullPixels, maxSide: number, grey: boolean, orientation: number): Promise<PixelView> {
  let pipeline = sharp(pixels.data, { raw: { ...pixels.size, channels: pixels.channels as 1 | 2 | 3 | 4 } });
  if (pixels.channels === 4 || pixels.channels === 2) pipeline = pipeline.removeAlpha();
  pipeline = pipeline.resize({ width: maxSide, height: maxSide, fit: 'inside', withoutEnlargement: true, kernel: 'linear' });
  pipeline = uprightOps(pipeline, orientation);
  pipeline = grey ? pipeline.toColourspace('b-w') : pipeline.toColourspace('srgb');
  const { data, info } = await pipeline.raw().toBuffer({ resolveWithObject: true });
  const channels = grey ? 1 : 3;
  if (info.channels !== channels) throw new RevmodError('INTERNAL', `view has ${info.channels} channels, expected ${channels}`);
  return { data, width: info.width, height: info.height, channels };
}

/**
 * The model's first crop and the whole decoded image from ONE decode, where the crop's path decodes
 * at full size (undefined pixels otherwise: the large-JPEG path).
 */
async function cropWithPixels(bytes: Buffer, plan: PreprocessPlan, options: PreprocessOptions): Promise<{ crop: Buffer; pixels: FullPixels | undefined }> {
  const input = sharpInputOptions(options);
  switch (plan.path) {
    case 'heic':
      return heicDecode(bytes, plan, options);
    case 'exact': {
      const { crop, pixels } = await exactDecode(bytes, plan, input, true);
      return { crop, pixels };
    }
    case 'alpha': {
      const full = await decodeRgbDroppingAlpha(bytes, input);
      return { crop: await rawRgbCrop(full.data, full.size, plan, options), pixels: { data: full.data, channels: 3, size: full.size } };
    }
    case 'cmyk': {
      if (options.mode === 'fast') return { crop: await decodeCrop(bytes, plan, options), pixels: undefined };
      const rgb = await decodeCmykAsRgb(bytes, plan, input);
      return { crop: await rawRgbCrop(rgb, plan.stored, plan, options), pixels: { data: rgb, channels: 3, size: plan.stored } };
    }
    case 'sharp': {
      if (shrinksOnLoad(plan, options)) return { crop: await decodeCrop(bytes, plan, options), pixels: undefined };
      // No shrink-on-load: a full decode then the same resize on raw pixels gives the same bytes.
      const { data, info } = await sharp(bytes, input).removeAlpha().raw().toBuffer({ resolveWithObject: true });
      const size = { width: info.width, height: info.height };
      return { crop: await rawRgbCrop(data, size, plan, options), pixels: { data, channels: info.channels, size } };
    }
  }
}

/** Whether sharp's one-pipeline resize decodes this image at a reduced scale (JPEG DCT or WebP shrink on load). */
function shrinksOnLoad(plan: PreprocessPlan, options: PreprocessOptions): boolean {
  const shrink = Math.min(plan.stored.width / plan.resizeTo.width, plan.stored.height / plan.resizeTo.height);
  if (plan.format === 'jpeg') return options.mode === 'fast' ? shrink >= 2 : shrink >= 4;
  return plan.format === 'webp' && options.mode === 'fast' && shrink >= 2;
}

/**
 * Decodes an upload once for everything that looks at its pixels: the model's crop (exactly as
 * `preprocessImage` makes it, so parity holds) and, derived from the same decoded pixels, the
 * detector views, upright. Only where the crop's own decode is at a reduced scale (large JPEGs) do
 * the views take a second, shrink-on-load decode. Animated images give one crop per sampled frame;
 * the views come from the first frame.
 * @throws RevmodError as `preprocessImage`.
 */
export async function decodeImage(bytes: Buffer, options: PreprocessOptions, request: ViewRequest = {}): Promise<DecodedImage> {
  validatePreprocessOptions(options);
  const greyMaxSide = request.greyMaxSide ?? 0;
  const rgbMaxSide = request.rgbMaxSide ?? 0;
  const header = await readHeader(bytes, options);
  const plan = planPreprocess(header, options);
  const frames = sampleFrames(header.pages, request.maxFrames ?? 1);
  const wantViews = greyMaxSide > 0 || rgbMaxSide > 0;
  let first: { crop: Buffer; pixels: FullPixels | undefined };
  try {
    first = wantViews ? await cropWithPixels(bytes, plan, options) : { crop: await decodeCrop(bytes, plan, options), pixels: undefined };
  } catch (err) {
    throw mapSharpError(err, { stage: 'decode', format: plan.format });
  }
  const n = options.cropSize;
  if (first.crop.length !== n * n * CHANNELS) throw new RevmodError('INTERNAL', `preprocess produced ${first.crop.length} bytes, expected ${n * n * CHANNELS}`);
  const crops = [orientCrop(first.crop, plan.applied, n)];
  const rest = frames.slice(1);
  let together: Buffer[] | undefined;
  try {
    together = await decodeFrameCrops(bytes, plan, options, rest, shrinksOnLoad(plan, options));
  } catch (err) {
    throw mapSharpError(err, { stage: 'decode', format: plan.format });
  }
  if (together) for (const crop of together) crops.push(orientCrop(crop, plan.applied, n));
  else for (const page of rest) crops.push(orientCrop(await decodeCrop(bytes, plan, options, page), plan.applied, n));

  // The decoded pixels views come from; the large-JPEG path makes them by a shrink-on-load decode
  // big enough for the largest view asked for.
  let pixels = first.pixels;
  const sourceFor = async (side: number): Promise<FullPixels> => {
    if (pixels !== undefined) return pixels;
    const { data, info } = await sharp(bytes, sharpInputOptions(options))
      .resize({ width: side, height: side, fit: 'inside', withoutEnlargement: true, fastShrinkOnLoad: true })
      .removeAlpha().raw().toBuffer({ resolveWithObject: true });
    const decoded = { data, channels: info.channels, size: { width: info.width, height: info.height } };
    // Kept only when it is the full image (it was not reduced): else a later, larger view decodes again.
    if (info.width === plan.stored.width && info.height === plan.stored.height) pixels = decoded;
    return decoded;
  };
  const viewOf = async (kind: 'grey' | 'rgb', maxSide: number): Promise<PixelView> => {
    try {
      return await viewFrom(await sourceFor(maxSide), maxSide, kind === 'grey', plan.applied);
    } catch (err) {
      throw mapSharpError(err, { stage: 'decode', format: plan.format });
    }
  };
  let grey: PixelView | undefined;
  let rgb: PixelView | undefined;
  if (wantViews) {
    try {
      const source = await sourceFor(Math.max(greyMaxSide, rgbMaxSide));
      if (rgbMaxSide > 0) rgb = await viewFrom(source, rgbMaxSide, false, plan.applied);
      if (greyMaxSide > 0) {
        // From the (smaller) RGB view when it is big enough: cheaper than from the full decode.
        const from: FullPixels = rgb && rgbMaxSide >= greyMaxSide ? { data: Buffer.from(rgb.data.buffer, rgb.data.byteOffset, rgb.data.byteLength), channels: 3, size: rgb } : source;
        grey = await viewFrom(from, greyMaxSide, true, from === source ? plan.applied : 1);
      }
    } catch (err) {
      throw mapSharpError(err, { stage: 'decode', format: plan.format });
    }
  }
  return { header, plan, crops, frames, grey, rgb, viewsFromModelDecode: first.pixels !== undefined || !wantViews, viewOf };
}
