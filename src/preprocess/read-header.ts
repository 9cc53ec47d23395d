import sharp from 'sharp';
import { RevmodError } from '@revmod/client';
import { heicSize } from './heic-decoder';
import { formatLabel, mapSharpError } from './map-sharp-error';
import type { DecodeOptions } from './preprocess-options';
import { describeContent, heifBrand, magicFormat, sniffUpload } from './sniff';

/** What the header says about an upload: enough to plan its decode without touching a pixel. */
export interface ImageHeader {
  /** sharp's format ('jpeg', 'png', 'webp', 'gif', 'tiff', 'heif' (AVIF), 'svg'), or 'heic' (HEIF with HEVC, decoded by libheif-js). */
  readonly format: string;
  /** libvips' interpretation ('srgb', 'b-w', 'cmyk', ...), if reported. */
  readonly space: string | undefined;
  readonly hasAlpha: boolean;
  /** Width as stored (before any EXIF orientation). */
  readonly width: number;
  /** Height as stored (before any EXIF orientation). */
  readonly height: number;
  /** The EXIF orientation, 1–8 (1 when absent or out of range). */
  readonly orientation: number;
  /** Frames (animated GIF/WebP) or pages (TIFF); 1 for still images. */
  readonly pages: number;
}

/** Formats decoded here; anything else sharp recognises is UNSUPPORTED_FORMAT (pdf: NOT_AN_IMAGE). */
const RASTER_FORMATS = new Set(['jpeg', 'png', 'webp', 'gif', 'tiff', 'heif']);
/** Loaders for things that are no images at all. */
const NON_IMAGE_FORMATS = new Set(['pdf', 'csv', 'matrix']);

/**
 * sharp input options for every read of an upload: damaged data is an error, never a grey image
 * (`failOn: 'warning'`); embedded ICC profiles are ignored, as PIL ignores them; the first frame or
 * page only, as PIL's `open()` gives; orientation is applied to the crop, not here.
 */
export function sharpInputOptions(options: DecodeOptions, page = 0): sharp.SharpOptions {
  return { failOn: 'warning', limitInputPixels: options.maxPixels, ignoreIcc: true, autoOrient: false, page, pages: 1 };
}

/**
 * Classifies an upload from its header alone (`sharp.metadata()`, no pixel decoding): zero bytes →
 * OBJECT_EMPTY; SVG (unless allowSvg) and HEIC/HEVC → UNSUPPORTED_FORMAT; no image format →
 * NOT_AN_IMAGE; no dimensions → IMAGE_CORRUPT; declared width × height > maxPixels → IMAGE_TOO_LARGE.
 */
export async function readHeader(bytes: Buffer, options: DecodeOptions): Promise<ImageHeader> {
  if (bytes.length === 0) {
    throw new RevmodError('OBJECT_EMPTY', 'the object has zero bytes');
  }
  const sniffed = sniffUpload(bytes, options.allowSvg);
  if (!sniffed.ok) throw new RevmodError(sniffed.code, sniffed.message);
  let meta: sharp.Metadata;
  try {
    meta = await sharp(bytes, { ...sharpInputOptions(options), limitInputPixels: false }).metadata();
  } catch (err) {
    const brand = heifBrand(bytes);
    // A HEIF container sharp's libheif cannot parse may still be a HEIC libheif-js reads.
    if (brand !== undefined && !brand.startsWith('avi')) return heicHeader(bytes, options, undefined, err);
    throw mapSharpError(err, { stage: 'header', format: magicFormat(bytes), heifBrand: brand, contentHint: describeContent(bytes) });
  }
  const format = meta.format as string;
  if (format !== sniffed.format && !(sniffed.format === 'heif' && format === 'heif')) {
    // The bytes start like one format and libvips reads another: refuse rather than guess.
    throw new RevmodError('IMAGE_CORRUPT', `the object starts like ${formatLabel(sniffed.format)} but decodes as ${formatLabel(format)}`);
  }
  if (format === 'svg') {
    if (!options.allowSvg) throw new RevmodError('UNSUPPORTED_FORMAT', 'SVG images are not accepted (allowSvg is off)');
  } else if (NON_IMAGE_FORMATS.has(format)) {
    throw new RevmodError('NOT_AN_IMAGE', `not an image: ${format === 'pdf' ? 'a PDF document' : `${format} data`}`);
  } else if (!RASTER_FORMATS.has(format)) {
    throw new RevmodError('UNSUPPORTED_FORMAT', `${formatLabel(format)} images are not accepted`);
  }
  if (format === 'heif' && meta.compression === 'hevc') return heicHeader(bytes, options, meta.hasAlpha === true);
  if (format === 'heif' && meta.compression !== 'av1') {
    throw new RevmodError('UNSUPPORTED_FORMAT', `HEIF image with ${meta.compression ?? 'unknown'} compression: this worker decodes HEVC (HEIC) and AV1 (AVIF)`);
  }
  const { width, height } = meta;
  if (!(width > 0 && height > 0)) {
    throw new RevmodError('IMAGE_CORRUPT', `corrupt ${formatLabel(format)} header: no image dimensions`);
  }
  const declared = width * height;
  if (declared > options.maxPixels) {
    throw new RevmodError(
      'IMAGE_TOO_LARGE',
      `${formatLabel(format)} declares ${width}×${height} = ${declared} pixels, more than the limit of ${options.maxPixels}`,
    );
  }
  const o = meta.orientation;
  const orientation = o !== undefined && Number.isInteger(o) && o >= 1 && o <= 8 ? o : 1;
  const pages = meta.pages !== undefined && Number.isInteger(meta.pages) && meta.pages > 1 ? meta.pages : 1;
  return { format, space: meta.space, hasAlpha: meta.hasAlpha === true, width, height, orientation, pages };
}

/**
 * The header of a HEIC, from libheif-js: the displayed size (after the container's rotation, which
 * libheif applies on decode, so EXIF orientation is not applied again) and the primary image only.
 */
async function heicHeader(bytes: Buffer, options: DecodeOptions, hasAlpha: boolean | undefined, sharpError?: unknown): Promise<ImageHeader> {
  let size: { width: number; height: number };
  try {
    size = await heicSize(bytes);
  } catch (err) {
    if (sharpError !== undefined && err instanceof RevmodError && err.code === 'IMAGE_CORRUPT') {
      throw new RevmodError('IMAGE_CORRUPT', `corrupt HEIF container (brand '${heifBrand(bytes)}'): ${err.message}`, { cause: sharpError });
    }
    throw err;
  }
  const declared = size.width * size.height;
  if (declared > options.maxPixels) {
    throw new RevmodError('IMAGE_TOO_LARGE', `HEIC declares ${size.width}×${size.height} = ${declared} pixels, more than the limit of ${options.maxPixels}`);
  }
  return { format: 'heic', space: 'srgb', hasAlpha: hasAlpha ?? false, ...size, orientation: 1, pages: 1 };
}
