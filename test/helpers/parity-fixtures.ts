import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import sharp from 'sharp';

/** The committed parity photos and their torchvision references (tools/parity/make-reference.py). */
export const PARITY_FIXTURES_DIR = resolve(__dirname, '../fixtures/parity');

const CROP = 224;
const PLANE = CROP * CROP;

/** One reference of test/fixtures/parity/MANIFEST.json: a photo seen in one frame (upright or stored). */
export interface FixtureReference {
  readonly image: string;
  /** PIL's 224×224 RGB crop after Resize(256) + CenterCrop(224), relative to the fixtures folder. */
  readonly reference_png: string;
  readonly reference_png_sha256: string;
  readonly image_sha256: string;
  readonly format: string;
  /** PIL's mode of the stored photo: RGB, L, CMYK, RGBA. */
  readonly source_mode: string;
  readonly progressive: boolean;
  readonly icc_profile_bytes: number;
  readonly stored_size_wh: [number, number];
  readonly exif_orientation: number | null;
  /** Whether PIL stood the photo upright (ImageOps.exif_transpose) before the transform. */
  readonly exif_transpose_applied: boolean;
  /** Size of the image the transform saw (upright when exif_transpose_applied). */
  readonly size_wh: [number, number];
  /** sha256 of torchvision's own float32 CHW tensor (little-endian) for this reference. */
  readonly tensor_sha256: string;
}

interface FixtureManifest {
  readonly mean: readonly [number, number, number];
  readonly std: readonly [number, number, number];
  readonly entries: readonly FixtureReference[];
}

export function readFixtureManifest(): FixtureManifest {
  return JSON.parse(readFileSync(join(PARITY_FIXTURES_DIR, 'MANIFEST.json'), 'utf8')) as FixtureManifest;
}

export function readFixtureImage(entry: FixtureReference): Buffer {
  return readFileSync(join(PARITY_FIXTURES_DIR, entry.image));
}

export function sha256Hex(bytes: Uint8Array): string {
  return createHash('sha256').update(bytes).digest('hex');
}

/** The reference crop as 224×224 HWC RGB bytes (a plain PNG: no profile to apply). */
export async function readReferenceCrop(entry: FixtureReference): Promise<Uint8Array> {
  const png = readFileSync(join(PARITY_FIXTURES_DIR, entry.reference_png));
  const { data, info } = await sharp(png, { ignoreIcc: true }).raw().toBuffer({ resolveWithObject: true });
  if (info.width !== CROP || info.height !== CROP || info.channels !== 3) {
    throw new Error(`${entry.reference_png}: ${info.width}×${info.height}×${info.channels}, expected ${CROP}×${CROP}×3`);
  }
  return data;
}

/**
 * torchvision's ToTensor + Normalize on an HWC RGB crop, in float32 step by step as PyTorch computes
 * it: x / 255, then (x − mean) / std with float32 mean and std. Written here apart from revmod's
 * normalizer, so that the reference does not go through the code under test.
 */
export function torchvisionNormalize(rgb: Uint8Array, mean: readonly number[], std: readonly number[]): Float32Array {
  const out = new Float32Array(3 * PLANE);
  for (let c = 0; c < 3; c++) {
    const m = Math.fround(mean[c]!);
    const s = Math.fround(std[c]!);
    for (let i = 0; i < PLANE; i++) {
      out[c * PLANE + i] = Math.fround(Math.fround(Math.fround(rgb[i * 3 + c]! / 255) - m) / s);
    }
  }
  return out;
}

/** sha256 of a float32 tensor as little-endian bytes, the layout the manifest's tensor_sha256 hashes. */
export function tensorSha256(t: Float32Array): string {
  const bytes = Buffer.alloc(t.length * 4);
  for (let i = 0; i < t.length; i++) bytes.writeFloatLE(t[i]!, i * 4);
  return sha256Hex(bytes);
}
