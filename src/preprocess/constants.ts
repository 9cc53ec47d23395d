/** torchvision's val_transform: Resize(256) → CenterCrop(224) → ToTensor → Normalize(ImageNet). */
export const RESIZE_SHORT_SIDE = 256;
export const CROP_SIZE = 224;
export const CHANNELS = 3;
/** Floats in one image's CHW tensor (3 × 224 × 224). */
export const TENSOR_FLOATS_PER_IMAGE = CHANNELS * CROP_SIZE * CROP_SIZE;
export const IMAGENET_MEAN = [0.485, 0.456, 0.406] as const;
export const IMAGENET_STD = [0.229, 0.224, 0.225] as const;
