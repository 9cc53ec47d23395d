import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';

/** ../shared beside the checkout (read-only test data: photos and parity tensors); optional. */
export const SHARED_DIR = resolve(__dirname, '../../../shared');
export const SHARED_IMAGES_DIR = join(SHARED_DIR, 'images');
/** Photos committed with the repository: the demo's samples and the parity fixtures. */
const COMMITTED_PHOTO_DIRS = [resolve(__dirname, '../../samples'), resolve(__dirname, '../fixtures/parity')];

export interface SampleImage {
  readonly name: string;
  readonly bytes: Buffer;
}

/** The photos (jpg, png, webp) of one folder, sorted by name. */
function photosIn(dir: string): SampleImage[] {
  return readdirSync(dir)
    .filter((f) => /\.(jpe?g|png|webp)$/i.test(f))
    .sort()
    .map((name) => ({ name, bytes: readFileSync(join(dir, name)) }));
}

/**
 * Real photos to upload: the larger set of ../shared/images when it is beside the checkout, else the
 * committed ones (samples/ and test/fixtures/parity), so that a fresh clone runs the same tests.
 */
export function testPhotos(): SampleImage[] {
  if (existsSync(SHARED_IMAGES_DIR)) return photosIn(SHARED_IMAGES_DIR);
  const byName = new Map(COMMITTED_PHOTO_DIRS.flatMap(photosIn).map((p) => [p.name, p] as const));
  return [...byName.values()].sort((a, b) => a.name.localeCompare(b.name));
}
