import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import sharp from 'sharp';
import { DEFAULT_PREPROCESS_OPTIONS, preprocessImage } from '../../src/preprocess';
import { decodeImage } from '../../src/preprocess/decode-image-views';
import { decodeHeic, heicSize } from '../../src/preprocess/heic-decoder';
import { openImage } from '../../src/preprocess/open-image';
import * as fixtures from '../fixtures/hostile-images';

const SOURCE_JPEG = join(__dirname, '..', '..', 'samples', 'coffee_600x400_q85.jpg');

/** Mean absolute difference per byte of two equal-length buffers. */
function meanAbsDiff(a: Uint8Array, b: Uint8Array): number {
  expect(a.length).toBe(b.length);
  let sum = 0;
  for (let i = 0; i < a.length; i++) sum += Math.abs(a[i]! - b[i]!);
  return sum / a.length;
}

describe('HEIC (libheif-js)', () => {
  test('heicPhoto decodes to the same picture as the JPEG it was encoded from (q60: small error, not a different image)', async () => {
    const heic = await fixtures.heicPhoto();
    const jpeg = await readFile(SOURCE_JPEG);
    const fromHeic = await preprocessImage(heic);
    const fromJpeg = await preprocessImage(jpeg);
    expect(fromHeic).toMatchObject({ format: 'heic', width: 600, height: 400, orientation: 1 });
    expect(fromHeic.rgb.length).toBe(224 * 224 * 3);
    expect(meanAbsDiff(fromHeic.rgb, fromJpeg.rgb)).toBeLessThan(4);
    // A different photo is far off: the bound above means something.
    const other = await preprocessImage(await sharp(jpeg).flop().toBuffer());
    expect(meanAbsDiff(fromHeic.rgb, other.rgb)).toBeGreaterThan(15);
  });

  test("'fast' mode (sharp resizes the decoded pixels) stays close to 'torchvision' mode (Pillow's resampler)", async () => {
    const heic = await fixtures.heicPhoto();
    const exact = await preprocessImage(heic);
    const fast = await preprocessImage(heic, { ...DEFAULT_PREPROCESS_OPTIONS, mode: 'fast' });
    expect(meanAbsDiff(exact.rgb, fast.rgb)).toBeLessThan(1.5);
  });

  test('decodeHeic gives upright RGBA at the size heicSize reports; the plane is copied out of the WASM heap', async () => {
    const heic = await fixtures.heicPhoto();
    expect(await heicSize(heic)).toEqual({ width: 600, height: 400 });
    const first = await decodeHeic(heic, 1_000_000);
    expect(first).toMatchObject({ channels: 4, size: { width: 600, height: 400 } });
    expect(first.data.length).toBe(600 * 400 * 4);
    // Opaque: every alpha byte is 255.
    for (let i = 3; i < first.data.length; i += 4) if (first.data[i] !== 255) throw new Error(`alpha ${first.data[i]} at ${i}`);
    // Its own memory, not a view into the WASM heap (which the next decode reuses).
    expect(first.data.buffer.byteLength).toBe(first.data.length);
  });

  test('decodeImage gives the crop and the detector views from one HEIC decode', async () => {
    const heic = await fixtures.heicPhoto();
    const decoded = await decodeImage(heic, DEFAULT_PREPROCESS_OPTIONS, { greyMaxSide: 256, rgbMaxSide: 512 });
    expect(decoded.plan.path).toBe('heic');
    expect(decoded.viewsFromModelDecode).toBe(true);
    expect(decoded.frames).toEqual([0]);
    expect(decoded.rgb).toMatchObject({ width: 512, height: 341, channels: 3 });
    expect(decoded.grey).toMatchObject({ width: 256, height: 171, channels: 1 });
    expect(decoded.crops[0]!.equals((await preprocessImage(heic)).rgb)).toBe(true);
  });

  test('openImage renders a HEIC for display (the console) and passes other formats to sharp', async () => {
    const png = await (await openImage(await fixtures.heicPhoto(), { maxPixels: 1_000_000 })).resize(100).png().toBuffer();
    expect(await sharp(png).metadata()).toMatchObject({ width: 100, height: 67, format: 'png' });
    const jpeg = await readFile(SOURCE_JPEG);
    expect((await (await openImage(jpeg, { maxPixels: 1_000_000 })).metadata()).format).toBe('jpeg');
    await expect(openImage(await fixtures.truncatedHeic(), { maxPixels: 1_000_000 })).rejects.toMatchObject({ code: 'IMAGE_CORRUPT' });
  });
});
