import { RevmodError } from '@revmod/client';
import { CHANNELS, CROP_SIZE, RESIZE_SHORT_SIDE } from './constants';
import { chooseDecodePath, type DecodePath } from './decode-paths';
import { formatLabel } from './map-sharp-error';
import type { PixelRect } from './pil-resample';
import type { PreprocessOptions } from './preprocess-options';
import type { ImageHeader } from './read-header';

export interface Size {
  readonly width: number;
  readonly height: number;
}

/** Everything about one image's preprocessing that its header decides, computed once. */
export interface PreprocessPlan {
  readonly format: string;
  /** libvips' interpretation from the header ('srgb', 'b-w', 'cmyk', ...). */
  readonly space: string | undefined;
  readonly hasAlpha: boolean;
  /** The image as stored. */
  readonly stored: Size;
  /** The image upright: `stored` transposed when the applied orientation is 5–8. */
  readonly upright: Size;
  /** The EXIF orientation found (1 if none), whether or not it is applied. */
  readonly orientation: number;
  /** The orientation applied to the crop: `orientation` with autoOrient, else 1. */
  readonly applied: number;
  /** Size the image is resized to, in its stored orientation. */
  readonly resizeTo: Size;
  /** The cropSize × cropSize square taken from the resized image, in its stored orientation. */
  readonly crop: PixelRect;
  /** How the pixels are decoded and resized. */
  readonly path: DecodePath;
}

/**
 * torchvision `Resize(shortSide)` output size: the short side becomes `shortSide`, the long side
 * int(shortSide · long / short) (truncated, computed in double precision like Python).
 */
export function torchvisionResizeSize(width: number, height: number, shortSide: number = RESIZE_SHORT_SIDE): Size {
  if (width <= height) {
    return { width: shortSide, height: Math.floor((shortSide * height) / width) };
  }
  return { width: Math.floor((shortSide * width) / height), height: shortSide };
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

/**
 * Where the upright n×n crop at (`left`, `top`) lies in the resized image in its *stored* orientation
 * (`stored`), for each EXIF orientation.
 */
export function storedCropRect(orientation: number, left: number, top: number, stored: Size, n: number): PixelRect {
  const { width: sw, height: sh } = stored;
  const at = (l: number, t: number): PixelRect => ({ left: l, top: t, width: n, height: n });
  switch (orientation) {
    case 2: return at(sw - left - n, top);
    case 3: return at(sw - left - n, sh - top - n);
    case 4: return at(left, sh - top - n);
    case 5: return at(top, left);
    case 6: return at(top, sh - left - n);
    case 7: return at(sw - top - n, sh - left - n);
    case 8: return at(sw - top - n, left);
    default: return at(left, top);
  }
}

/**
 * Turns an n×n RGB crop taken in stored orientation upright: output pixel (X, Y) comes from stored
 * crop pixel (x, y) as the EXIF orientation prescribes.
 */
export function orientCrop(src: Buffer, orientation: number, n: number): Buffer {
  if (orientation === 1) return src;
  const m = n - 1;
  const px = CHANNELS;
  const row = n * px;
  // Source index = base + X · stepX + Y · stepY.
  let base: number;
  let stepX: number;
  let stepY: number;
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
  const out = Buffer.allocUnsafe(n * row);
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

const transpose = (s: Size): Size => ({ width: s.height, height: s.width });

/**
 * The plan for one image. 'crop': torchvision's resize size and centre-crop offsets, taken in the
 * upright frame; 'squash': a cropSize × cropSize resize, nothing cut. The image is resized in its
 * stored orientation (to the transposed size when the applied orientation is 5–8) and the crop
 * rectangle is mapped into that frame, so that only the small crop needs turning upright.
 * @throws RevmodError IMAGE_TOO_LARGE when the resized image would exceed maxPixels (an extreme
 * aspect ratio under 'crop').
 */
export function planPreprocess(header: ImageHeader, options: PreprocessOptions): PreprocessPlan {
  const n = options.cropSize;
  const stored: Size = { width: header.width, height: header.height };
  const applied = options.autoOrient ? header.orientation : 1;
  const transposed = applied >= 5;
  const upright = transposed ? transpose(stored) : stored;

  let resized: Size;
  let left = 0;
  let top = 0;
  if (options.resize === 'squash') {
    resized = { width: n, height: n };
  } else {
    const shortSide = options.resizeShortSide ?? RESIZE_SHORT_SIDE;
    resized = torchvisionResizeSize(upright.width, upright.height, shortSide);
    if (resized.width * resized.height > options.maxPixels) {
      throw new RevmodError(
        'IMAGE_TOO_LARGE',
        `${formatLabel(header.format)} of ${upright.width}×${upright.height} has too extreme an aspect ratio: resizing it to a ` +
          `${shortSide}-pixel short side gives ${resized.width}×${resized.height} pixels, more than the limit of ${options.maxPixels}`,
      );
    }
    left = centreCropOffset(resized.width, n);
    top = centreCropOffset(resized.height, n);
  }
  const resizeTo = transposed ? transpose(resized) : resized;
  return {
    format: header.format,
    space: header.space,
    hasAlpha: header.hasAlpha,
    stored,
    upright,
    orientation: header.orientation,
    applied,
    resizeTo,
    crop: storedCropRect(applied, left, top, resizeTo, n),
    path: chooseDecodePath(header, resizeTo, options.mode),
  };
}
