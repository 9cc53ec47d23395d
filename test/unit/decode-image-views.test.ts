import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import sharp from 'sharp';
import { decodeImage, sampleFrames } from '../../src/preprocess/decode-image-views';
import { preprocessImage } from '../../src/preprocess/decode-image';
import { DEFAULT_PREPROCESS_OPTIONS, type PreprocessOptions } from '../../src/preprocess/preprocess-options';

const PARITY_DIR = join(__dirname, '../fixtures/parity');
/** Every committed photo: each decode path, EXIF orientations 3, 6 and 8, CMYK, alpha, greyscale, WebP. */
const PHOTOS = readdirSync(PARITY_DIR).filter((f) => /\.(jpe?g|png|webp)$/.test(f)).map((name) => ({ name, bytes: readFileSync(join(PARITY_DIR, name)) }));
const VIEWS = { greyMaxSide: 512, rgbMaxSide: 1024 } as const;

function meanAbsDiff(a: Uint8Array, b: Uint8Array): number {
  let sum = 0;
  for (let i = 0; i < a.length; i++) sum += Math.abs(a[i]! - b[i]!);
  return sum / a.length;
}

describe('decodeImage: one decode for the model crop and the detector views', () => {
  it.each(['torchvision', 'fast'] as const)('gives byte for byte the crop preprocessImage gives (%s mode), views or not', async (mode) => {
    const options: PreprocessOptions = { ...DEFAULT_PREPROCESS_OPTIONS, mode };
    for (const photo of PHOTOS) {
      const reference = (await preprocessImage(photo.bytes, options)).rgb;
      const withViews = await decodeImage(photo.bytes, options, VIEWS);
      const without = await decodeImage(photo.bytes, options);
      expect({ photo: photo.name, same: withViews.crops[0]!.equals(reference) && without.crops[0]!.equals(reference) }).toEqual({ photo: photo.name, same: true });
    }
  });

  it('derives upright views of the asked sizes (compared with sharp auto-orienting the whole photo)', async () => {
    for (const photo of PHOTOS) {
      const d = await decodeImage(photo.bytes, DEFAULT_PREPROCESS_OPTIONS, VIEWS);
      const expected = await sharp(photo.bytes, { ignoreIcc: true }).rotate().removeAlpha()
        .resize({ width: 1024, height: 1024, fit: 'inside', withoutEnlargement: true, kernel: 'linear' }).toColourspace('srgb').raw().toBuffer({ resolveWithObject: true });
      const rgb = d.rgb!;
      expect({ photo: photo.name, size: [rgb.width, rgb.height, rgb.channels] }).toEqual({ photo: photo.name, size: [expected.info.width, expected.info.height, 3] });
      // CMYK is converted by PIL's formula here and by an ICC transform in sharp: levels differ a little.
      const bound = photo.name.includes('cmyk') ? 20 : 3;
      expect({ photo: photo.name, close: meanAbsDiff(rgb.data, expected.data) < bound }).toEqual({ photo: photo.name, close: true });
      const grey = d.grey!;
      expect(Math.max(grey.width, grey.height)).toBe(Math.min(512, Math.max(expected.info.width, expected.info.height)));
      expect(grey.channels).toBe(1);
      expect(grey.data.length).toBe(grey.width * grey.height);
    }
  }, 120_000);

  it.each([1, 2, 3, 4, 5, 6, 7, 8])('stands a view upright for EXIF orientation %i', async (orientation) => {
    // An asymmetric picture: a bright block in one corner, a gradient across.
    const w = 320;
    const h = 240;
    const raw = Buffer.alloc(w * h * 3);
    for (let y = 0; y < h; y++) for (let x = 0; x < w; x++) {
      const corner = x < 80 && y < 60;
      raw.set(corner ? [255, 255, 255] : [Math.round((x * 255) / w), Math.round((y * 255) / h), 60], (y * w + x) * 3);
    }
    const jpeg = await sharp(raw, { raw: { width: w, height: h, channels: 3 } }).jpeg({ quality: 95 }).withMetadata({ orientation }).toBuffer();
    const d = await decodeImage(jpeg, DEFAULT_PREPROCESS_OPTIONS, { rgbMaxSide: 1024 });
    const expected = await sharp(jpeg).rotate().raw().toBuffer({ resolveWithObject: true });
    expect([d.rgb!.width, d.rgb!.height]).toEqual([expected.info.width, expected.info.height]);
    expect(meanAbsDiff(d.rgb!.data, expected.data)).toBeLessThan(2);
  });

  it('decodes the views from the model decode except on the large-JPEG path', async () => {
    for (const photo of PHOTOS) {
      const d = await decodeImage(photo.bytes, DEFAULT_PREPROCESS_OPTIONS, VIEWS);
      const large = photo.name.includes('4032x3024');
      expect({ photo: photo.name, single: d.viewsFromModelDecode }).toEqual({ photo: photo.name, single: !large });
    }
  });

  it('samples first, last and evenly spaced frames', () => {
    expect(sampleFrames(1, 8)).toEqual([0]);
    expect(sampleFrames(10, 1)).toEqual([0]);
    expect(sampleFrames(10, 4)).toEqual([0, 3, 6, 9]);
    expect(sampleFrames(3, 8)).toEqual([0, 1, 2]);
    expect(sampleFrames(100, 2)).toEqual([0, 99]);
  });

  it('judges the sampled frames of an animated GIF, each its own crop', async () => {
    const colours = [[250, 10, 10], [10, 250, 10], [10, 10, 250], [240, 240, 10]] as const;
    const w = 300;
    const h = 260;
    const raw = Buffer.alloc(w * h * 4 * colours.length);
    colours.forEach(([r, g, b], f) => {
      for (let i = 0; i < w * h; i++) raw.set([r, g, b, 255], (f * w * h + i) * 4);
    });
    const gif = await sharp(raw, { raw: { width: w, height: h * colours.length, channels: 4, pageHeight: h } }).gif().toBuffer();
    const d = await decodeImage(gif, DEFAULT_PREPROCESS_OPTIONS, { maxFrames: 3, greyMaxSide: 256 });
    expect(d.header.pages).toBe(4);
    expect(d.frames).toEqual([0, 2, 3]);
    const centre = (crop: Buffer) => [...crop.subarray((112 * 224 + 112) * 3, (112 * 224 + 112) * 3 + 3)];
    const near = (got: number[], want: readonly number[]) => got.every((v, i) => Math.abs(v - want[i]!) < 12);
    expect(d.crops.map(centre).map((c, i) => near(c, colours[d.frames[i]!]!))).toEqual([true, true, true]);
    expect(d.grey!.height).toBe(Math.round((256 * h) / w));
  });
});
