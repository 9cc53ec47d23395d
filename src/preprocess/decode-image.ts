import { decodeCrop } from './decode-paths';
import { orientCrop, planPreprocess } from './plan';
import { DEFAULT_PREPROCESS_OPTIONS, type PreprocessOptions } from './preprocess-options';
import { readHeader } from './read-header';
import { validatePreprocessOptions } from './validate-options';

/** One image ready for normalization: the model's square input as HWC RGB bytes. */
export interface PreprocessedImage {
  /** cropSize × cropSize × 3 bytes, HWC, RGB: the crop, upright when orientation was applied. */
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

/**
 * Decodes an uploaded photo into the model's square RGB input, reproducing torchvision on
 * PIL-decoded pixels: `Image.open(...).convert('RGB')`, then `Resize(resizeShortSide) →
 * CenterCrop(cropSize)` ('crop') or `resize((cropSize, cropSize), BILINEAR)` ('squash').
 *
 * 1. The header is read and classified (read-header.ts): empty, non-image, unsupported and
 *    oversized uploads are refused before any pixel is decoded.
 * 2. A plan is computed from it once (plan.ts): sizes, orientation, resize target and crop in the
 *    stored frame, decode path.
 * 3. The pixels are decoded, resized with PIL's antialiased bilinear filter and cropped
 *    (decode-paths.ts), in the stored orientation. Animated GIF/WebP and multi-page TIFF give their
 *    first frame, as PIL's `open()` does; greyscale, palette and 16-bit images become 8-bit RGB;
 *    CMYK uses PIL's formula; alpha is dropped without compositing, as `convert('RGB')` does.
 * 4. The small crop is turned upright (autoOrient), which equals orienting at full size first,
 *    within resampling rounding, at a fraction of the cost.
 *
 * docs/preprocessing.md has the measured differences from PIL and the cost of each path.
 * @throws RevmodError OBJECT_EMPTY, NOT_AN_IMAGE, UNSUPPORTED_FORMAT, IMAGE_TOO_LARGE,
 * IMAGE_CORRUPT, CONFIG_INVALID (bad options); INTERNAL for allocation failures.
 */
export async function preprocessImage(
  bytes: Buffer,
  options: PreprocessOptions = DEFAULT_PREPROCESS_OPTIONS,
): Promise<PreprocessedImage> {
  validatePreprocessOptions(options);
  const header = await readHeader(bytes, options);
  const plan = planPreprocess(header, options);
  const crop = await decodeCrop(bytes, plan, options);
  return {
    rgb: orientCrop(crop, plan.applied, options.cropSize),
    format: plan.format,
    width: plan.upright.width,
    height: plan.upright.height,
    orientation: plan.orientation,
  };
}
