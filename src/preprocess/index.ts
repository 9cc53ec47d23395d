export * from './constants';
export { DEFAULT_PREPROCESS_OPTIONS, type PreprocessOptions } from './preprocess-options';
export { preprocessImage, torchvisionResizeSize, centreCropOffset, type PreprocessedImage } from './decode-image';
export { writeNormalizedChw, normalizedValue } from './normalize';
export { mapSharpError, type SharpErrorContext } from './map-sharp-error';
