/**
 * Builds the labelled detector set: real photos made into clean, blurry, QR, contact-text,
 * benign-text (hard negative), banned-text and screenshot images, plus `labels.jsonl`.
 * Deterministic for a given seed and photo list.
 */
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import sharp from 'sharp';
import type { DetectorSetKind, DetectorSetLabel } from '../../src/eval/detector-labels';
import { SeededRandom } from '../../src/util/seeded-random';
import { type LumaAt, qrImage, randomTextStyle, screenshotSvg, textOverlaySvg } from './render';
import { bannedSample, benignSample, CONTACT_KINDS, contactSample, intIn, pick, qrPayload, screenshotSample, type TextSample } from './texts';

const ROOT = resolve(__dirname, '../..');

/** Where real photos come from: the demo's samples, the test fixtures, and ../shared/images when present. */
export const DEFAULT_PHOTO_DIRS: readonly string[] = [join(ROOT, 'samples'), join(ROOT, 'test/fixtures/photos'), resolve(ROOT, '../shared/images')];

/** Photos that are genuinely blurry, so never used as clean sources. */
const NOT_CLEAN = new Set([
  // out of focus, no sharp subject in the crop
  'ladybird_1080x1080_q85.jpg',
  // motion-blurred, shot from a moving car
  'storm_exif8_1440x1080_q85.jpg',
]);

export interface SetCounts {
  readonly clean: number;
  readonly blurry: number;
  readonly qr: number;
  readonly contact: number;
  readonly benign_text: number;
  readonly banned: number;
  readonly screenshot: number;
}

/** ≥ 300 images; hard negatives (benign text) are 60 of 170 text images (35 %). */
export const FULL_COUNTS: SetCounts = { clean: 70, blurry: 40, qr: 50, contact: 80, benign_text: 60, banned: 15, screenshot: 15 };
/** For tests: 35 clean photos so that one false positive is under 3 %; benign 14 of 45 text images (31 %). */
export const SMALL_COUNTS: SetCounts = { clean: 35, blurry: 10, qr: 12, contact: 24, benign_text: 14, banned: 4, screenshot: 3 };

export interface BuildSetOptions {
  readonly outDir: string;
  readonly counts: SetCounts;
  /** @defaultValue 12 */
  readonly seed?: number;
  /** @defaultValue DEFAULT_PHOTO_DIRS */
  readonly photoDirs?: readonly string[];
  /** Photos (file-name prefixes) left out, e.g. to keep training and test photos apart. */
  readonly excludePhotoPrefixes?: readonly string[];
  /** Also write each text image's ink mask (`<name>.mask.png`, white where text was drawn), for tuning. */
  readonly writeMasks?: boolean;
}

interface Photo {
  readonly name: string;
  readonly bytes: Buffer;
}

/** The real photos found, deduplicated by content, sorted by name (so the set does not depend on directory order). */
export function findPhotos(dirs: readonly string[] = DEFAULT_PHOTO_DIRS, excludePrefixes: readonly string[] = []): Photo[] {
  const seen = new Set<string>();
  const out: Photo[] = [];
  for (const dir of dirs) {
    if (!existsSync(dir)) continue;
    for (const name of readdirSync(dir).filter((f) => /\.(jpe?g|png|webp)$/i.test(f)).sort()) {
      const bytes = readFileSync(join(dir, name));
      const hash = createHash('sha256').update(bytes).digest('hex');
      if (seen.has(hash) || seen.has(name) || NOT_CLEAN.has(name) || excludePrefixes.some((p) => name.startsWith(p))) continue;
      seen.add(hash);
      seen.add(name);
      out.push({ name, bytes });
    }
  }
  return out.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
}

interface Base {
  readonly image: Buffer;
  readonly width: number;
  readonly height: number;
  /** Mean luminance inside a rectangle of the image. */
  readonly lumaAt: LumaAt;
}

interface Decoded {
  readonly data: Buffer;
  readonly info: sharp.OutputInfo;
}

/** Upright photos decoded once, at most 1280 px on the long side (large phone photos decode slowly). */
const decoded = new WeakMap<Photo, Promise<Decoded>>();

function decodePhoto(photo: Photo): Promise<Decoded> {
  let d = decoded.get(photo);
  if (d === undefined) {
    d = sharp(photo.bytes).rotate().resize(1280, 1280, { fit: 'inside', withoutEnlargement: true }).raw().toBuffer({ resolveWithObject: true });
    decoded.set(photo, d);
  }
  return d;
}

/** An upright photo at a phone-upload size (long side 640–1024, never enlarged), randomly cropped and mirrored. */
async function basePhoto(rng: SeededRandom, photo: Photo): Promise<Base> {
  const meta = await decodePhoto(photo);
  const { width: w0, height: h0 } = meta.info;
  const keep = 0.8 + rng.next() * 0.2;
  const cw = Math.round(w0 * Math.sqrt(keep));
  const ch = Math.round(h0 * Math.sqrt(keep));
  const left = Math.floor(rng.next() * (w0 - cw + 1));
  const top = Math.floor(rng.next() * (h0 - ch + 1));
  const longSide = pick(rng, [640, 720, 800, 1024]);
  let img = sharp(meta.data, { raw: { width: w0, height: h0, channels: meta.info.channels } }).extract({ left, top, width: cw, height: ch }).resize(longSide, longSide, { fit: 'inside', withoutEnlargement: true });
  if (rng.next() < 0.5) img = img.flop();
  const { data, info } = await img.removeAlpha().toColourspace('srgb').raw().toBuffer({ resolveWithObject: true });
  const lumaAt: LumaAt = (x0, y0, x1, y1) => {
    let sum = 0;
    let n = 0;
    for (let y = Math.max(0, Math.floor(y0)); y < Math.min(info.height, Math.ceil(y1)); y += 2) {
      for (let x = Math.max(0, Math.floor(x0)); x < Math.min(info.width, Math.ceil(x1)); x += 2) {
        const i = (y * info.width + x) * 3;
        sum += 0.299 * data[i]! + 0.587 * data[i + 1]! + 0.114 * data[i + 2]!;
        n++;
      }
    }
    return n === 0 ? 128 : sum / n;
  };
  return { image: await sharp(data, { raw: { width: info.width, height: info.height, channels: 3 } }).png().toBuffer(), width: info.width, height: info.height, lumaAt };
}

async function encode(img: sharp.Sharp, rng: SeededRandom, file: string, outDir: string, png = false): Promise<void> {
  const path = join(outDir, file);
  if (png) await img.png().toFile(path);
  else await img.jpeg({ quality: intIn(rng, 75, 92) }).toFile(path);
}

/** The ink of an overlay (its alpha), as `<image>.mask.png`. */
async function writeMask(maskSvg: string, file: string, outDir: string): Promise<void> {
  await sharp(Buffer.from(maskSvg)).extractChannel(3).png().toFile(join(outDir, `${file}.mask.png`));
}

function textLabel(sample: TextSample): Pick<DetectorSetLabel, 'lines' | 'lang'> {
  return { lines: sample.lines, lang: sample.lang };
}

const ANGLES = [0, 0, 0, -4, 4, -8, 8, -12, 12, -20, 20];

/** Builds the set into `outDir` and returns its labels (also written to `outDir/labels.jsonl`). */
export async function buildDetectorSet(options: BuildSetOptions): Promise<DetectorSetLabel[]> {
  const photos = findPhotos(options.photoDirs, options.excludePhotoPrefixes);
  if (photos.length === 0) throw new Error(`no photos found in ${(options.photoDirs ?? DEFAULT_PHOTO_DIRS).join(', ')}`);
  mkdirSync(options.outDir, { recursive: true });
  const rng = new SeededRandom(options.seed ?? 12);
  const labels: DetectorSetLabel[] = [];
  const none = { blurry: false, qr: false, contact: false, banned: false, textHeavy: false, text: false };
  let n = 0;
  // Photos are taken in turn (not at random) so every source is used about equally.
  const nextPhoto = (): Photo => photos[n++ % photos.length]!;
  const name = (kind: DetectorSetKind, i: number, ext = 'jpg'): string => `${kind}_${String(i).padStart(3, '0')}.${ext}`;

  for (let i = 0; i < options.counts.clean; i++) {
    const photo = nextPhoto();
    const base = await basePhoto(rng, photo);
    const file = name('clean', i);
    await encode(sharp(base.image), rng, file, options.outDir);
    labels.push({ file, kind: 'clean', source: photo.name, ...none });
  }

  for (let i = 0; i < options.counts.blurry; i++) {
    const photo = nextPhoto();
    const base = await basePhoto(rng, photo);
    const sigmaView = pick(rng, [2, 2.5, 3, 4, 5]);
    // σ is given at the 512-px view the detector reads; scale it to this image's size.
    const scale = Math.max(base.width, base.height) / Math.min(512, Math.max(base.width, base.height));
    const file = name('blurry', i);
    await encode(sharp(base.image).blur(sigmaView * scale), rng, file, options.outDir);
    labels.push({ file, kind: 'blurry', source: photo.name, ...none, blurry: true, blurSigmaPx: sigmaView });
  }

  for (let i = 0; i < options.counts.qr; i++) {
    const photo = nextPhoto();
    const base = await basePhoto(rng, photo);
    const payload = qrPayload(rng);
    const short = Math.min(base.width, base.height);
    // 18–50 % of the short side, and never under 80 px: a smaller code cannot be scanned off the
    // review page by a buyer either (it would be ~1.5 px per module).
    const side = Math.min(Math.round(short * 0.6), Math.max(80, Math.round(short * pick(rng, [0.18, 0.24, 0.3, 0.4, 0.5]))));
    const angle = pick(rng, [0, 0, 0, 5, -5, 10, -10, 20]);
    const qr = await qrImage(rng, payload, side, angle);
    const qm = await sharp(qr).metadata();
    const left = Math.floor(rng.next() * Math.max(1, base.width - qm.width!));
    const top = Math.floor(rng.next() * Math.max(1, base.height - qm.height!));
    const file = name('qr', i);
    await encode(sharp(base.image).composite([{ input: qr, left, top }]), rng, file, options.outDir);
    labels.push({ file, kind: 'qr', source: photo.name, ...none, qr: true, qrPayload: payload, qrSidePx: side, angleDeg: angle });
  }

  const textImage = async (kind: DetectorSetKind, i: number, sample: TextSample, extra: Partial<DetectorSetLabel>): Promise<void> => {
    const photo = nextPhoto();
    const base = await basePhoto(rng, photo);
    const style = randomTextStyle(rng, Math.min(base.width, base.height), ANGLES);
    const { svg, maskSvg, fontPx, region } = textOverlaySvg(rng, base.width, base.height, sample.lines, style, base.lumaAt);
    const file = name(kind, i);
    await encode(sharp(base.image).composite([{ input: Buffer.from(svg), left: 0, top: 0 }]), rng, file, options.outDir);
    if (options.writeMasks === true) await writeMask(maskSvg, file, options.outDir);
    labels.push({
      file, kind, source: photo.name, ...none, text: true, ...textLabel(sample), ...extra,
      font: `${style.family} ${style.weight}`, fontPx, angleDeg: style.angleDeg, region,
    });
  };

  for (let i = 0; i < options.counts.contact; i++) {
    const sample = contactSample(rng, CONTACT_KINDS[i % CONTACT_KINDS.length]!);
    await textImage('contact', i, sample, { contact: true, contactKinds: sample.contactKinds ?? [] });
  }
  for (let i = 0; i < options.counts.benign_text; i++) await textImage('benign_text', i, benignSample(rng), {});
  for (let i = 0; i < options.counts.banned; i++) {
    const sample = bannedSample(rng);
    await textImage('banned', i, sample, { banned: true, ...(sample.bannedTerm === undefined ? {} : { bannedTerm: sample.bannedTerm }) });
  }

  for (let i = 0; i < options.counts.screenshot; i++) {
    const photo = nextPhoto();
    const width = 720;
    const height = 1280;
    const photoH = 360;
    const sample = screenshotSample(rng);
    const thumb = await sharp((await basePhoto(rng, photo)).image).resize(width, photoH, { fit: 'cover' }).png().toBuffer();
    const { svg, maskSvg } = screenshotSvg(rng, width, height, sample.lines, photoH);
    const file = name('screenshot', i, 'png');
    await encode(sharp(Buffer.from(svg)).composite([{ input: thumb, left: 0, top: 0 }]), rng, file, options.outDir, true);
    if (options.writeMasks === true) await writeMask(maskSvg, file, options.outDir);
    labels.push({ file, kind: 'screenshot', source: photo.name, ...none, text: true, textHeavy: true, ...textLabel(sample) });
  }

  writeFileSync(join(options.outDir, 'labels.jsonl'), labels.map((l) => JSON.stringify(l)).join('\n') + '\n');
  return labels;
}
