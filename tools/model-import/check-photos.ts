/**
 * The photos a conversion is checked on: samples/ (shipped), generated variants of them (mirror,
 * flip, rotation, crops) so that a fresh clone has more than 20, and ../shared/images when present.
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import sharp from 'sharp';
import { type CheckImage, photoToCheckImage } from '../../src/model-import/nsfwjs-check';

const ROOT = resolve(__dirname, '../..');
export const SAMPLES_DIR = join(ROOT, 'samples');
export const SHARED_IMAGES_DIR = resolve(ROOT, '../shared/images');

export interface CheckPhoto extends CheckImage {
  /** An unaltered photo (true) or a generated variant of one (false). */
  readonly original: boolean;
}

function photoFiles(dir: string): string[] {
  if (!existsSync(dir)) return [];
  return readdirSync(dir).filter((f) => /\.(jpe?g|png|webp)$/i.test(f)).sort();
}

/** Seven variants of one photo: each is a different 224×224 input, still a real photo's content. */
async function variants(name: string, bytes: Buffer): Promise<CheckPhoto[]> {
  const upright = await sharp(bytes).rotate().toBuffer();
  const { width = 0, height = 0 } = await sharp(upright).metadata();
  const cw = Math.round((width * 2) / 3);
  const ch = Math.round((height * 2) / 3);
  const crop = (left: number, top: number, w: number, h: number) => sharp(upright).extract({ left, top, width: w, height: h });
  const made: Array<[string, sharp.Sharp]> = [
    ['mirror', sharp(upright).flop()],
    ['upside-down', sharp(upright).flip()],
    ['rotate90', sharp(upright).rotate(90)],
    ['crop-top-left', crop(0, 0, cw, ch)],
    ['crop-bottom-right', crop(width - cw, height - ch, cw, ch)],
    ['crop-centre-half', crop(Math.round(width / 4), Math.round(height / 4), Math.round(width / 2), Math.round(height / 2))],
    ['crop-left-strip', crop(0, 0, Math.round(width / 3), height)],
  ];
  return Promise.all(made.map(async ([label, img]) => ({ ...(await photoToCheckImage(`${name}~${label}`, await img.png().toBuffer())), original: false })));
}

/**
 * @param includeShared read ../shared/images when it exists (default true).
 */
export async function checkPhotos(includeShared = true): Promise<CheckPhoto[]> {
  const out: CheckPhoto[] = [];
  for (const f of photoFiles(SAMPLES_DIR)) {
    const bytes = readFileSync(join(SAMPLES_DIR, f));
    out.push({ ...(await photoToCheckImage(`samples/${f}`, bytes)), original: true }, ...(await variants(`samples/${f}`, bytes)));
  }
  if (includeShared) {
    for (const f of photoFiles(SHARED_IMAGES_DIR)) {
      out.push({ ...(await photoToCheckImage(`shared/${f}`, readFileSync(join(SHARED_IMAGES_DIR, f)))), original: true });
    }
  }
  return out;
}
