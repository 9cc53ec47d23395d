import sharp from 'sharp';
import { PDQ_DOWNSAMPLE_MAX_SIDE_PX, type PixelView } from './pdq';

/** How photo bytes are turned into the pixels PDQ hashes. */
export interface PdqDecodeOptions {
  /**
   * Longest side of the view that is hashed; larger images are reduced (aspect kept) with a cubic
   * kernel, as the Python reference does with PIL's `thumbnail((512, 512))`. On the reference vectors
   * this puts hashes at a median distance of 0 from the reference's, against 4 for hashing at full
   * size (docs/known-images.md), and it is what makes hashing a 12 MP photo cheap.
   * @defaultValue 512
   */
  readonly maxSidePx: number;
  /**
   * Turn the image upright by its EXIF orientation before hashing. The reference hashes the stored
   * pixels; a sideways copy still matches through the dihedral hashes.
   * @defaultValue false
   */
  readonly autoOrient: boolean;
}

export const DEFAULT_PDQ_DECODE_OPTIONS: PdqDecodeOptions = Object.freeze({
  maxSidePx: PDQ_DOWNSAMPLE_MAX_SIDE_PX,
  autoOrient: false,
});

/**
 * Decodes an image (anything sharp reads) to the view that {@link pdqHash} expects. sharp errors are
 * passed through: callers that decode uploads map them where they map their own.
 */
export async function decodeForPdq(input: Buffer | Uint8Array, options: PdqDecodeOptions = DEFAULT_PDQ_DECODE_OPTIONS): Promise<PixelView> {
  const { maxSidePx, autoOrient } = options;
  if (!Number.isInteger(maxSidePx) || maxSidePx < 64) {
    throw new RangeError(`decodeForPdq: maxSidePx must be an integer of at least 64, got ${String(maxSidePx)}`);
  }
  let image = sharp(input);
  if (autoOrient) image = image.rotate();
  const meta = await sharp(input).metadata();
  if (meta.hasAlpha && Math.max(meta.width, meta.height) > maxSidePx) {
    // sharp resizes premultiplied, which would blacken the colours under transparent pixels; the
    // reference (PIL's convert('RGB')) keeps them. So the alpha channel goes at full size first.
    const full = await image.removeAlpha().raw().toBuffer({ resolveWithObject: true });
    image = sharp(full.data, { raw: { width: full.info.width, height: full.info.height, channels: full.info.channels } });
  }
  const { data, info } = await image
    .removeAlpha()
    .resize(maxSidePx, maxSidePx, { fit: 'inside', withoutEnlargement: true, kernel: 'cubic' })
    .raw()
    .toBuffer({ resolveWithObject: true });
  return { data, width: info.width, height: info.height, channels: info.channels };
}
