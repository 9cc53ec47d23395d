/**
 * Options for turning the bytes of an uploaded photo into the model's 224×224 RGB input.
 *
 * The defaults reproduce torchvision's `Resize(256) → CenterCrop(224)` on PIL-decoded pixels (see
 * `decode-image.ts`), refuse anything but raster images, and stand upright any photo that carries an
 * EXIF orientation.
 */
export interface PreprocessOptions {
  /**
   * Largest number of pixels (width × height, of the first frame) an image may declare. Larger images
   * are refused with IMAGE_TOO_LARGE from the header alone, before any pixel is decoded; so are images
   * whose aspect ratio is so extreme that the 256-pixel short side would make the resized image larger
   * than this. Default 40 000 000 (a 48 MP phone photo is 48 000 000: raise it if such uploads are
   * expected; a decoded 40 MP RGB image is 120 MB of memory per image in flight).
   */
  readonly maxPixels: number;
  /**
   * Render SVG images (librsvg). Default false: SVG is UNSUPPORTED_FORMAT. When enabled, external
   * references are never fetched (librsvg does not load http(s) resources, and an SVG held in memory
   * has no base location for file references).
   */
  readonly allowSvg: boolean;
  /**
   * 'torchvision' (default): the recipe that matches the PyTorch reference: Pillow's resampler (in JS,
   * bit-exact) where sharp's shrink-on-load would blur measurably, sharp with `fastShrinkOnLoad: false`
   * elsewhere; measured mean ≤ 0.0056, max ≤ 0.09 normalized units on the reference tensors (most of
   * them exactly 0).
   * 'fast': JPEG/WebP shrink-on-load fully on, and CMYK converted after resizing: ~10 % cheaper on
   * 12 MP JPEGs and ~2× on WebP, with larger differences (measured mean ≤ 0.017, max ≤ 0.46).
   */
  readonly mode: 'torchvision' | 'fast';
  /**
   * Apply the EXIF orientation so the model sees the upright scene (default true). Done cheaply: the
   * image is resized in its stored orientation and only the 224×224 crop is rotated/mirrored.
   */
  readonly autoOrient: boolean;
}

export const DEFAULT_PREPROCESS_OPTIONS: PreprocessOptions = Object.freeze({
  maxPixels: 40_000_000,
  allowSvg: false,
  mode: 'torchvision',
  autoOrient: true,
});
