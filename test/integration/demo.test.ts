/**
 * `npm run demo` (the README's main job on embedded defaults), run in process on the generated probe
 * model: every upload gets one verdict, broken ones error verdicts, and the detector samples are
 * caught by the detector they were made for.
 */
import { resolve } from 'node:path';
import pino from 'pino';
import { runDemo } from '../../tools/demo/run-demo';
import { defaultModelPath } from '../../tools/model-gen/ensure-model';

describe('the demo', () => {
  it('judges every sample once; the detector samples are caught by blur, QR and OCR', async () => {
    const lines: string[] = [];
    const { verdicts } = await runDemo({
      imagesDir: resolve(__dirname, '../../samples'), copies: 1, model: 'probe',
      logger: pino({ level: 'silent' }), print: (l) => lines.push(l),
    });
    // 3 photos × 1 copy, 3 detector samples, a truncated and a missing object.
    expect(verdicts).toHaveLength(8);
    expect(new Set(verdicts.map((v) => v.key)).size).toBe(8);
    const byKey = new Map(verdicts.map((v) => [v.key, v] as const));
    expect(byKey.get('reviews/detectors/chelsea_blurry.jpg')?.reasons).toContain('blurry');
    expect(byKey.get('reviews/detectors/rocket_qr_code.jpg')?.reasons).toContain('qr_code');
    expect(byKey.get('reviews/detectors/coffee_contact_wechat.jpg')?.reasons).toContain('contact_info');
    expect(byKey.get('reviews/broken/truncated.jpg')?.error?.code).toBe('IMAGE_CORRUPT');
    expect(byKey.get('reviews/broken/never-uploaded.jpg')?.error?.code).toBe('OBJECT_NOT_FOUND');
    // The printed table masks what OCR read (the WeChat id is personal data).
    const contactLine = lines.find((l) => l.includes('coffee_contact_wechat.jpg'))!;
    expect(contactLine).toMatch(/contact_info: wechat sh\*+/);
    expect(contactLine).not.toContain('shop_8888a');
  }, 180_000);

  it('with --challenger, serves the champion by registry alias, shadows the challenger and prints the comparison', async () => {
    const lines: string[] = [];
    const { verdicts } = await runDemo({
      imagesDir: resolve(__dirname, '../../samples'), copies: 1, model: 'probe', challenger: defaultModelPath('resnet18'),
      logger: pino({ level: 'silent' }), print: (l) => lines.push(l),
    });
    expect(verdicts).toHaveLength(8);
    // Verdicts are the champion's (the probe) alone.
    expect(new Set(verdicts.map((v) => v.model.name))).toEqual(new Set(['revmod-probe']));
    const text = lines.join('\n');
    expect(text).toContain('registry s3://revmod-demo-registry/models/demo: challenger = revmod-resnet18-seed0-0.0.0-seed0');
    // The six scored photos (the two broken ones have no scores to compare), same preprocessing: copies.
    expect(text).toMatch(/revmod-resnet18-seed0@revmod-resnet18-seed0-0\.0\.0-seed0 in shadow of revmod-probe@revmod-probe-1\.0\.0: 6 images/);
    expect(text).toMatch(/tensors: copy 6/);
  }, 180_000);
});
