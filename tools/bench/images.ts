import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import sharp from 'sharp';
import type { FetchedObject, FetchOptions, ObjectStore } from '../../src/storage';

export type SizeClass = '12 MP' | '~1.5 MP' | '~1 MP' | 'small';
export const SIZE_CLASSES: readonly SizeClass[] = ['12 MP', '~1.5 MP', '~1 MP', 'small'];

export interface BenchImage {
  readonly name: string;
  readonly bytes: Buffer;
  readonly width: number;
  readonly height: number;
  readonly format: string;
  readonly sizeClass: SizeClass;
}

export function sizeClassOf(width: number, height: number): SizeClass {
  const mp = (width * height) / 1e6;
  if (mp >= 10) return '12 MP';
  if (mp >= 1.4 && mp <= 1.7) return '~1.5 MP';
  if (mp >= 0.8 && mp < 1.4) return '~1 MP';
  return 'small';
}

/** The photos of a folder (jpg, png, webp), sorted by name, as the reference's load.py cycles them. */
export async function loadImages(dir: string): Promise<BenchImage[]> {
  let names: string[];
  try {
    names = readdirSync(dir).filter((f) => /\.(jpe?g|png|webp)$/i.test(f)).sort();
  } catch (err) {
    throw new Error(`cannot read the image folder ${dir}: ${(err as Error).message} (pass --images DIR)`);
  }
  if (names.length === 0) throw new Error(`no .jpg/.png/.webp images in ${dir}`);
  const out: BenchImage[] = [];
  for (const name of names) {
    const bytes = readFileSync(join(dir, name));
    const meta = await sharp(bytes).metadata();
    out.push({ name, bytes, width: meta.width, height: meta.height, format: meta.format as string, sizeClass: sizeClassOf(meta.width, meta.height) });
  }
  return out;
}

/** The n-th image of the cycle. */
export function cycled<T>(items: readonly T[], n: number): T {
  return items[n % items.length]!;
}

/**
 * Job ids are derived from bucket/key (resubmitting a key is a no-op while its job is retained), so
 * each submission needs its own key. Keys look like `run-3/000123/<image name>`: this store fetches
 * `images/<image name>` from the real S3 server through the real S3ObjectStore, so every job makes a
 * real GetObject without uploading the same photo thousands of times.
 */
export class AliasingStore implements ObjectStore {
  constructor(private readonly inner: ObjectStore) {}

  fetch(bucket: string, key: string, options: FetchOptions): Promise<FetchedObject> {
    const name = key.slice(key.lastIndexOf('/') + 1);
    return this.inner.fetch(bucket, `images/${name}`, options);
  }

  close(): void {
    this.inner.close();
  }
}

export const aliasKey = (run: string, n: number, image: BenchImage): string => `${run}/${String(n).padStart(6, '0')}/${image.name}`;
