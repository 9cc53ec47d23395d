/**
 * The objects the soak uploads: ordinary photos (several sizes and formats) and hostile or odd ones,
 * each with the verdict it must get. Generated with sharp, deterministically; nothing on disk.
 */
import { SeededRandom } from '../../src/util/seeded-random';
import sharp from 'sharp';
import type { ErrorCode } from '@revmod/client';
import { POISON_MARKER } from './poison-pool-thread';

export interface SoakObject {
  readonly name: string;
  /** undefined: nothing is uploaded (the key is missing). */
  readonly bytes: Buffer | undefined;
  /** The error code its verdict must carry, or null for a scored verdict. */
  readonly expectCode: ErrorCode | null;
}

function pattern(width: number, height: number, seed: number): sharp.Sharp {
  const raw = Buffer.allocUnsafe(width * height * 3);
  for (let y = 0, i = 0; y < height; y++) {
    for (let x = 0; x < width; x++, i += 3) {
      raw[i] = (x * 255 / width + seed * 37) & 0xff;
      raw[i + 1] = (y * 255 / height + seed * 91) & 0xff;
      raw[i + 2] = (x * 7 + y * 13 + seed) & 0xff;
    }
  }
  return sharp(raw, { raw: { width, height, channels: 3 } });
}

/** Bytes that are no image, from the seeded PRNG. */
function noise(size: number, seed: number): Buffer {
  const random = new SeededRandom(seed);
  const out = Buffer.allocUnsafe(size);
  for (let i = 0; i < size; i++) out[i] = Math.floor(random.next() * 256);
  return out;
}

/**
 * Good photos (scored verdicts) and hostile/odd objects. `maxBytes` is the worker's limit: one
 * object is made larger than it (refused from its Content-Length).
 */
export async function soakObjects(maxBytes: number): Promise<{ good: SoakObject[]; hostile: SoakObject[]; poison: SoakObject }> {
  const good: SoakObject[] = [];
  const sizes: Array<[number, number]> = [[1440, 1080], [1080, 1080], [800, 600], [640, 480], [1080, 1440], [451, 300]];
  for (const [i, [w, h]] of sizes.entries()) {
    good.push({ name: `photo-${w}x${h}.jpg`, bytes: await pattern(w, h, i).jpeg({ quality: 85 }).toBuffer(), expectCode: null });
  }
  good.push({ name: 'photo.webp', bytes: await pattern(1080, 810, 7).webp({ quality: 80 }).toBuffer(), expectCode: null });
  good.push({ name: 'photo.png', bytes: await pattern(600, 400, 8).png().toBuffer(), expectCode: null });
  good.push({ name: 'alpha.png', bytes: await pattern(500, 500, 9).ensureAlpha(0.5).png().toBuffer(), expectCode: null });
  good.push({ name: 'grey.jpg', bytes: await pattern(640, 480, 10).toColourspace('b-w').jpeg().toBuffer(), expectCode: null });
  const frames = await Promise.all([[230, 20, 20], [20, 200, 20]].map(([r, g, b]) =>
    sharp({ create: { width: 96, height: 64, channels: 3, background: { r: r!, g: g!, b: b! } } }).png().toBuffer()));
  good.push({ name: 'animated.gif', bytes: await sharp(frames, { join: { animated: true } }).gif().toBuffer(), expectCode: null });
  good.push({ name: 'exif6.jpg', bytes: await pattern(480, 320, 11).jpeg().withMetadata({ orientation: 6 }).toBuffer(), expectCode: null });

  const jpeg = good[2]!.bytes!;
  const hostile: SoakObject[] = [
    { name: 'zero-bytes.jpg', bytes: Buffer.alloc(0), expectCode: 'OBJECT_EMPTY' },
    { name: 'truncated.jpg', bytes: Buffer.from(jpeg.subarray(0, Math.floor(jpeg.length * 0.6))), expectCode: 'IMAGE_CORRUPT' },
    { name: 'random.jpg', bytes: noise(4096, 0x9e3779b9), expectCode: 'NOT_AN_IMAGE' },
    { name: 'page.jpg', bytes: Buffer.from('<!DOCTYPE html><html><head><title>404</title></head><body>Not Found</body></html>\n'), expectCode: 'NOT_AN_IMAGE' },
    {
      name: 'vector.svg',
      bytes: Buffer.from('<svg xmlns="http://www.w3.org/2000/svg" width="64" height="64"><image href="http://127.0.0.1:9/x.png" width="64" height="64"/></svg>\n'),
      expectCode: 'UNSUPPORTED_FORMAT',
    },
    { name: 'oversized.jpg', bytes: Buffer.concat([jpeg, Buffer.alloc(maxBytes + 1 - jpeg.length, 0)]), expectCode: 'OBJECT_TOO_LARGE' },
    { name: 'never-uploaded.jpg', bytes: undefined, expectCode: 'OBJECT_NOT_FOUND' },
  ];
  // A photo that kills every worker process that decodes it (with the poison pool thread of
  // poison-pool-thread.ts): after REVMOD_POISON_CRASHES deaths it must get PROCESSING_CRASHED.
  const poison: SoakObject = { name: 'poison.jpg', bytes: Buffer.concat([jpeg, Buffer.from(POISON_MARKER)]), expectCode: 'PROCESSING_CRASHED' };
  return { good, hostile, poison };
}
