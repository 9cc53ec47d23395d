/**
 * Builds training data for the text gate's network: detector sets generated with ink masks, turned
 * into the network's exact inputs and per-cell targets.
 *
 *   npx tsx tools/text-gate/dump-training.ts --out .tmp/text-gate [--seed N] [--images N] [--hold-out]
 *
 * Needs ../shared/images (the real photos); the test fixtures are added unless --hold-out.
 *
 * Writes DIR/set/ and DIR/set-textures/ (images, masks, labels.jsonl), DIR/textures/, DIR/data.bin
 * and DIR/index.json for train.py.
 */
import { existsSync, readFileSync, writeFileSync, mkdirSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import sharp from 'sharp';
import { gateInput } from '../../src/detectors/text/gate-net';
import type { PixelView } from '../../src/detectors/types';
import { decodeView } from '../../src/detectors/views';
import { parseLabels } from '../../src/eval/detector-labels';
import { buildDetectorSet, type SetCounts } from '../detector-set/build-set';
import { writeTextures } from './textures';

/**
 * Scenes of the test fixtures (samples/ and test/fixtures/photos/). With --hold-out they are left
 * out of training, to measure how the gate does on scenes it has never seen (docs/detectors.md).
 */
export const TEST_SCENES = ['chelsea', 'coffee', 'rocket', 'astronaut', 'camera', 'brick', 'grass', 'gravel', 'coins', 'hubble', 'retina'];

const CELL = 16;

/** A grey view scaled by `factor` (zoomed in: the centre, cut back to the original size). */
async function rescaled(view: PixelView, factor: number): Promise<PixelView> {
  const w = Math.max(32, Math.round(view.width * factor));
  const h = Math.max(32, Math.round(view.height * factor));
  let img = sharp(view.data, { raw: { width: view.width, height: view.height, channels: 1 } }).resize(w, h, { fit: 'fill', kernel: 'linear' });
  if (factor > 1) {
    const cw = Math.min(w, view.width);
    const ch = Math.min(h, view.height);
    img = sharp(await img.greyscale().raw().toBuffer(), { raw: { width: w, height: h, channels: 1 } }).extract({ left: Math.floor((w - cw) / 2), top: Math.floor((h - ch) / 2), width: cw, height: ch });
  }
  const { data, info } = await img.greyscale().raw().toBuffer({ resolveWithObject: true });
  return { data: new Uint8Array(data), width: info.width, height: info.height, channels: 1 };
}

function quarter(c: SetCounts): SetCounts {
  const q = (n: number): number => Math.round(n / 4);
  return { clean: q(c.clean), blurry: q(c.blurry), qr: q(c.qr), contact: q(c.contact), benign_text: q(c.benign_text), banned: q(c.banned), screenshot: q(c.screenshot) };
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: { out: { type: 'string', default: '.tmp/text-gate' }, seed: { type: 'string', default: '1001' }, images: { type: 'string', default: '2000' }, 'hold-out': { type: 'boolean', default: false } },
  });
  const root = resolve(__dirname, '../..');
  const photoDirs = values['hold-out'] ? [resolve(root, '../shared/images')] : [resolve(root, '../shared/images'), join(root, 'samples'), join(root, 'test/fixtures/photos')];
  const exclude = values['hold-out'] ? TEST_SCENES : [];
  const out = resolve(values.out);
  const seed = Number(values.seed);
  const scale = Number(values.images) / 2000;
  const counts: SetCounts = {
    clean: Math.round(560 * scale), blurry: Math.round(60 * scale), qr: Math.round(140 * scale), contact: Math.round(600 * scale),
    benign_text: Math.round(460 * scale), banned: Math.round(80 * scale), screenshot: Math.round(100 * scale),
  };
  // Two sets: real photos, and procedural textures (busy surfaces the photos lack), a quarter as many.
  const sets: { dir: string; photoDirs: string[]; counts: SetCounts; seed: number }[] = [
    { dir: join(out, 'set'), photoDirs, counts, seed },
    { dir: join(out, 'set-textures'), photoDirs: [join(out, 'textures')], counts: quarter(counts), seed: seed + 1 },
  ];
  await writeTextures(join(out, 'textures'), 120, seed);
  const chunks: Buffer[] = [];
  const index: { file: string; kind: string; source: string; w: number; h: number; cw: number; ch: number; offset: number }[] = [];
  let offset = 0;
  for (const set of sets) {
    const setDir = set.dir;
    mkdirSync(setDir, { recursive: true });
    const labels = existsSync(join(setDir, 'labels.jsonl'))
      ? parseLabels(readFileSync(join(setDir, 'labels.jsonl'), 'utf8'))
      : await buildDetectorSet({ outDir: setDir, counts: set.counts, seed: set.seed, photoDirs: set.photoDirs, excludePhotoPrefixes: exclude, writeMasks: true });
    for (const l of labels) {
      const full = await decodeView(readFileSync(join(setDir, l.file)), { kind: 'grey', maxSidePx: 512 });
      const maskFile = join(setDir, `${l.file}.mask.png`);
      const mask = existsSync(maskFile) ? await sharp(maskFile).resize(full.width, full.height, { fit: 'fill' }).extractChannel(0).raw().toBuffer() : undefined;
      // Text-free images are also seen zoomed out and in, so that the surfaces not-text is learnt
      // from come in more sizes than the photos have.
      const variants = mask === undefined && l.kind !== 'screenshot' ? [full, await rescaled(full, 0.6), await rescaled(full, 1.6)] : [full];
      for (const view of variants) {
        const input = gateInput(view.data, view.width, view.height);
        const ch = Math.ceil(Math.ceil(Math.ceil(input.h / 2) / 2) / 2);
        const cw = Math.ceil(Math.ceil(Math.ceil(input.w / 2) / 2) / 2);
        const target = new Float32Array(ch * cw);
        if (mask !== undefined) {
          for (let cy = 0; cy < ch; cy++) {
            for (let cx = 0; cx < cw; cx++) {
              let ink = 0;
              let n = 0;
              for (let y = cy * CELL; y < Math.min(view.height, (cy + 1) * CELL); y++) {
                for (let x = cx * CELL; x < Math.min(view.width, (cx + 1) * CELL); x++) {
                  n++;
                  if (mask[y * view.width + x]! > 127) ink++;
                }
              }
              target[cy * cw + cx] = n === 0 ? 0 : ink / n;
            }
          }
        }
        const inBuf = Buffer.from(input.bytes.buffer, input.bytes.byteOffset, input.bytes.byteLength);
        const tBuf = Buffer.from(target.buffer);
        index.push({ file: join(setDir, l.file), kind: l.kind, source: l.source, w: input.w, h: input.h, cw, ch, offset });
        chunks.push(inBuf);
        // Keep float32 targets 4-byte aligned for numpy.
        const pad = (4 - (inBuf.length % 4)) % 4;
        chunks.push(Buffer.alloc(pad), tBuf);
        offset += inBuf.length + pad + tBuf.length;
      }
    }
  }
  writeFileSync(join(out, 'data.bin'), Buffer.concat(chunks));
  writeFileSync(join(out, 'index.json'), JSON.stringify(index));
  console.log(`${index.length} images → ${join(out, 'data.bin')} (${(offset / 1e6).toFixed(1)} MB)`);
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
