import { Queue } from 'bullmq';
import sharp from 'sharp';
import { ModerationClient, type Verdict } from '@revmod/client';
import { legacyDecide, type LegacyScores } from '../helpers/legacy-policy';
import { defaultModelPath } from '../../tools/model-gen/ensure-model';
import type { BatchStats } from '../../src/pipeline/pipeline-observer';
import type { ModerationWorker } from '../../src/worker/moderation-worker';
import { S3Server } from '../../tools/dev/s3-server';
import { testPhotos } from '../helpers/shared-images';
import { deletePrefix, testConfig, uniquePrefix } from '../helpers/test-config';
import { startTestWorker, VerdictCollector } from '../helpers/worker-harness';

const BATCH_SIZE = 16;
const IMAGE_COUNT = 100;
const BUCKET = 'reviews-pipeline';

describe('core pipeline against real Redis and a real S3 server (ResNet18)', () => {
  const prefix = uniquePrefix('pipeline');
  let s3: S3Server;
  let worker: ModerationWorker;
  let client: ModerationClient;
  let collector: VerdictCollector;
  const batches: BatchStats[] = [];
  let config: ReturnType<typeof testConfig>;
  const submitted: Array<{ jobId: string; key: string }> = [];
  let truncatedJpegKey = '';
  const missingKey = 'photos/never-uploaded.jpg';

  beforeAll(async () => {
    s3 = await S3Server.start();
    await s3.createBucket(BUCKET);
    config = testConfig({
      redis: { prefix },
      s3: s3.s3Config,
      batch: { size: BATCH_SIZE, maxWaitMs: 30 },
      model: { path: defaultModelPath('resnet18'), executionProvider: 'auto', intraOpThreads: 2 },
      jobs: { attempts: 2, backoffMs: 200 },
    });
    const images = testPhotos();
    for (let i = 0; i < IMAGE_COUNT; i++) {
      const img = images[i % images.length]!;
      const key = `photos/${String(i).padStart(3, '0')}-${img.name}`;
      await s3.put(BUCKET, key, img.bytes);
      submitted.push({ jobId: '', key });
    }
    const jpeg = await sharp({ create: { width: 640, height: 480, channels: 3, background: '#808080' } }).jpeg().toBuffer();
    truncatedJpegKey = 'photos/truncated.jpg';
    await s3.put(BUCKET, truncatedJpegKey, jpeg.subarray(0, Math.floor(jpeg.length / 2)));
    worker = await startTestWorker(config, { onBatch: (b) => batches.push(b) });
    collector = new VerdictCollector(config);
    client = new ModerationClient({ config });
  }, 120_000);

  afterAll(async () => {
    await client?.close();
    await collector?.close();
    await worker?.close(10_000);
    await s3?.close();
    await deletePrefix(prefix);
  });

  it('gives exactly one complete verdict per job; bad items get error verdicts, batch-mates succeed', async () => {
    // A bad object and a missing key are mixed in the middle, so they share batches with good ones.
    const requests = submitted.map((s) => ({ bucket: BUCKET, key: s.key, meta: { reviewId: s.key } }));
    requests.splice(50, 0, { bucket: BUCKET, key: truncatedJpegKey, meta: { reviewId: 'bad' } }, { bucket: BUCKET, key: missingKey, meta: { reviewId: 'missing' } });
    const results = await client.submitBulk(requests);
    const total = requests.length;
    expect(new Set(results.map((r) => r.jobId)).size).toBe(total);

    const verdicts = await collector.waitFor(total, 90_000);
    // Give a duplicate (if any were published) the chance to arrive before counting.
    await new Promise((r) => setTimeout(r, 500));
    expect(verdicts).toHaveLength(total);
    expect(new Set(verdicts.map((v) => v.id))).toEqual(new Set(results.map((r) => r.jobId)));

    const byKey = new Map(verdicts.map((v) => [v.key, v] as const));
    const bad = byKey.get(truncatedJpegKey)!;
    expect(bad.error?.code).toBe('IMAGE_CORRUPT');
    expect(bad.decision).toBe('review');
    expect(bad.scores).toBeNull();
    const missing = byKey.get(missingKey)!;
    expect(missing.error?.code).toBe('OBJECT_NOT_FOUND');
    expect(missing.decision).toBe('review');
    expect(missing.meta).toEqual({ reviewId: 'missing' });

    const good = verdicts.filter((v) => v.key !== truncatedJpegKey && v.key !== missingKey);
    expect(good).toHaveLength(IMAGE_COUNT);
    for (const v of good) {
      expect(v.error).toBeUndefined();
      expect(v.scores!.normal! + v.scores!.violate!).toBeCloseTo(1, 5);
      expect(['normal', 'violate']).toContain(v.label);
      expect(v.decision).toBe(legacyDecide(v.scores as unknown as LegacyScores, worker.status().thresholds!).decision);
      expect(v.model.sha256).toMatch(/^[0-9a-f]{64}$/);
      expect(v.model.sha256).toBe(worker.status().model!.sha256);
      expect(v.model.name).toBe('revmod-resnet18-seed0');
      expect(v.model.executionProvider).toBe(worker.status().executionProvider);
      expect(v.batch!.size).toBeGreaterThanOrEqual(1);
      expect(v.batch!.size).toBeLessThanOrEqual(BATCH_SIZE);
      for (const ms of Object.values(v.timings)) expect(ms).toBeGreaterThanOrEqual(0);
      expect(v.timings.inferMs).toBeGreaterThan(0);
      expect(v.timings.totalMs).toBeGreaterThan(0);
      expect(v.meta).toEqual({ reviewId: v.key });
      expect(v.attempt).toBe(1);
      expect(Date.parse(v.decidedAt)).not.toBeNaN();
    }
  }, 120_000);

  it('ran batches larger than 1 and none above the configured size', () => {
    expect(batches.length).toBeGreaterThan(0);
    expect(Math.max(...batches.map((b) => b.size))).toBeGreaterThan(1);
    expect(Math.max(...batches.map((b) => b.size))).toBeLessThanOrEqual(BATCH_SIZE);
    expect(batches.reduce((n, b) => n + b.size, 0)).toBe(IMAGE_COUNT);
  });

  it('puts exactly the review and block verdicts on the review queue', async () => {
    const reviewQueue = new Queue<Verdict>(config.queues.review, { connection: { url: config.redis.url }, prefix });
    const resultsQueue = new Queue<Verdict>(config.queues.results, { connection: { url: config.redis.url }, prefix });
    try {
      const reviewJobs = await reviewQueue.getJobs(['waiting', 'prioritized', 'delayed', 'active', 'completed'], 0, -1);
      const expected = collector.verdicts.filter((v) => v.decision !== 'pass').map((v) => v.id).sort();
      expect(reviewJobs.map((j) => j.id).sort()).toEqual(expected);
      expect(reviewJobs.every((j) => j.data.decision === 'review' || j.data.decision === 'block')).toBe(true);
      expect(expected.length).toBeGreaterThanOrEqual(2); // at least the two error verdicts
      const counts = await resultsQueue.getJobCounts('completed', 'waiting', 'active', 'failed');
      expect((counts.completed ?? 0) + (counts.waiting ?? 0) + (counts.active ?? 0)).toBe(IMAGE_COUNT + 2);
      expect(counts.failed).toBe(0);
    } finally {
      await reviewQueue.close();
      await resultsQueue.close();
    }
  });

  it('is idempotent per content version: the same version submitted again creates no new job or verdict', async () => {
    // With an S3 client the SDK pins each submit to the object's version (HeadObject).
    const versioned = new ModerationClient({ config, s3: s3.client });
    try {
      const key = submitted[0]!.key;
      const first = await versioned.submit({ bucket: BUCKET, key });
      for (let i = 0; i < 200 && !collector.verdicts.some((v) => v.id === first.jobId); i++) await new Promise((r) => setTimeout(r, 50));
      const verdict = collector.verdicts.find((v) => v.id === first.jobId)!;
      expect(verdict.version).toMatchObject({ etag: expect.stringMatching(/^[0-9a-f]{32}$/), sha256: expect.stringMatching(/^[0-9a-f]{64}$/) });
      const again = await versioned.submit({ bucket: BUCKET, key });
      expect(again.jobId).toBe(first.jobId);
      const pinned = await client.submit({ bucket: BUCKET, key, etag: verdict.version!.etag! });
      expect(pinned.jobId).toBe(first.jobId);
      await new Promise((r) => setTimeout(r, 500));
      expect(collector.verdicts.filter((v) => v.id === first.jobId)).toHaveLength(1);
      expect((await versioned.getVerdict(first.jobId))?.id).toBe(first.jobId);
    } finally {
      await versioned.close();
    }
  });
});
