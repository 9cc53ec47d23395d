import sharp from 'sharp';
import { PDQ_DOWNSAMPLE_MAX_SIDE_PX, type PixelView } from './pdq';

/**
 * Side of the 'symmetric' view: 576 = 64 × 9. The tent filter's window is then 5 (odd, so centred)
 * and the 64 sampling points fall on pixel centres 9 apart starting at 4, mirror images of each
 * other; so a flipped or rotated picture gives exactly the dihedral hash of the original, which the
 * reference's own view (even windows at 512 px) misses by 10–26 bits (docs/known-images.md).
 */
export const PDQ_SYMMETRIC_SIDE_PX = 576;

/** How photo bytes are turned into the pixels PDQ hashes. */
export interface PdqDecodeOptions {
  /**
   * 'reference': the image reduced to fit `maxSidePx` (aspect kept, never enlarged), as the Python
   * reference does with PIL's `thumbnail((512, 512))`: hashes agree with the reference's (median
   * distance 0 on its vectors), so lists can be exchanged with other PDQ users.
   * 'symmetric': the image resized to 576 × 576 (aspect not kept, as the C++ reference's 512 × 512;
   * enlarged if smaller): mirrored and rotated copies match their dihedral hash (distance 0–8 on the
   * bench photos, against up to 64), and small copies match better; but hashes move away from the
   * reference's (4–16 bits on its large vectors, 22–98 on its 256 px ones, which get enlarged). So a
   * list must keep to one view, and only 'reference' hashes compare with other PDQ implementations'.
   * @defaultValue 'reference'
   */
  readonly view: 'reference' | 'symmetric';
  /**
   * Longest side of the 'reference' view; larger images are reduced with a cubic kernel.
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
  view: 'reference',
  maxSidePx: PDQ_DOWNSAMPLE_MAX_SIDE_PX,
  autoOrient: false,
});

/**
 * Decodes an image (anything sharp reads) to the view that `pdqHash` expects. sharp errors are
 * passed through: callers that decode uploads map them where they map their own.
 */
export async function decodeForPdq(input: Buffer | Uint8Array, options: Partial<PdqDecodeOptions> = {}): Promise<PixelView> {
  const { view, maxSidePx, autoOrient } = { ...DEFAULT_PDQ_DECODE_OPTIONS, ...options };
  if (view !== 'reference' && view !== 'symmetric') {
    throw new RangeError(`decodeForPdq: view must be 'reference' or 'symmetric', got ${JSON.stringify(view)}`);
  }
  if (!Number.isInteger(maxSidePx) || maxSidePx < 64) {
    throw new RangeError(`decodeForPdq: maxSidePx must be an integer of at least 64, got ${String(maxSidePx)}`);
  }
  let image = sharp(input);
  if (autoOrient) image = image.rotate();
  const meta = await sharp(input).metadata();
  const side = view === 'symmetric' ? PDQ_SYMMETRIC_SIDE_PX : maxSidePx;
  if (meta.hasAlpha && (view === 'symmetric' || Math.max(meta.width, meta.height) > side)) {
    // sharp resizes premultiplied, which would blacken the colours under transparent pixels; the
    // reference (PIL's convert('RGB')) keeps them. So the alpha channel goes at full size first.
    const full = await image.removeAlpha().raw().toBuffer({ resolveWithObject: true });
    image = sharp(full.data, { raw: { width: full.info.width, height: full.info.height, channels: full.info.channels } });
  }
  const resize: sharp.ResizeOptions = view === 'symmetric'
    ? { fit: 'fill', kernel: 'cubic' }
    : { fit: 'inside', withoutEnlargement: true, kernel: 'cubic' };
  const { data, info } = await image
    .removeAlpha()
    .resize(side, side, resize)
    .raw()
    .toBuffer({ resolveWithObject: true });
  return { data, width: info.width, height: info.height, channels: info.channels };
}
