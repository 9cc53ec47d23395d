import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { basename, join, resolve } from 'node:path';
import { loadavg, cpus, totalmem } from 'node:os';
import { processThreads } from './measure';

/** The repository root and ../shared beside it. */
export const REPO_DIR = resolve(__dirname, '../..');
export const SHARED_DIR = resolve(REPO_DIR, '../shared');
export const SHARED_IMAGES_DIR = join(SHARED_DIR, 'images');
export const SHARED_PDQ_DIR = join(SHARED_DIR, 'pdq-reference');
export const FIXTURE_PDQ_DIR = join(REPO_DIR, 'test/fixtures/pdq');

export interface PhotoFile {
  readonly name: string;
  readonly path: string;
  readonly bytes: Buffer;
}

function photosIn(dir: string): PhotoFile[] {
  if (!existsSync(dir)) return [];
  return readdirSync(dir)
    .filter((f) => /\.(jpe?g|png|webp)$/i.test(f))
    .sort()
    .map((f) => ({ name: f, path: join(dir, f), bytes: readFileSync(join(dir, f)) }));
}

/** samples/ and ../shared/images (when present); a file of the same name is taken once. */
export function benchPhotos(): PhotoFile[] {
  const seen = new Set<string>();
  const out: PhotoFile[] = [];
  for (const p of [...photosIn(join(REPO_DIR, 'samples')), ...photosIn(SHARED_IMAGES_DIR)]) {
    if (seen.has(p.name)) continue;
    seen.add(p.name);
    out.push(p);
  }
  return out;
}

/** The scene a photo shows: file names start with it (`kleiber_4032x3024_q90.jpg` → `kleiber`). */
export function sceneOf(name: string): string {
  return basename(name).split(/[_.-]/)[0]!.toLowerCase();
}

export interface ReferenceVectors {
  readonly dir: string;
  readonly hashes: Readonly<Record<string, string>>;
}

/** ../shared/pdq-reference when present, else the vectors shipped in test/fixtures/pdq. */
export function referenceVectors(): ReferenceVectors {
  for (const dir of [SHARED_PDQ_DIR, FIXTURE_PDQ_DIR]) {
    const file = join(dir, 'expected.json');
    if (!existsSync(file)) continue;
    const parsed = JSON.parse(readFileSync(file, 'utf8')) as { hashes: Record<string, string> };
    return { dir: join(dir, 'images'), hashes: parsed.hashes };
  }
  throw new Error(`no PDQ reference vectors in ${SHARED_PDQ_DIR} or ${FIXTURE_PDQ_DIR}`);
}

/** One line naming the machine and its load, printed beside every figure. */
export function machineLine(): string {
  const c = cpus();
  const [l1, l5, l15] = loadavg();
  return `machine: ${c.length} × ${c[0]?.model ?? 'cpu'}, ${(totalmem() / 2 ** 30).toFixed(0)} GiB; node ${process.version}; load ${l1!.toFixed(2)} ${l5!.toFixed(2)} ${l15!.toFixed(2)}`;
}

export function mib(bytes: number): string {
  return `${(bytes / 2 ** 20).toFixed(1)} MiB`;
}

/** CPU time (user + system) of this process's main thread in ms: lookups/s per core, whatever the load. */
export function mainThreadCpuMs(): number {
  return processThreads().find((t) => t.tid === process.pid)?.cpuMs ?? Number.NaN;
}
