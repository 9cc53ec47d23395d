/**
 * Real photos (samples/ and test/fixtures/photos/) and images made from them for detector tests:
 * blurred, with a QR code, with rendered text. Nothing here needs ../shared.
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import QRCode from 'qrcode';
import sharp from 'sharp';

export const ROOT = resolve(__dirname, '../..');
export const PHOTO_DIRS = [join(ROOT, 'samples'), join(ROOT, 'test/fixtures/photos')];

/** The fonts text is rendered with (Debian's fonts-noto-cjk and fonts-dejavu-core; .ci/run installs them). */
export const FONT_FILES = ['/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc', '/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf'];

/** Without the fonts, Chinese renders as empty boxes and every OCR figure is meaningless: say so plainly. */
export function requireFonts(): void {
  const missing = FONT_FILES.filter((f) => !existsSync(f));
  if (missing.length > 0) throw new Error(`fonts missing (${missing.join(', ')}): install fonts-noto-cjk and fonts-dejavu-core with apt`);
}

export function fixturePhoto(name: string): Buffer {
  for (const dir of PHOTO_DIRS) {
    if (readdirSync(dir).includes(name)) return readFileSync(join(dir, name));
  }
  throw new Error(`no fixture photo ${name}`);
}

/** The photo blurred with a Gaussian of `sigmaPx` pixels at its own size. */
export async function blurred(photo: Buffer, sigmaPx: number): Promise<Buffer> {
  return sharp(photo).blur(sigmaPx).jpeg({ quality: 90 }).toBuffer();
}

/** The photo with a QR code of `payload`, `sidePx` square, pasted at (left, top). */
export async function withQr(photo: Buffer, payload: string, sidePx: number, left = 20, top = 20): Promise<Buffer> {
  const qr = await QRCode.toBuffer(payload, { type: 'png', margin: 3, scale: 4 });
  const square = await sharp(qr).resize(sidePx, sidePx, { kernel: 'nearest' }).png().toBuffer();
  return sharp(photo).composite([{ input: square, left, top }]).jpeg({ quality: 90 }).toBuffer();
}

function escapeXml(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}

/** The photo with lines of text on a white box (Noto Sans CJK SC, `fontPx` high). */
export async function withText(photo: Buffer, lines: readonly string[], fontPx = 32): Promise<Buffer> {
  requireFonts();
  const meta = await sharp(photo).metadata();
  const w = meta.width!;
  const h = meta.height!;
  const lineH = Math.round(fontPx * 1.4);
  const boxH = lines.length * lineH + fontPx;
  const texts = lines.map((l, i) => `<text x="${fontPx}" y="${Math.round(h * 0.2) + fontPx + i * lineH}" font-family="Noto Sans CJK SC" font-size="${fontPx}" fill="#111">${escapeXml(l)}</text>`).join('');
  const svg = `<svg xmlns="http://www.w3.org/2000/svg" width="${w}" height="${h}"><rect x="${fontPx / 2}" y="${Math.round(h * 0.2)}" width="${w - fontPx}" height="${boxH}" fill="#fff"/>${texts}</svg>`;
  return sharp(photo).composite([{ input: Buffer.from(svg), left: 0, top: 0 }]).jpeg({ quality: 90 }).toBuffer();
}
