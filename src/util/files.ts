import { randomBytes } from 'node:crypto';
import { access, readdir, rename, unlink, writeFile } from 'node:fs/promises';
import { basename, dirname, join, resolve } from 'node:path';

export async function exists(path: string): Promise<boolean> {
  try {
    await access(path);
    return true;
  } catch {
    return false;
  }
}

/** Writes via a unique temp file and rename, so concurrent writers and readers never see a partial file. */
export async function writeAtomically(path: string, data: Buffer | Uint8Array | string): Promise<void> {
  const tmp = resolve(dirname(path), `.${basename(path)}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`);
  try {
    await writeFile(tmp, data);
    await rename(tmp, path);
  } catch (err) {
    await unlink(tmp).catch(() => undefined);
    throw err;
  }
}

/** File names revmod treats as images when it walks a folder. */
export const IMAGE_FILE_PATTERN = /\.(jpe?g|png|webp|gif|tiff?|avif|heic|heif|bmp)$/i;

/** The image files below `dir`, recursively, sorted by name within each folder. */
export async function listImageFiles(dir: string): Promise<string[]> {
  const out: string[] = [];
  const walk = async (d: string): Promise<void> => {
    for (const e of (await readdir(d, { withFileTypes: true })).sort((a, b) => a.name.localeCompare(b.name))) {
      if (e.isDirectory()) await walk(join(d, e.name));
      else if (e.isFile() && IMAGE_FILE_PATTERN.test(e.name)) out.push(join(d, e.name));
    }
  };
  await walk(dir);
  return out;
}
