/**
 * Procedural textures (strokes like grass, pebbles, bricks, dots, window grids, leaves) written as
 * PNG "photos" for the text gate's training: busy surfaces that are not text, beyond the few scenes
 * the real photos show. Deterministic for a seed.
 *
 *   npx tsx tools/text-gate/textures.ts --out .tmp/text-gate/textures [--count 150] [--seed 5]
 */
import { mkdirSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import sharp from 'sharp';
import { SeededRandom } from '../../src/util/seeded-random';

type Rng = SeededRandom;
const between = (rng: Rng, a: number, b: number): number => a + rng.next() * (b - a);
const grey = (rng: Rng, lo = 0, hi = 255): string => {
  const v = Math.round(between(rng, lo, hi));
  const tint = (d: number): number => Math.max(0, Math.min(255, v + Math.round(between(rng, -d, d))));
  return `rgb(${tint(30)},${tint(30)},${tint(30)})`;
};

function strokes(rng: Rng, w: number, h: number): string {
  const vertical = rng.next() < 0.6;
  let s = '';
  for (let i = Math.round(between(rng, 300, 1400)); i > 0; i--) {
    const x = between(rng, 0, w);
    const y = between(rng, 0, h);
    const len = between(rng, 8, 90);
    const a = vertical ? between(rng, -Math.PI / 2 - 0.6, -Math.PI / 2 + 0.6) : between(rng, 0, Math.PI * 2);
    s += `<line x1="${x.toFixed(1)}" y1="${y.toFixed(1)}" x2="${(x + len * Math.cos(a)).toFixed(1)}" y2="${(y + len * Math.sin(a)).toFixed(1)}" stroke="${grey(rng)}" stroke-width="${between(rng, 0.8, 4).toFixed(1)}" stroke-linecap="round"/>`;
  }
  return s;
}

function pebbles(rng: Rng, w: number, h: number): string {
  let s = '';
  for (let i = Math.round(between(rng, 200, 900)); i > 0; i--) {
    const cx = between(rng, 0, w);
    const cy = between(rng, 0, h);
    const r = between(rng, 5, 30);
    const pts = Array.from({ length: 6 }, (_, k) => {
      const a = (k / 6) * Math.PI * 2 + between(rng, -0.4, 0.4);
      const rr = r * between(rng, 0.6, 1.2);
      return `${(cx + rr * Math.cos(a)).toFixed(1)},${(cy + rr * Math.sin(a)).toFixed(1)}`;
    });
    s += `<polygon points="${pts.join(' ')}" fill="${grey(rng, 60, 230)}" stroke="${grey(rng, 0, 80)}" stroke-width="${between(rng, 0.5, 2.5).toFixed(1)}"/>`;
  }
  return s;
}

function bricks(rng: Rng, w: number, h: number): string {
  const bw = between(rng, 30, 110);
  const bh = between(rng, 12, 40);
  const gap = between(rng, 1.5, 5);
  let s = '';
  for (let y = -bh, row = 0; y < h; y += bh + gap, row++) {
    for (let x = row % 2 === 0 ? -bw / 2 : -bw; x < w; x += bw + gap) s += `<rect x="${x.toFixed(1)}" y="${y.toFixed(1)}" width="${bw.toFixed(1)}" height="${bh.toFixed(1)}" fill="${grey(rng, 70, 200)}"/>`;
  }
  return s;
}

function dots(rng: Rng, w: number, h: number): string {
  let s = '';
  for (let i = Math.round(between(rng, 100, 1500)); i > 0; i--) s += `<circle cx="${between(rng, 0, w).toFixed(1)}" cy="${between(rng, 0, h).toFixed(1)}" r="${between(rng, 1, 8).toFixed(1)}" fill="${grey(rng)}"/>`;
  return s;
}

function windows(rng: Rng, w: number, h: number): string {
  const cw = between(rng, 6, 30);
  const ch = between(rng, 8, 36);
  const gx = between(rng, 3, 14);
  const gy = between(rng, 3, 14);
  let s = '';
  for (let y = between(rng, 0, gy); y < h; y += ch + gy) for (let x = between(rng, 0, gx); x < w; x += cw + gx) if (rng.next() < 0.9) s += `<rect x="${x.toFixed(1)}" y="${y.toFixed(1)}" width="${cw.toFixed(1)}" height="${ch.toFixed(1)}" fill="${grey(rng)}"/>`;
  return s;
}

function leaves(rng: Rng, w: number, h: number): string {
  let s = '';
  for (let i = Math.round(between(rng, 80, 400)); i > 0; i--) {
    const cx = between(rng, 0, w);
    const cy = between(rng, 0, h);
    const rx = between(rng, 8, 40);
    const a = between(rng, 0, 180);
    s += `<g transform="translate(${cx.toFixed(1)} ${cy.toFixed(1)}) rotate(${a.toFixed(0)})"><ellipse rx="${rx.toFixed(1)}" ry="${(rx * between(rng, 0.25, 0.5)).toFixed(1)}" fill="${grey(rng, 40, 220)}"/><line x1="${(-rx).toFixed(1)}" y1="0" x2="${rx.toFixed(1)}" y2="0" stroke="${grey(rng)}" stroke-width="1"/></g>`;
  }
  return s;
}

const KINDS = { strokes, pebbles, bricks, dots, windows, leaves } as const;

/** Writes `count` textures into `out` (PNG, 640×480 or 512×512). */
export async function writeTextures(out: string, count: number, seed: number): Promise<void> {
  const rng = new SeededRandom(seed);
  mkdirSync(out, { recursive: true });
  const names = Object.keys(KINDS) as (keyof typeof KINDS)[];
  for (let i = 0; i < count; i++) {
    const kind = names[i % names.length]!;
    const [w, h] = rng.next() < 0.5 ? [640, 480] : [512, 512];
    const svg = `<svg xmlns="http://www.w3.org/2000/svg" width="${w}" height="${h}"><rect width="${w}" height="${h}" fill="${grey(rng)}"/>${KINDS[kind](rng, w, h)}</svg>`;
    let img = sharp(Buffer.from(svg));
    const blur = between(rng, 0, 1.2);
    if (blur > 0.3) img = img.blur(blur);
    await img.png().toFile(join(out, `texture_${kind}_${String(i).padStart(3, '0')}.png`));
  }
}

async function main(): Promise<void> {
  const { values } = parseArgs({ options: { out: { type: 'string', default: '.tmp/text-gate/textures' }, count: { type: 'string', default: '150' }, seed: { type: 'string', default: '5' } } });
  const out = resolve(values.out);
  const count = Number(values.count);
  await writeTextures(out, count, Number(values.seed));
  console.log(`${count} textures in ${out}`);
}

if (require.main === module) main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
