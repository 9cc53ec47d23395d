import sharp from 'sharp';
import { decodeHeic } from './heic-decoder';
import { heifBrand } from './sniff';

/**
 * A sharp pipeline over an upload for display and other non-model uses: HEIC, which sharp's prebuilt
 * libvips cannot decode, is decoded by libheif-js first (and is then upright, its container's
 * rotation applied); anything else goes to sharp as it is.
 * @throws RevmodError from the HEIC decoder (IMAGE_CORRUPT, IMAGE_TOO_LARGE); sharp's own errors
 * surface when the pipeline runs.
 */
export async function openImage(bytes: Buffer, options: { readonly maxPixels: number; readonly failOn?: sharp.FailOnOptions }): Promise<sharp.Sharp> {
  const brand = heifBrand(bytes);
  if (brand !== undefined && !brand.startsWith('avi')) {
    const meta = await sharp(bytes).metadata().catch(() => undefined);
    if (meta === undefined || meta.compression === 'hevc') {
      const pixels = await decodeHeic(bytes, options.maxPixels);
      return sharp(pixels.data, { raw: { ...pixels.size, channels: pixels.channels }, limitInputPixels: options.maxPixels });
    }
  }
  return sharp(bytes, { limitInputPixels: options.maxPixels, failOn: options.failOn ?? 'error' });
}
