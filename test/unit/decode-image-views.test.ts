import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import sharp from 'sharp';
import { decodeImage, sampleFrames } from '../../src/preprocess/decode-image-views';
import { preprocessImage } from '../../src/preprocess/decode-image';
import { decodeCrop, decodeFrameCrops } from '../../src/preprocess/decode-paths';
import { planPreprocess } from '../../src/preprocess/plan';
import { readHeader } from '../../src/preprocess/read-header';
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

  describe('animated images: the sampled frames from one read are the frames read one by one', () => {
    // Photo crops as frames, so that the resamplers' rounding shows (solid colours would hide it).
    const photoFrames = async (n: number, w: number, h: number, alpha: boolean) => {
      const photo = readFileSync(join(__dirname, '../../samples/chelsea_451x300_q85.jpg'));
      const frames = await Promise.all(Array.from({ length: n }, async (_, f) => {
        let img = sharp(photo).resize(w, h, { fit: 'cover', position: ['centre', 'north', 'south', 'east', 'west'][f % 5] as string }).modulate({ hue: f * 29 });
        if (alpha) img = img.ensureAlpha(f % 2 === 0 ? 1 : 0.6);
        return img.toBuffer();
      }));
      return frames;
    };
    const cases: Array<[string, string, () => Promise<Buffer>]> = [
      ['an 8-frame WebP (libwebp gives animations an alpha band: the alpha path)', 'alpha', async () => sharp(await photoFrames(8, 480, 400, false), { join: { animated: true } }).webp({ delay: Array(8).fill(100), loop: 0, quality: 80 }).toBuffer()],
      ['a 6-frame GIF downscaled under 4× (GIFs decode with alpha: the alpha path)', 'alpha', async () => sharp(await photoFrames(6, 400, 300, false), { join: { animated: true } }).gif({ delay: Array(6).fill(100) }).toBuffer()],
      ['a 6-frame WebP whose header reports no alpha band (sharp\'s path)', 'sharp', async () => sharp(await photoFrames(6, 400, 300, true), { join: { animated: true } }).webp({ delay: Array(6).fill(100), loop: 0, quality: 80 }).toBuffer()],
      ['a 7-frame GIF shrunk 4× and more (the exact path)', 'exact', async () => sharp(await photoFrames(7, 1100, 1100, false), { join: { animated: true } }).gif({ delay: Array(7).fill(100) }).toBuffer()],
      ['a 5-frame GIF upscaled (the exact path)', 'exact', async () => sharp(await photoFrames(5, 160, 120, false), { join: { animated: true } }).gif({ delay: Array(5).fill(100) }).toBuffer()],
    ];
    it.each(cases)('%s', async (_name, path, make) => {
      const bytes = await make();
      const d = await decodeImage(bytes, DEFAULT_PREPROCESS_OPTIONS, { maxFrames: 8 });
      expect(d.frames.length).toBeGreaterThanOrEqual(5);
      const header = await readHeader(bytes, DEFAULT_PREPROCESS_OPTIONS);
      const plan = planPreprocess(header, DEFAULT_PREPROCESS_OPTIONS);
      expect(plan.path).toBe(path);
      // The one-read path applies (it is not the fallback being compared with itself).
      expect(await decodeFrameCrops(bytes, plan, DEFAULT_PREPROCESS_OPTIONS, d.frames.slice(1), false)).toHaveLength(d.frames.length - 1);
      for (const [i, page] of d.frames.entries()) {
        const one = await decodeCrop(bytes, plan, DEFAULT_PREPROCESS_OPTIONS, page);
        expect(Buffer.compare(d.crops[i]!, one)).toBe(0);
      }
      // Frames differ from each other (the test would pass trivially on a still image).
      expect(Buffer.compare(d.crops[0]!, d.crops[1]!)).not.toBe(0);
    });

    it('falls back to frame-by-frame reads when the decoded frames would exceed maxPixels', async () => {
      const bytes = await sharp(await photoFrames(6, 400, 300, false), { join: { animated: true } }).webp({ delay: Array(6).fill(100), loop: 0 }).toBuffer();
      // Room for one frame at a time (400 × 300), not for five together.
      const options = { ...DEFAULT_PREPROCESS_OPTIONS, maxPixels: 400 * 300 * 2 };
      const d = await decodeImage(bytes, options, { maxFrames: 6 });
      const plan = planPreprocess(await readHeader(bytes, options), options);
      expect(await decodeFrameCrops(bytes, plan, options, d.frames.slice(1), false)).toBeUndefined();
      for (const [i, page] of d.frames.entries()) expect(Buffer.compare(d.crops[i]!, await decodeCrop(bytes, plan, options, page))).toBe(0);
    });
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
