import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';

/** ../shared beside the checkout (read-only test data: photos and parity tensors). */
export const SHARED_DIR = resolve(__dirname, '../../../shared');
export const SHARED_IMAGES_DIR = join(SHARED_DIR, 'images');

export interface SampleImage {
  readonly name: string;
  readonly bytes: Buffer;
}

/** The real photos of ../shared/images (jpg, png, webp), sorted by name. */
export function sharedImages(): SampleImage[] {
  if (!existsSync(SHARED_IMAGES_DIR)) throw new Error(`test data missing: ${SHARED_IMAGES_DIR} (clone beside ../shared)`);
  return readdirSync(SHARED_IMAGES_DIR)
    .filter((f) => /\.(jpe?g|png|webp)$/i.test(f))
    .sort()
    .map((name) => ({ name, bytes: readFileSync(join(SHARED_IMAGES_DIR, name)) }));
}
