/**
 * The detectors through the real worker: blur and QR in the image pool, the text gate there too,
 * OCR in its own threads beside the batch, and the default policy turning their signals into
 * decisions, against a real Redis and a real S3 server.
 */
import { writeFileSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ModerationClient, type Verdict } from '@revmod/client';
import { defaultModelPath } from '../../tools/model-gen/ensure-model';
import { S3Server } from '../../tools/dev/s3-server';
import type { ModerationWorker } from '../../src/worker/moderation-worker';
import { workerDetectors } from '../../src/worker/detector-setup';
import { blurred, fixturePhoto, requireFonts, withQr, withText } from '../helpers/detector-images';
import { deletePrefix, testConfig, uniquePrefix } from '../helpers/test-config';
import { startTestWorker, VerdictCollector } from '../helpers/worker-harness';

const BUCKET = 'reviews-detectors';
const DETECTOR_REASONS = ['blurry', 'qr_code', 'contact_info', 'banned_text', 'text_heavy'];

describe('detectors in the worker (real Redis, real S3, real OCR)', () => {
  const prefix = uniquePrefix('detectors-worker');
  const dir = mkdtempSync(join(tmpdir(), 'revmod-detectors-'));
  let s3: S3Server;
  let worker: ModerationWorker;
  let client: ModerationClient;
  let collector: VerdictCollector;
  let config: ReturnType<typeof testConfig>;
  const byKey = new Map<string, Verdict>();

  beforeAll(async () => {
    requireFonts();
    s3 = await S3Server.start();
    await s3.createBucket(BUCKET);
    const bannedFile = join(dir, 'banned.txt');
    writeFileSync(bannedFile, '# shop-specific terms\n代购\n\nreplica watch\n');
    config = testConfig({
      redis: { prefix },
      s3: s3.s3Config,
      batch: { size: 8, maxWaitMs: 20 },
      // The classifier passes every image here, so that each decision below is the detectors' alone.
      model: { path: defaultModelPath('probe'), executionProvider: 'cpu', intraOpThreads: 1 },
      policy: { violateThreshold: 1, confidenceThreshold: 0 },
      detectors: { blur: true, qr: true, text: true, bannedWordsFile: bannedFile },
      jobs: { attempts: 2, backoffMs: 200 },
    });
    const coffee = fixturePhoto('coffee_600x400_q85.jpg');
    const rocket = fixturePhoto('rocket_1080x1080_q85.jpg');
    const images: Record<string, Buffer> = {
      'clean/coffee.jpg': coffee,
      'clean/rocket.jpg': rocket,
      'blur/coffee.jpg': await blurred(coffee, 4),
      'qr/foreign.jpg': await withQr(rocket, 'https://promo.example.net/r/8866', 220),
      'qr/own-shop.jpg': await withQr(rocket, 'https://shop.example.com/item/42', 220),
      'text/wechat.jpg': await withText(coffee, ['加微信 wx_shop8866', '领取返现红包'], 34),
      'text/banned.jpg': await withText(coffee, ['正品代购 全场包邮'], 34),
    };
    for (const [key, bytes] of Object.entries(images)) await s3.put(BUCKET, key, bytes);
    worker = await startTestWorker(config);
    collector = new VerdictCollector(config);
    client = new ModerationClient({ config });
    const keys = Object.keys(images);
    await client.submitBulk(keys.map((key) => ({ bucket: BUCKET, key, meta: key === 'qr/own-shop.jpg' ? { allowedQrHosts: ['shop.example.com'] } : {} })));
    for (const v of await collector.waitFor(keys.length, 120_000)) byKey.set(v.key, v);
  }, 240_000);

  afterAll(async () => {
    await client?.close();
    await collector?.close();
    await worker?.close(10_000);
    await s3?.close();
    await deletePrefix(prefix);
    rmSync(dir, { recursive: true, force: true });
  });

  const verdict = (key: string): Verdict => {
    const v = byKey.get(key);
    if (!v) throw new Error(`no verdict for ${key}`);
    return v;
  };

  it('passes clean photos with no detector reason', () => {
    for (const key of ['clean/coffee.jpg', 'clean/rocket.jpg']) {
      const v = verdict(key);
      expect(v.error).toBeUndefined();
      expect(v.reasons.filter((r) => DETECTOR_REASONS.includes(r))).toEqual([]);
      expect(v.decision).toBe('pass');
      expect(v.timings.detectMs).toBeGreaterThan(0);
    }
  });

  it('sends a blurred photo to review as blurry, with its sharpness', () => {
    const v = verdict('blur/coffee.jpg');
    expect(v.decision).toBe('review');
    expect(v.reasons).toContain('blurry');
    const e = v.evidence!.blurry as { sharpness: number; threshold: number };
    expect(e.threshold).toBe(12);
    expect(e.sharpness).toBeLessThan(12);
  });

  it('reads a pasted QR code: a foreign host goes to review, the shop\'s own host passes', () => {
    const foreign = verdict('qr/foreign.jpg');
    expect(foreign.decision).toBe('review');
    expect(foreign.reasons).toContain('qr_code');
    expect(foreign.evidence!.qr_code).toMatchObject({ payload: 'https://promo.example.net/r/8866', host: 'promo.example.net' });
    const own = verdict('qr/own-shop.jpg');
    expect(own.labels).toContain('qr_code');
    expect(own.evidence!.qr_code).toMatchObject({ host: 'shop.example.com' });
    expect(own.decision).toBe('pass');
  });

  it('reads contact details with OCR behind the text gate, without the OCR text in the verdict', () => {
    const v = verdict('text/wechat.jpg');
    expect(v.decision).toBe('review');
    expect(v.reasons).toContain('contact_info');
    const e = v.evidence!.contact_info as { matches: Array<{ kind: string; value: string }>; ocrText?: string };
    expect(e.matches.map((m) => m.kind)).toContain('wechat');
    expect(e.matches.find((m) => m.kind === 'wechat')!.value).toBe('wx_shop8866');
    expect(e.ocrText).toBeUndefined();
    expect(v.timings.ocrMs).toBeGreaterThan(0);
  });

  it('matches the banned-words file given in the settings', () => {
    const v = verdict('text/banned.jpg');
    expect(v.decision).toBe('review');
    expect(v.reasons).toContain('banned_text');
    const e = v.evidence!.banned_text as { matches: Array<{ value: string }> };
    expect(e.matches.map((m) => m.value)).toContain('代购');
  });

  it('judges every image with the classifier too (the detectors add signals, they do not replace it)', () => {
    for (const v of byKey.values()) {
      expect(v.scores).not.toBeNull();
      expect(v.batch).not.toBeNull();
    }
  });
});

describe('detector settings', () => {
  it('turns each detector off, and refuses a bad banned-words file or contact kind by name', async () => {
    const off = workerDetectors(testConfig({}));
    expect(off).toEqual({ cheap: {}, text: undefined, ocrPool: undefined });
    const on = workerDetectors(testConfig({ detectors: { blur: true, qr: true, text: true, qrTryHarder: true, blurMinSharpness: 9 } }));
    try {
      expect(on.cheap).toEqual({ blur: { minSharpness: 9 }, qr: { formats: ['QRCode', 'MicroQRCode', 'DataMatrix'], tryHarder: true } });
      expect(on.text?.detector.name).toBe('text');
      expect(on.ocrPool).toBeDefined();
    } finally {
      await on.ocrPool?.close();
    }
    expect(() => workerDetectors(testConfig({ detectors: { text: true, bannedWordsFile: '/nonexistent/banned.txt' } })))
      .toThrow(/REVMOD_BANNED_WORDS_FILE: cannot read "\/nonexistent\/banned.txt"/);
    expect(() => workerDetectors(testConfig({ detectors: { text: true, contactKinds: ['phone', 'fax'] } })))
      .toThrow(/REVMOD_CONTACT_KINDS: unknown kind\(s\) "fax"/);
  });
});
