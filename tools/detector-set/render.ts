/**
 * Drawing for the detector set: text blocks (SVG rendered by librsvg/pango inside sharp, with the
 * system's Noto CJK and DejaVu fonts) and QR codes (the `qrcode` package) composited on real photos.
 */
import QRCode from 'qrcode';
import sharp from 'sharp';
import type { SeededRandom } from '../../src/util/seeded-random';
import { intIn, pick } from './texts';

export const FONTS: readonly { readonly family: string; readonly weight: 'normal' | 'bold' }[] = [
  { family: 'Noto Sans CJK SC', weight: 'normal' },
  { family: 'Noto Sans CJK SC', weight: 'bold' },
  { family: 'Noto Serif CJK SC', weight: 'normal' },
  { family: 'Noto Serif CJK SC', weight: 'bold' },
  { family: 'DejaVu Sans', weight: 'normal' },
  { family: 'DejaVu Sans', weight: 'bold' },
  { family: 'DejaVu Serif', weight: 'normal' },
  { family: 'DejaVu Sans Mono', weight: 'normal' },
];

export type Backdrop = 'outline' | 'box' | 'translucent' | 'none';

export interface TextStyle {
  readonly family: string;
  readonly weight: 'normal' | 'bold';
  readonly fontPx: number;
  readonly angleDeg: number;
  readonly fill: string;
  readonly backdrop: Backdrop;
  readonly boxFill: string;
}

const INK: readonly { readonly fill: string; readonly box: string }[] = [
  { fill: '#ffffff', box: '#000000' },
  { fill: '#111111', box: '#ffffff' },
  { fill: '#e02020', box: '#fff4d0' },
  { fill: '#ffe000', box: '#202020' },
  { fill: '#1040c0', box: '#f0f0f0' },
  { fill: '#ff6a00', box: '#ffffff' },
  { fill: '#ffffff', box: '#d81e06' },
  { fill: '#00a040', box: '#ffffff' },
];

export function randomTextStyle(rng: SeededRandom, shortSidePx: number, angles: readonly number[]): TextStyle {
  const font = pick(rng, FONTS);
  const ink = pick(rng, INK);
  const backdrop = pick<Backdrop>(rng, ['outline', 'box', 'translucent', 'outline', 'box', 'none']);
  const fontPx = Math.max(16, Math.round(shortSidePx * (0.045 + rng.next() * 0.05)));
  return { family: font.family, weight: font.weight, fontPx, angleDeg: pick(rng, angles), fill: ink.fill, backdrop, boxFill: ink.box };
}

function escapeXml(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
}

/** Rough advance width of a line in em: CJK and full-width forms are square, Latin about 0.6 em. */
function lineEm(line: string, bold: boolean): number {
  let em = 0;
  for (const ch of line) em += /[\u2e80-\u9fff\uff00-\uffef\u3000-\u303f]/.test(ch) ? 1 : bold ? 0.7 : 0.64;
  return em;
}

/**
 * An SVG the size of the image with the text block placed at a random spot that keeps the rotated
 * block inside the frame (the font shrinks until it fits).
 */
/** A rotated rectangle: centre and size as fractions of the image's width and height, angle in degrees. */
export interface RelativeRegion {
  readonly cx: number;
  readonly cy: number;
  readonly w: number;
  readonly h: number;
  readonly angleDeg: number;
}

/** Mean luminance (0–255) of the image inside a rectangle, for picking a legible ink. */
export type LumaAt = (x0: number, y0: number, x1: number, y1: number) => number;

const DARK_INKS = ['#111111', '#1040c0', '#c00000', '#004d00'];
const LIGHT_INKS = ['#ffffff', '#ffe000', '#ffd6d6', '#c8ffc8'];

function rgbOf(hex: string): [number, number, number] {
  const n = parseInt(hex.slice(1), 16);
  return [n >> 16, (n >> 8) & 255, n & 255];
}

/** WCAG relative luminance of an sRGB colour (channels 0–255). */
function relativeLuminance([r, g, b]: readonly number[]): number {
  const lin = (c: number): number => {
    const v = c / 255;
    return v <= 0.03928 ? v / 12.92 : ((v + 0.055) / 1.055) ** 2.4;
  };
  return 0.2126 * lin(r!) + 0.7152 * lin(g!) + 0.0722 * lin(b!);
}

function contrast(a: number, b: number): number {
  return (Math.max(a, b) + 0.05) / (Math.min(a, b) + 0.05);
}

/** Grey level (0–255) as a colour's relative luminance. */
function greyLuminance(level: number): number {
  return relativeLuminance([level, level, level]);
}

/**
 * Ink and outline that meet WCAG's 3:1 contrast for large text against what the text is read on
 * (the box, the outline, or the photo itself), as anyone who wants text read makes it. The random
 * colour is kept when it passes; otherwise black or white, whichever stands out more.
 */
function legibleColours(rng: SeededRandom, style: TextStyle, backgroundLevel: number): { fill: string; outline: string } {
  const bg = greyLuminance(backgroundLevel);
  const box = relativeLuminance(rgbOf(style.boxFill));
  const backdrop = style.backdrop === 'box' || style.backdrop === 'outline' ? box : style.backdrop === 'translucent' ? 0.6 * box + 0.4 * bg : bg;
  let fill = style.fill;
  if (style.backdrop === 'none') fill = pick(rng, backdrop > 0.18 ? DARK_INKS : LIGHT_INKS);
  if (contrast(relativeLuminance(rgbOf(fill)), backdrop) < 3) fill = contrast(0, backdrop) > contrast(1, backdrop) ? '#000000' : '#ffffff';
  const outline = style.backdrop === 'outline' && contrast(relativeLuminance(rgbOf(fill)), box) < 3 ? (fill === '#000000' ? '#ffffff' : '#000000') : style.boxFill;
  return { fill, outline };
}

export function textOverlaySvg(rng: SeededRandom, width: number, height: number, lines: readonly string[], style: TextStyle, lumaAt?: LumaAt): { svg: string; maskSvg: string; fontPx: number; fill: string; region: RelativeRegion } {
  let fontPx = style.fontPx;
  const rad = (style.angleDeg * Math.PI) / 180;
  for (;;) {
    const pad = Math.round(fontPx * 0.35);
    const lineH = Math.round(fontPx * 1.35);
    const bw = Math.max(...lines.map((l) => lineEm(l, style.weight === 'bold'))) * fontPx + 2 * pad;
    const bh = lines.length * lineH + 2 * pad;
    const rw = Math.abs(bw * Math.cos(rad)) + Math.abs(bh * Math.sin(rad));
    const rh = Math.abs(bw * Math.sin(rad)) + Math.abs(bh * Math.cos(rad));
    if ((rw > width * 0.96 || rh > height * 0.96) && fontPx > 12) {
      fontPx = Math.max(12, Math.floor(fontPx * 0.9));
      continue;
    }
    const cx = rw / 2 + rng.next() * Math.max(0, width - rw);
    const cy = rh / 2 + rng.next() * Math.max(0, height - rh);
    const { fill, outline: outlineColour } = legibleColours(rng, style, lumaAt === undefined ? 128 : lumaAt(cx - rw / 2, cy - rh / 2, cx + rw / 2, cy + rh / 2));
    const box =
      style.backdrop === 'box' ? `<rect x="${-bw / 2}" y="${-bh / 2}" width="${bw}" height="${bh}" rx="${pad}" fill="${style.boxFill}"/>`
        : style.backdrop === 'translucent' ? `<rect x="${-bw / 2}" y="${-bh / 2}" width="${bw}" height="${bh}" rx="${pad}" fill="${style.boxFill}" fill-opacity="0.6"/>`
          : '';
    const outline = style.backdrop === 'outline' ? ` stroke="${outlineColour}" stroke-width="${Math.max(1.5, fontPx / 12).toFixed(1)}" paint-order="stroke" stroke-linejoin="round"` : '';
    const texts = lines
      .map((l, i) => `<text x="${-bw / 2 + pad}" y="${-bh / 2 + pad + i * lineH + fontPx}" font-family="${style.family}" font-weight="${style.weight}" font-size="${fontPx}" fill="${fill}"${outline}>${escapeXml(l)}</text>`)
      .join('');
    const group = (inner: string): string => `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}"><g transform="translate(${cx.toFixed(1)} ${cy.toFixed(1)}) rotate(${style.angleDeg})">${inner}</g></svg>`;
    const svg = group(box + texts);
    const maskSvg = group(texts.replace(/ stroke="[^"]*" stroke-width="[^"]*"/g, ''));
    const r4 = (x: number): number => Math.round(x * 10_000) / 10_000;
    return { svg, maskSvg, fontPx, fill, region: { cx: r4(cx / width), cy: r4(cy / height), w: r4(bw / width), h: r4(bh / height), angleDeg: style.angleDeg } };
  }
}

/** A QR code as PNG, `sidePx` square including a white quiet zone, optionally tinted and rotated. */
export async function qrImage(rng: SeededRandom, payload: string, sidePx: number, angleDeg: number): Promise<Buffer> {
  const dark = pick(rng, ['#000000', '#000000', '#1a1a60', '#303030', '#0a4020']);
  const modules = await QRCode.toBuffer(payload, {
    type: 'png',
    margin: intIn(rng, 2, 4),
    scale: 4,
    errorCorrectionLevel: pick(rng, ['L', 'M', 'Q', 'H'] as const),
    color: { dark, light: '#ffffff' },
  });
  const square = await sharp(modules).resize(sidePx, sidePx, { kernel: 'nearest' }).png().toBuffer();
  if (angleDeg === 0) return square;
  return sharp(square).rotate(angleDeg, { background: { r: 0, g: 0, b: 0, alpha: 0 } }).png().toBuffer();
}

/** A plain page (light or dark) with a product photo on top and many lines of text below. */
export function screenshotSvg(rng: SeededRandom, width: number, height: number, lines: readonly string[], photoHeightPx: number): { svg: string; maskSvg: string } {
  const dark = rng.next() < 0.3;
  const bg = dark ? '#1e1e1e' : pick(rng, ['#ffffff', '#f5f5f5', '#ededed']);
  const ink = dark ? '#e8e8e8' : '#222222';
  const font = pick(rng, FONTS);
  const fontPx = intIn(rng, 26, 36);
  const lineH = Math.round(fontPx * 1.6);
  const bubbles = rng.next() < 0.5;
  const texts: string[] = [];
  const body = lines
    .map((l, i) => {
      const y = photoHeightPx + 40 + i * lineH;
      const bubble = bubbles ? `<rect x="24" y="${y - fontPx - 8}" width="${Math.min(width - 48, lineEm(l, false) * fontPx + 32)}" height="${fontPx + 20}" rx="10" fill="${dark ? '#2f6f3f' : '#95ec69'}"/>` : '';
      const text = `<text x="40" y="${y}" font-family="${font.family}" font-size="${fontPx}" fill="${ink}">${escapeXml(l)}</text>`;
      texts.push(text);
      return bubble + text;
    })
    .join('');
  const svg = (inner: string): string => `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}">${inner}</svg>`;
  return { svg: svg(`<rect width="${width}" height="${height}" fill="${bg}"/>${body}`), maskSvg: svg(texts.join('')) };
}
