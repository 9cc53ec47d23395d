export * from './constants';
export {
  DEFAULT_DECODE_OPTIONS, DEFAULT_INPUT_GEOMETRY, DEFAULT_PREPROCESS_OPTIONS,
  type ChannelTriple, type DecodeOptions, type InputGeometry, type NormalizationSpec, type PreprocessOptions, type ResizeMode,
} from './preprocess-options';
export { preprocessImage, type PreprocessedImage } from './decode-image';
export { centreCropOffset, planPreprocess, torchvisionResizeSize, type PreprocessPlan, type Size } from './plan';
export { validatePreprocessOptions, validateNormalization, type OptionProblem } from './validate-options';
export { createChwNormalizer, DEFAULT_CHW_NORMALIZER, writeNormalizedChw, normalizedValue, type ChwNormalizer } from './normalize';
export { mapSharpError, type SharpErrorContext } from './map-sharp-error';
