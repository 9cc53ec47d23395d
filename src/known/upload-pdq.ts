import sharp from 'sharp';
import { DEFAULT_PREPROCESS_OPTIONS, type DecodeOptions } from '../preprocess/preprocess-options';
import { decodeImage, type PixelView } from '../preprocess/decode-image-views';
import type { PdqHashes } from '../pool/decode-task';
import { DIHEDRAL_NAMES, PDQ_DOWNSAMPLE_MAX_SIDE_PX, pdqDihedralHashes, pdqHashToHex } from './pdq';

/** PDQ from an upright RGB view, reduced to PDQ's 512-pixel side when it is larger. */
export async function pdqOfView(rgb: PixelView): Promise<PdqHashes> {
  let view: PixelView = rgb;
  if (Math.max(rgb.width, rgb.height) > PDQ_DOWNSAMPLE_MAX_SIDE_PX) {
    const side = PDQ_DOWNSAMPLE_MAX_SIDE_PX;
    const { data, info } = await sharp(rgb.data, { raw: { width: rgb.width, height: rgb.height, channels: rgb.channels } })
      .resize({ width: side, height: side, fit: 'inside' }).raw().toBuffer({ resolveWithObject: true });
    view = { data, width: info.width, height: info.height, channels: 3 };
  }
  const { hashes, quality } = pdqDihedralHashes(view);
  return { hashes: DIHEDRAL_NAMES.map((n) => pdqHashToHex(hashes[n])), quality };
}

/**
 * PDQ of upload bytes exactly as a worker's image pool computes it (the same decode, limits and
 * view), for adding an image to a list or looking one up. Throws the decode's RevmodError
 * (NOT_AN_IMAGE, IMAGE_CORRUPT, IMAGE_TOO_LARGE, ...) for bytes a worker would refuse.
 */
export async function pdqOfUpload(bytes: Uint8Array, limits: Partial<DecodeOptions> = {}): Promise<PdqHashes> {
  const buffer = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const decoded = await decodeImage(buffer, { ...DEFAULT_PREPROCESS_OPTIONS, ...limits }, { rgbMaxSide: PDQ_DOWNSAMPLE_MAX_SIDE_PX, maxFrames: 1 });
  return pdqOfView(decoded.rgb!);
}
