import { CROP_SIZE } from './constants';

/**
 * How uploads are decoded: the worker's limits and its resampling mode (worker configuration).
 *
 * The defaults refuse anything but raster images and reproduce PIL's pixels (see
 * docs/preprocessing.md for the measured differences).
 */
export interface DecodeOptions {
  /**
   * Largest number of pixels (width × height, of the first frame) an image may declare. Larger images
   * are refused with IMAGE_TOO_LARGE from the header alone, before any pixel is decoded; so are images
   * whose aspect ratio is so extreme that resizing them to the model's short side would make them
   * larger than this. A 48 MP phone photo is 48 000 000: raise it if such uploads are expected (a
   * decoded 40 MP RGB image is 120 MB of memory per image in flight).
   * @defaultValue 40_000_000
   */
  readonly maxPixels: number;
  /**
   * Render SVG images (librsvg). When off, SVG is UNSUPPORTED_FORMAT. When on, external references
   * are never fetched (librsvg does not load http(s) resources, and an SVG held in memory has no base
   * location for file references).
   * @defaultValue false
   */
  readonly allowSvg: boolean;
  /**
   * 'torchvision': the recipe that matches the PyTorch reference: Pillow's resampler (in JS,
   * bit-exact) where sharp's shrink-on-load would blur measurably, sharp with `fastShrinkOnLoad:
   * false` elsewhere. 'fast': JPEG/WebP shrink-on-load fully on and CMYK converted after resizing:
   * cheaper, with larger differences from the reference.
   * @defaultValue 'torchvision'
   */
  readonly mode: 'torchvision' | 'fast';
}

/** How the model's square input is cut from the image. */
export type ResizeMode = 'crop' | 'squash';

/** The model's input geometry: the geometric part of the model card's `preprocessing`. */
export interface InputGeometry {
  /**
   * 'crop': torchvision's `Resize(resizeShortSide) → CenterCrop(cropSize)`. 'squash': PIL's
   * `resize((cropSize, cropSize), BILINEAR)`, the aspect ratio not kept and nothing cropped, as
   * MobileNet-style classifiers are trained.
   * @defaultValue 'crop'
   */
  readonly resize: ResizeMode;
  /**
   * 'crop' only: the short side after resizing, the long side int(resizeShortSide · long / short).
   * Must be at least cropSize, and absent with 'squash'.
   * @defaultValue 256 (with 'crop')
   */
  readonly resizeShortSide?: number | undefined;
  /** Side of the square model input, in pixels. @defaultValue 224 */
  readonly cropSize: number;
  /**
   * Apply the EXIF orientation so the model sees the upright scene. Done cheaply: the image is
   * resized in its stored orientation and only the crop is rotated/mirrored.
   * @defaultValue true
   */
  readonly autoOrient: boolean;
}

/** Everything `preprocessImage` needs: decode options (config) and input geometry (model card). */
export interface PreprocessOptions extends DecodeOptions, InputGeometry {}

export const DEFAULT_DECODE_OPTIONS: DecodeOptions = Object.freeze({
  maxPixels: 40_000_000,
  allowSvg: false,
  mode: 'torchvision',
});

export const DEFAULT_INPUT_GEOMETRY: InputGeometry = Object.freeze({
  resize: 'crop',
  cropSize: CROP_SIZE,
  autoOrient: true,
});

export const DEFAULT_PREPROCESS_OPTIONS: PreprocessOptions = Object.freeze({ ...DEFAULT_DECODE_OPTIONS, ...DEFAULT_INPUT_GEOMETRY });

/** Three per-channel values, R, G, B. */
export type ChannelTriple = readonly [number, number, number];

/**
 * How 8-bit levels become tensor values (the card's `preprocessing` mean, std and scale):
 * value = (level · scale − mean[c]) / std[c], in float32.
 */
export interface NormalizationSpec {
  /** Subtracted per channel after scaling. @defaultValue ImageNet's [0.485, 0.456, 0.406] */
  readonly mean: ChannelTriple;
  /** Divides per channel after the mean is subtracted. @defaultValue ImageNet's [0.229, 0.224, 0.225] */
  readonly std: ChannelTriple;
  /** Multiplies the 8-bit level first; 1/255 is computed as level / 255, as ToTensor does. @defaultValue 1/255 */
  readonly scale: number;
}
