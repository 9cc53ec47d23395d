/**
 * The default model input: torchvision's val_transform, Resize(256) → CenterCrop(224) → ToTensor →
 * Normalize(ImageNet). A model card may ask for other sizes and normalisation (see model-card.ts).
 */
export const RESIZE_SHORT_SIDE = 256;
export const CROP_SIZE = 224;
export const CHANNELS = 3;
/** Floats in one image's CHW tensor at the default crop size (3 × 224 × 224). */
export const TENSOR_FLOATS_PER_IMAGE = CHANNELS * CROP_SIZE * CROP_SIZE;
export const IMAGENET_MEAN = [0.485, 0.456, 0.406] as const;
export const IMAGENET_STD = [0.229, 0.224, 0.225] as const;
/** ToTensor's scaling of 8-bit levels to 0…1. */
export const DEFAULT_SCALE = 1 / 255;
/** Largest crop size served: a batch tensor holds batch × 3 × cropSize² float32s, twice over. */
export const MAX_CROP_SIZE = 1024;

/** Floats in one image's CHW tensor for a crop of `cropSize` × `cropSize`. */
export function tensorFloatsPerImage(cropSize: number): number {
  return CHANNELS * cropSize * cropSize;
}
