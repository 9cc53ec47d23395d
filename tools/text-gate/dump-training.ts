/**
 * Builds training data for the text gate's network: a detector set generated with ink masks from
 * photos that the test set never uses, turned into the network's exact inputs and per-cell targets.
 *
 *   npx tsx tools/text-gate/dump-training.ts --out .tmp/text-gate [--seed N] [--images N]
 *
 * Writes DIR/set/ and DIR/set-textures/ (images, masks, labels.jsonl), DIR/textures/, DIR/data.bin
 * and DIR/index.json for train.py.
 */
import { existsSync, readFileSync, writeFileSync, mkdirSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import sharp from 'sharp';
import { gateInput } from '../../src/detectors/text/gate-net';
import { decodeView } from '../../src/detectors/views';
import { parseLabels } from '../../src/eval/detector-labels';
import { buildDetectorSet, type SetCounts } from '../detector-set/build-set';
import { writeTextures } from './textures';

/** Scenes the test set (samples/ and test/fixtures/photos/) shows: never trained on. */
export const HELD_OUT_PREFIXES = ['chelsea', 'coffee', 'rocket', 'astronaut', 'camera', 'brick', 'grass', 'gravel', 'coins', 'hubble', 'retina'];

const CELL = 16;

function quarter(c: SetCounts): SetCounts {
  const q = (n: number): number => Math.round(n / 4);
  return { clean: q(c.clean), blurry: q(c.blurry), qr: q(c.qr), contact: q(c.contact), benign_text: q(c.benign_text), banned: q(c.banned), screenshot: q(c.screenshot) };
}

async function main(): Promise<void> {
  const { values } = parseArgs({ options: { out: { type: 'string', default: '.tmp/text-gate' }, seed: { type: 'string', default: '1001' }, images: { type: 'string', default: '2000' } } });
  const out = resolve(values.out);
  const seed = Number(values.seed);
  const scale = Number(values.images) / 2000;
  const counts: SetCounts = {
    clean: Math.round(560 * scale), blurry: Math.round(60 * scale), qr: Math.round(140 * scale), contact: Math.round(600 * scale),
    benign_text: Math.round(460 * scale), banned: Math.round(80 * scale), screenshot: Math.round(100 * scale),
  };
  // Two sets: real photos, and procedural textures (busy surfaces the photos lack), a quarter as many.
  const sets: { dir: string; photoDirs: string[]; counts: SetCounts; seed: number }[] = [
    { dir: join(out, 'set'), photoDirs: [resolve(__dirname, '../../../shared/images')], counts, seed },
    { dir: join(out, 'set-textures'), photoDirs: [join(out, 'textures')], counts: quarter(counts), seed: seed + 1 },
  ];
  await writeTextures(join(out, 'textures'), 120, seed);
  const chunks: Buffer[] = [];
  const index: { file: string; kind: string; w: number; h: number; cw: number; ch: number; offset: number }[] = [];
  let offset = 0;
  for (const set of sets) {
    const setDir = set.dir;
    mkdirSync(setDir, { recursive: true });
    const labels = existsSync(join(setDir, 'labels.jsonl'))
      ? parseLabels(readFileSync(join(setDir, 'labels.jsonl'), 'utf8'))
      : await buildDetectorSet({ outDir: setDir, counts: set.counts, seed: set.seed, photoDirs: set.photoDirs, excludePhotoPrefixes: HELD_OUT_PREFIXES, writeMasks: true });
    for (const l of labels) {
      const view = await decodeView(readFileSync(join(setDir, l.file)), { kind: 'grey', maxSidePx: 512 });
      const input = gateInput(view.data, view.width, view.height);
      const ch = Math.ceil(Math.ceil(Math.ceil(input.h / 2) / 2) / 2);
      const cw = Math.ceil(Math.ceil(Math.ceil(input.w / 2) / 2) / 2);
      const target = new Float32Array(ch * cw);
      const maskFile = join(setDir, `${l.file}.mask.png`);
      if (existsSync(maskFile)) {
        const mask = await sharp(maskFile).resize(view.width, view.height, { fit: 'fill' }).extractChannel(0).raw().toBuffer();
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
      index.push({ file: join(setDir, l.file), kind: l.kind, w: input.w, h: input.h, cw, ch, offset });
      chunks.push(inBuf);
      // Keep float32 targets 4-byte aligned for numpy.
      const pad = (4 - (inBuf.length % 4)) % 4;
      chunks.push(Buffer.alloc(pad), tBuf);
      offset += inBuf.length + pad + tBuf.length;
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
