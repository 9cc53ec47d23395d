/**
 * Writes a few photos for the demo that the detectors should catch: contact text, a QR code, a
 * blurred photo (made from samples/, deterministic). Kept out of samples/ itself, which the
 * detector set reads as clean photos.
 *
 *   npx tsx tools/detector-set/demo-samples.ts [--out samples/detectors]
 */
import { mkdirSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import sharp from 'sharp';
import { SeededRandom } from '../../src/util/seeded-random';
import { qrImage, textOverlaySvg } from './render';

const SAMPLES = resolve(__dirname, '../../samples');

async function main(): Promise<void> {
  const { values } = parseArgs({ options: { out: { type: 'string', default: 'samples/detectors' } } });
  const out = resolve(values.out);
  mkdirSync(out, { recursive: true });
  const rng = new SeededRandom(3);
  const coffee = readFileSync(join(SAMPLES, 'coffee_600x400_q85.jpg'));
  const rocket = readFileSync(join(SAMPLES, 'rocket_1080x1080_q85.jpg'));
  const chelsea = readFileSync(join(SAMPLES, 'chelsea_451x300_q85.jpg'));

  const { svg } = textOverlaySvg(rng, 600, 400, ['想要同款的私聊', '加微信 shop_8888a'], {
    family: 'Noto Sans CJK SC', weight: 'bold', fontPx: 34, angleDeg: -6, fill: '#ffffff', backdrop: 'box', boxFill: '#d81e06',
  });
  await sharp(coffee).composite([{ input: Buffer.from(svg), left: 0, top: 0 }]).jpeg({ quality: 88 }).toFile(join(out, 'coffee_contact_wechat.jpg'));

  const qr = await qrImage(rng, 'https://u.wechat.com/shop8888', 300, 0);
  await sharp(rocket).composite([{ input: qr, left: 700, top: 640 }]).jpeg({ quality: 88 }).toFile(join(out, 'rocket_qr_code.jpg'));

  await sharp(chelsea).blur(3).jpeg({ quality: 88 }).toFile(join(out, 'chelsea_blurry.jpg'));
  console.log(`3 demo photos in ${out}: coffee_contact_wechat.jpg (contact_info), rocket_qr_code.jpg (qr_code), chelsea_blurry.jpg (blurry)`);
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
