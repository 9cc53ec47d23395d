import { S3Server } from '../../tools/dev/s3-server';
import { defaultModelPath } from '../../tools/model-gen/ensure-model';
import { listFailed, retryFailed, ModerationClient } from '@revmod/client';
import * as fixtures from '../fixtures/hostile-images';
import { FleetClients, waitUntil, WorkerFleet } from '../helpers/fault-harness';
import { deletePrefix, TEST_REDIS_URL, testConfig, uniquePrefix } from '../helpers/test-config';

const BUCKET = 'reviews-s3-outage';
const BEFORE = 40;
const DURING = 16;
const OUTAGE_MS = 10_000;

/**
 * The object store goes away for ~10 s mid-run (the S3 server closes its port and drops its
 * connections, then comes back on the same port and directory). Fetches fail with connection
 * refused/reset → STORAGE_UNAVAILABLE (retryable): BullMQ retries the jobs with exponential backoff
 * and all complete once S3 is back; none is mistaken for a corrupt or missing image. A job whose
 * attempts run out during an outage stays in the failed list (dead letter) and completes when
 * retried from there.
 */
describe('the S3 server stopped for ~10 s mid-run', () => {
  const prefix = uniquePrefix('s3');
  let s3: S3Server;
  let fleet: WorkerFleet;
  let io: FleetClients;
  let config: ReturnType<typeof testConfig>;

  beforeAll(async () => {
    s3 = await S3Server.start();
    await s3.createBucket(BUCKET);
    const photo = await fixtures.plainJpeg(800, 600);
    await Promise.all(Array.from({ length: BEFORE + DURING }, (_, i) => s3.put(BUCKET, `photos/${i}.jpg`, photo)));
    await s3.put(BUCKET, 'dead-letter/photo.jpg', photo);
    // Backoff 1 s doubling: tries at 0, 1, 3, 7, 15 and 31 s outlast a 10 s outage.
    config = testConfig({ redis: { prefix }, s3: s3.s3Config, jobs: { attempts: 6, backoffMs: 1_000 } });
    fleet = new WorkerFleet({
      redisUrl: TEST_REDIS_URL, prefix, s3Env: s3.env,
      modelPath: defaultModelPath('resnet18'), intraOpThreads: 1, batchSize: 8, concurrency: 16,
      extra: { S3_CONNECT_TIMEOUT_MS: '1000', S3_REQUEST_TIMEOUT_MS: '3000', REVMOD_STORAGE_PAUSE_MS: '1000' },
    });
    io = new FleetClients(config);
  }, 60_000);

  afterAll(async () => {
    await fleet?.destroyAll();
    await io?.close();
    await s3?.close();
    await deletePrefix(prefix);
  });

  it('retries the affected jobs with backoff; all complete after S3 returns; none is marked corrupt or missing', async () => {
    const worker = fleet.start('worker');
    await worker.ready();
    const request = (i: number) => ({ bucket: BUCKET, key: `photos/${i}.jpg` });
    const submitted = (await io.client.submitBulk(Array.from({ length: BEFORE }, (_, i) => request(i)))).map((r) => r.jobId);
    await waitUntil('some verdicts', () => (io.collector.verdicts.length >= 8 ? true : undefined), 60_000, 20);

    await s3.stop();
    const stoppedAt = Date.now();
    submitted.push(...(await io.client.submitBulk(Array.from({ length: DURING }, (_, i) => request(BEFORE + i)))).map((r) => r.jobId));
    // While S3 is down, the jobs that need it wait in the delayed set (backoff), none is decided.
    const delayed = await waitUntil('jobs retrying with backoff', async () => {
      const counts = await io.inspector.counts();
      return (counts.delayed ?? 0) > 0 ? counts.delayed : undefined;
    }, OUTAGE_MS, 100);
    expect(delayed).toBeGreaterThan(0);
    await new Promise((r) => setTimeout(r, Math.max(0, OUTAGE_MS - (Date.now() - stoppedAt))));
    const decidedDuringOutage = io.collector.verdicts.length;
    expect(io.collector.verdicts.every((v) => v.error === undefined)).toBe(true);
    expect(await io.inspector.counts()).toMatchObject({ failed: 0 });

    await s3.restart();
    const restartedAt = Date.now();
    const total = BEFORE + DURING;
    try {
      await io.collector.waitFor(total, 60_000);
    } catch (err) {
      throw new Error(`${(err as Error).message}\ncounts ${JSON.stringify(await io.inspector.counts())}\n${fleet.tails()}`);
    }
    const counts = await io.inspector.settledCounts();
    const ledger = await io.inspector.ledger(submitted, io.collector.verdicts);
    expect(ledger).toEqual({ missing: [], unexpected: [], duplicateResultJobs: [], duplicateDeliveries: [], resultCount: total });
    // Nothing was mistaken for a bad image: every verdict is a scored one.
    expect(io.collector.verdicts.filter((v) => v.error !== undefined).map((v) => `${v.key}: ${v.error!.code}`)).toEqual([]);
    // Jobs submitted during the outage were decided only after S3 came back.
    const during = new Set(submitted.slice(BEFORE));
    const decidedAfter = io.collector.verdicts.filter((v) => during.has(v.id) && Date.parse(v.decidedAt) >= restartedAt);
    expect(decidedAfter).toHaveLength(DURING);
    expect(decidedDuringOutage).toBeLessThan(total);
    expect(counts).toMatchObject({ completed: total, failed: 0, active: 0, waiting: 0, delayed: 0 });
    // The worker logged the transient failures with their code.
    expect(worker.grep('"code":"STORAGE_UNAVAILABLE"').length).toBeGreaterThan(0);
    expect(worker.alive).toBe(true);
  }, 120_000);

  it('an outage longer than the retry budget pauses intake instead of failing the backlog', async () => {
    // 2 attempts 200 ms apart: without the storage breaker every job would fail within a second.
    const impatient = new ModerationClient({ config: { ...config, jobs: { attempts: 2, backoffMs: 200 } } });
    const keys = Array.from({ length: 12 }, (_, i) => ({ bucket: BUCKET, key: `long-outage/${i}.jpg`, meta: { run: 'long-outage' } }));
    const photo = await fixtures.plainJpeg(800, 600);
    await Promise.all(keys.map((k) => s3.put(BUCKET, k.key, photo)));
    const worker = fleet.all.find((w) => w.alive) ?? fleet.start('worker');
    await worker.ready();
    try {
      const before = io.collector.verdicts.length;
      await s3.stop();
      const ids = (await impatient.submitBulk(keys)).map((r) => r.jobId);
      await new Promise((r) => setTimeout(r, 4_000));
      expect(await io.inspector.counts()).toMatchObject({ failed: 0 });
      await s3.restart();
      try {
        await io.collector.waitFor(before + keys.length, 30_000);
      } catch (err) {
        throw new Error(`${(err as Error).message}\ncounts ${JSON.stringify(await io.inspector.counts())}\n${fleet.tails(40)}`);
      }
      const fresh = io.collector.verdicts.slice(before);
      expect(new Set(fresh.map((v) => v.id))).toEqual(new Set(ids));
      expect(fresh.filter((v) => v.error !== undefined)).toEqual([]);
      expect(await io.inspector.counts()).toMatchObject({ failed: 0 });
      expect(worker.grep("pausing this worker's intake").length).toBeGreaterThan(0);
    } finally {
      await impatient.close();
      if (!s3.running) await s3.restart();
    }
  }, 90_000);

  it('a job whose attempts run out stays in the failed list with its error; retrying it from there completes it', async () => {
    const impatient = new ModerationClient({ config: { ...config, jobs: { attempts: 2, backoffMs: 200 } } });
    const decidedBefore = io.collector.verdicts.length;
    try {
      await s3.stop();
      const { jobId } = await impatient.submit({ bucket: BUCKET, key: 'dead-letter/photo.jpg', meta: { reviewId: 'dl-1' } });
      const dead = await waitUntil('the job in the failed list', async () =>
        (await listFailed(io.client.queue)).find((d) => d.jobId === jobId), 30_000, 100);
      // Connection refused or reset: STORAGE_UNAVAILABLE (a connect timeout, on a very busy machine, would read STORAGE_TIMEOUT).
      expect(dead).toMatchObject({
        jobId, bucket: BUCKET, key: 'dead-letter/photo.jpg', code: expect.stringMatching(/^STORAGE_(UNAVAILABLE|TIMEOUT)$/), attemptsMade: 2,
        failedReason: expect.stringMatching(/^STORAGE_(UNAVAILABLE|TIMEOUT): .*s3:\/\/reviews-s3-outage\/dead-letter\/photo\.jpg/),
      });
      expect(io.collector.verdicts.find((v) => v.id === jobId)).toBeUndefined();

      await s3.restart();
      expect(await retryFailed(io.client.queue, { code: dead.code! })).toEqual([jobId]);
      const verdicts = await io.collector.waitFor(decidedBefore + 1, 30_000);
      const verdict = verdicts.find((v) => v.id === jobId)!;
      expect(verdict.error).toBeUndefined();
      expect(verdict.meta).toEqual({ reviewId: 'dl-1' });
      // The verdict is published just before the job is moved to completed.
      await waitUntil('the job to complete', async () => ((await io.client.queue.getJobState(jobId)) === 'completed' ? true : undefined), 10_000);
      expect(await listFailed(io.client.queue)).toEqual([]);
    } finally {
      await impatient.close();
      if (!s3.running) await s3.restart();
    }
  }, 60_000);
});
