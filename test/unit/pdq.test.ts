import { existsSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import sharp from 'sharp';
import {
  DIHEDRAL_NAMES, hammingDistance, minHammingDistance, pdqDihedralHashes, pdqHash, pdqHashFromDct, pdqHashFromHex, pdqHashToHex,
  type DihedralName, type PixelView,
} from '../../src/known/pdq';
import { decodeForPdq } from '../../src/known/pdq-decode';

const FIXTURE_DIR = resolve(__dirname, '../fixtures/pdq');
const SHARED_DIR = resolve(__dirname, '../../../shared/pdq-reference');
const HAS_SHARED = existsSync(join(SHARED_DIR, 'expected.json'));

interface Vectors {
  readonly dir: string;
  readonly hashes: Record<string, string>;
}

function vectors(dir: string): Vectors {
  const { hashes } = JSON.parse(readFileSync(join(dir, 'expected.json'), 'utf8')) as { hashes: Record<string, string> };
  return { dir: join(dir, 'images'), hashes };
}

async function distancesToReference(v: Vectors): Promise<Map<string, number>> {
  const out = new Map<string, number>();
  for (const [name, hex] of Object.entries(v.hashes)) {
    const { hash } = pdqHash(await decodeForPdq(readFileSync(join(v.dir, name))));
    out.set(name, hammingDistance(hash, pdqHashFromHex(hex)));
  }
  return out;
}

function median(xs: readonly number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 === 1 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}

/** Each output pixel (X, Y) of a transform of an image, as a source pixel (x, y). */
type PixelMap = (x: number, y: number, w: number, h: number) => [number, number];

/** The eight symmetries applied to pixels, named as the reference names the hashes they produce. */
const PIXEL_TRANSFORMS: Record<DihedralName, { readonly swap: boolean; readonly from: PixelMap }> = {
  original: { swap: false, from: (x, y) => [x, y] },
  // The reference's rotate90 turns the picture anticlockwise (as its bridge-2-rotate-90.jpg shows).
  rotate90: { swap: true, from: (x, y, w) => [w - 1 - y, x] },
  rotate180: { swap: false, from: (x, y, w, h) => [w - 1 - x, h - 1 - y] },
  rotate270: { swap: true, from: (x, y, _w, h) => [y, h - 1 - x] },
  flipX: { swap: false, from: (x, y, _w, h) => [x, h - 1 - y] },
  flipY: { swap: false, from: (x, y, w) => [w - 1 - x, y] },
  flipPlus1: { swap: true, from: (x, y) => [y, x] },
  flipMinus1: { swap: true, from: (x, y, w, h) => [w - 1 - y, h - 1 - x] },
};

function transformPixels(v: PixelView, name: DihedralName): PixelView {
  const { swap, from } = PIXEL_TRANSFORMS[name];
  const width = swap ? v.height : v.width;
  const height = swap ? v.width : v.height;
  const c = v.channels;
  const data = new Uint8Array(width * height * c);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const [sx, sy] = from(x, y, v.width, v.height);
      for (let k = 0; k < c; k++) data[(y * width + x) * c + k] = v.data[(sy * v.width + sx) * c + k]!;
    }
  }
  return { data, width, height, channels: c };
}

async function rawView(input: Buffer | sharp.Sharp): Promise<PixelView> {
  const { data, info } = await (Buffer.isBuffer(input) ? sharp(input) : input).raw().toBuffer({ resolveWithObject: true });
  return { data, width: info.width, height: info.height, channels: info.channels };
}

describe('PDQ against the reference hashes', () => {
  test('the shipped vectors: every hash within 16 bits of the reference, median ≤ 4', async () => {
    const d = await distancesToReference(vectors(FIXTURE_DIR));
    expect(d.size).toBe(10);
    for (const [name, distance] of d) expect({ name, within16: distance <= 16 }).toEqual({ name, within16: true });
    expect(median([...d.values()])).toBeLessThanOrEqual(4);
  });

  (HAS_SHARED ? test : test.skip)('all of ../shared/pdq-reference: within 16 bits, median ≤ 4 (skipped without ../shared)', async () => {
    const d = await distancesToReference(vectors(SHARED_DIR));
    expect(d.size).toBeGreaterThanOrEqual(18);
    for (const [name, distance] of d) expect({ name, within16: distance <= 16 }).toEqual({ name, within16: true });
    expect(median([...d.values()])).toBeLessThanOrEqual(4);
  });

  (HAS_SHARED ? test : test.skip)('each bridge-* file matches its dihedral hash of the original, and no other (skipped without ../shared)', async () => {
    const v = vectors(SHARED_DIR);
    const original = pdqDihedralHashes(await decodeForPdq(readFileSync(join(v.dir, 'bridge-1-original.jpg'))));
    const files: Record<DihedralName, string> = {
      original: 'bridge-1-original.jpg', rotate90: 'bridge-2-rotate-90.jpg', rotate180: 'bridge-3-rotate-180.jpg',
      rotate270: 'bridge-4-rotate-270.jpg', flipX: 'bridge-5-flipx.jpg', flipY: 'bridge-6-flipy.jpg',
      flipPlus1: 'bridge-7-flip-plus-1.jpg', flipMinus1: 'bridge-8-flip-minus-1.jpg',
    };
    for (const name of DIHEDRAL_NAMES) {
      // Both our hash of the file and the reference's hash of it are near our dihedral hash.
      for (const fileHash of [pdqHash(await decodeForPdq(readFileSync(join(v.dir, files[name])))).hash, pdqHashFromHex(v.hashes[files[name]]!)]) {
        const own = hammingDistance(fileHash, original.hashes[name]);
        const others = DIHEDRAL_NAMES.filter((n) => n !== name).map((n) => hammingDistance(fileHash, original.hashes[n]));
        expect({ name, own: own <= 31, othersFar: Math.min(...others) > 64 }).toEqual({ name, own: true, othersFar: true });
      }
    }
  });

  test('decodeForPdq keeps the colours under transparent pixels when it reduces (as PIL\'s convert(\'RGB\') does)', async () => {
    // Left half fully transparent but red underneath; right half opaque blue.
    const width = 1000;
    const height = 600;
    const rgba = new Uint8Array(width * height * 4);
    for (let p = 0; p < width * height; p++) {
      const left = p % width < width / 2;
      rgba.set(left ? [255, 0, 0, 0] : [0, 0, 255, 255], p * 4);
    }
    const png = await sharp(rgba, { raw: { width, height, channels: 4 } }).png().toBuffer();
    const view = await decodeForPdq(png);
    expect([view.width, view.height, view.channels]).toEqual([512, 307, 3]);
    const at = (x: number, y: number): number[] => [...view.data.subarray((y * view.width + x) * 3, (y * view.width + x) * 3 + 3)];
    expect(at(100, 150)).toEqual([255, 0, 0]);
    expect(at(400, 150)).toEqual([0, 0, 255]);
  });

  test('bridge-1-original (1600 × 1004) is reduced to 512 px before hashing, as the reference does', async () => {
    const view = await decodeForPdq(readFileSync(join(FIXTURE_DIR, 'images/bridge-1-original.jpg')));
    expect([view.width, view.height, view.channels]).toEqual([512, 321, 3]);
  });
});

describe('dihedral hashes', () => {
  test('on a view whose filter is symmetric (320 × 320), each equals the hash of the transformed pixels', async () => {
    // A 320 px side has an odd filter window (3) and samples at the centres of 5-pixel cells, so a
    // mirrored image is filtered and sampled exactly as the original: only the DCT signs change.
    const view = await rawView(sharp(readFileSync(join(FIXTURE_DIR, 'images/q1050.jpg'))).resize(320, 320));
    const { hashes, quality } = pdqDihedralHashes(view);
    expect(quality).toBeGreaterThanOrEqual(50);
    for (const name of DIHEDRAL_NAMES) {
      const moved = pdqHash(transformPixels(view, name)).hash;
      expect({ name, distance: hammingDistance(moved, hashes[name]) }).toEqual({ name, distance: 0 });
    }
    // And the eight are different pictures as far as PDQ is concerned.
    const hexes = new Set(DIHEDRAL_NAMES.map((n) => pdqHashToHex(hashes[n])));
    expect(hexes.size).toBe(8);
  });

  test('with the symmetric view, mirrored and rotated copies of a photo give its dihedral hashes', async () => {
    const bytes = readFileSync(join(FIXTURE_DIR, 'images/bridge-1-original.jpg'));
    const { hashes } = pdqDihedralHashes(await decodeForPdq(bytes, { view: 'symmetric' }));
    const copies: [DihedralName, sharp.Sharp][] = [
      ['flipY', sharp(bytes).flop()], ['flipX', sharp(bytes).flip()], ['rotate180', sharp(bytes).rotate(180)],
      // sharp turns clockwise; the reference's rotate90 is anticlockwise.
      ['rotate270', sharp(bytes).rotate(90)], ['rotate90', sharp(bytes).rotate(270)],
    ];
    for (const [name, copy] of copies) {
      const h = pdqHash(await decodeForPdq(await copy.png().toBuffer(), { view: 'symmetric' })).hash;
      expect({ name, near: hammingDistance(h, hashes[name]) <= 4 }).toEqual({ name, near: true });
    }
  });

  test('pdqDihedralHashes().hashes.original is pdqHash(), with the same quality', async () => {
    const view = await decodeForPdq(readFileSync(join(FIXTURE_DIR, 'images/q0291.jpg')));
    const single = pdqHash(view);
    const all = pdqDihedralHashes(view);
    expect(pdqHashToHex(all.hashes.original)).toBe(pdqHashToHex(single.hash));
    expect(all.quality).toBe(single.quality);
  });
});

describe('pixel formats and edge cases', () => {
  test('grey, grey + alpha, RGB and RGBA views of the same grey picture hash alike', async () => {
    const grey = await rawView(sharp(readFileSync(join(FIXTURE_DIR, 'images/q0122.jpg'))).greyscale());
    expect(grey.channels).toBe(1);
    const n = grey.width * grey.height;
    const widen = (c: number): PixelView => {
      const data = new Uint8Array(n * c);
      for (let p = 0; p < n; p++) {
        for (let k = 0; k < c; k++) data[p * c + k] = k === 3 || (c === 2 && k === 1) ? 77 : grey.data[p]!;
      }
      return { data, width: grey.width, height: grey.height, channels: c };
    };
    const base = pdqHash(grey);
    expect(base.quality).toBeGreaterThanOrEqual(50);
    for (const c of [2, 3, 4]) {
      // 0.299 + 0.587 + 0.114 is 1 up to rounding, so luma may differ in the last bit: allow a tie or two.
      expect({ c, d: hammingDistance(pdqHash(widen(c)).hash, base.hash) <= 2 }).toEqual({ c, d: true });
    }
  });

  test('a flat image has quality 0; an image under 5 px a side gets the all-zero hash', () => {
    const flat = { data: new Uint8Array(100 * 80 * 3).fill(128), width: 100, height: 80, channels: 3 };
    expect(pdqHash(flat).quality).toBe(0);
    const tiny = pdqHash({ data: new Uint8Array(4 * 40 * 3).fill(200), width: 4, height: 40, channels: 3 });
    expect(pdqHashToHex(tiny.hash)).toBe('0'.repeat(64));
    expect(tiny.quality).toBe(0);
  });

  test('half the bits are set: the threshold is the median of the 256 coefficients', async () => {
    const { hash } = pdqHash(await decodeForPdq(readFileSync(join(FIXTURE_DIR, 'images/q0746.jpg'))));
    expect(hammingDistance(hash, new Uint8Array(32))).toBe(128);
  });

  test('invalid views are refused, naming the parameter and the value', () => {
    const data = new Uint8Array(30);
    expect(() => pdqHash({ data, width: 0, height: 10, channels: 3 })).toThrow(/width must be a positive integer, got 0/);
    expect(() => pdqHash({ data, width: 10, height: 1.5, channels: 3 })).toThrow(/height must be a positive integer, got 1.5/);
    expect(() => pdqHash({ data, width: 2, height: 5, channels: 5 })).toThrow(/channels must be 1, 2, 3 or 4, got 5/);
    expect(() => pdqHash({ data, width: 10, height: 10, channels: 3 })).toThrow(/30 bytes, fewer than .* = 300/);
  });
});

describe('thresholding', () => {
  test('pdqHashFromDct sets the bits above the 128th smallest coefficient, ties included', () => {
    let seed = 7;
    const rand = (): number => ((seed = (Math.imul(seed, 1103515245) + 12345) >>> 0) / 2 ** 32);
    for (let trial = 0; trial < 200; trial++) {
      // Some trials draw from a few values only, so that many coefficients tie with the median.
      const levels = trial % 3 === 0 ? 5 : 0;
      const dct = Float64Array.from({ length: 256 }, () => (levels > 0 ? Math.floor(rand() * levels) : rand() * 2 - 1));
      const median = [...dct].sort((a, b) => a - b)[127]!;
      const expected = new Uint8Array(32);
      dct.forEach((v, k) => {
        const i = k >> 4;
        const j = k & 15;
        if (v > median) expected[2 * (15 - i) + (j >= 8 ? 0 : 1)]! |= 1 << (j & 7);
      });
      expect(pdqHashToHex(pdqHashFromDct(dct))).toBe(pdqHashToHex(expected));
    }
  });
});

describe('hash values', () => {
  const a = 'd8f8f0cce0f4a84f0e370a22028f67f0b36e2ed596623e1d33e6b39c4e9c9b22';

  test('hex round-trips, in either case', () => {
    expect(pdqHashToHex(pdqHashFromHex(a))).toBe(a);
    expect(pdqHashToHex(pdqHashFromHex(a.toUpperCase()))).toBe(a);
  });

  test('Hamming distance counts differing bits', () => {
    const h = pdqHashFromHex(a);
    const flipped = Uint8Array.from(h);
    flipped[0]! ^= 0x81;
    flipped[31]! ^= 0x01;
    expect(hammingDistance(h, flipped)).toBe(3);
    expect(hammingDistance(h, h.map((b) => b ^ 0xff))).toBe(256);
    expect(minHammingDistance(h, [h.map((b) => b ^ 0xff), flipped])).toBe(3);
  });

  test('malformed hex and wrong-sized hashes are refused, naming the value', () => {
    expect(() => pdqHashFromHex('abc')).toThrow(/hex must be 64 hexadecimal characters, got "abc"/);
    expect(() => pdqHashFromHex(`${a.slice(0, 63)}g`)).toThrow(/64 hexadecimal/);
    expect(() => hammingDistance(new Uint8Array(31), new Uint8Array(32))).toThrow(/a must be a 32-byte Uint8Array, got 31 bytes/);
  });
});
