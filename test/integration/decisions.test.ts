import { Queue } from 'bullmq';
import sharp from 'sharp';
import { defaultModelPath } from '../../tools/model-gen/ensure-model';
import { probeRgbForViolateScore, probeViolateScore, type Rgb } from '../../tools/model-gen/probe-graph';
import { ModerationClient, type Verdict } from '@revmod/client';
import type { ModerationWorker } from '../../src/worker/moderation-worker';
import { S3Server } from '../../tools/dev/s3-server';
import { deletePrefix, testConfig, uniquePrefix } from '../helpers/test-config';
import { startTestWorker, VerdictCollector } from '../helpers/worker-harness';

const BUCKET = 'reviews-decisions';

/** Solid-colour photos whose probe-model violate score is known in advance. */
const CASES: ReadonlyArray<{ key: string; violate: number; decision: Verdict['decision']; reasons: string[] }> = [
  { key: 'clearly-fine.jpg', violate: 0.03, decision: 'pass', reasons: [] },
  { key: 'uncertain.jpg', violate: 0.5, decision: 'review', reasons: ['low_confidence'] },
  { key: 'suspected.jpg', violate: 0.8, decision: 'review', reasons: ['violate_score'] },
  { key: 'blatant.jpg', violate: 0.99, decision: 'block', reasons: ['block_threshold'] },
];

describe('decisions: pass, review and block with thresholds from config (probe model)', () => {
  const prefix = uniquePrefix('decisions');
  let s3: S3Server;
  let worker: ModerationWorker;
  let client: ModerationClient;
  let collector: VerdictCollector;
  const colours = new Map<string, Rgb>();
  const config = () => testConfig({
    redis: { prefix },
    s3: s3.s3Config,
    batch: { size: 4, maxWaitMs: 50 },
    model: { path: defaultModelPath('probe'), executionProvider: 'cpu' },
    policy: { blockThreshold: 0.95 },
  });

  beforeAll(async () => {
    s3 = await S3Server.start();
    await s3.createBucket(BUCKET);
    for (const c of CASES) {
      const rgb = probeRgbForViolateScore(c.violate);
      colours.set(c.key, rgb);
      const png = await sharp({ create: { width: 320, height: 240, channels: 3, background: { r: rgb[0], g: rgb[1], b: rgb[2] } } }).png().toBuffer();
      await s3.put(BUCKET, c.key, png);
    }
    const cfg = config();
    worker = await startTestWorker(cfg);
    collector = new VerdictCollector(cfg);
    client = new ModerationClient({ config: cfg });
  }, 60_000);

  afterAll(async () => {
    await client?.close();
    await collector?.close();
    await worker?.close(10_000);
    await s3?.close();
    await deletePrefix(prefix);
  });

  it('decides each image by its scores and routes review/block to the review queue', async () => {
    await client.submitBulk(CASES.map((c) => ({ bucket: BUCKET, key: c.key })));
    const verdicts = await collector.waitFor(CASES.length);
    for (const c of CASES) {
      const v = verdicts.find((x) => x.key === c.key)!;
      expect(v.scores!.violate).toBeCloseTo(probeViolateScore(colours.get(c.key)!), 3);
      expect({ key: v.key, decision: v.decision, reasons: v.reasons }).toEqual({ key: c.key, decision: c.decision, reasons: c.reasons });
    }
    const review = new Queue<Verdict>(config().queues.review, { connection: { url: config().redis.url }, prefix });
    try {
      const jobs = await review.getJobs(['waiting'], 0, -1);
      expect(jobs.map((j) => j.data.key).sort()).toEqual(CASES.filter((c) => c.decision !== 'pass').map((c) => c.key).sort());
      expect(jobs.find((j) => j.data.key === 'blatant.jpg')!.name).toBe('block');
    } finally {
      await review.close();
    }
  });
});
