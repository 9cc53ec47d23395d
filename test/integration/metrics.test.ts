import { Queue } from 'bullmq';
import { createServer } from 'node:http';
import sharp from 'sharp';
import { defaultModelPath } from '../../tools/model-gen/ensure-model';
import { probeRgbForViolateScore, type Rgb } from '../../tools/model-gen/probe-graph';
import { listen, type RunningHttpServer } from '../../src/ops/listen';
import { createWorkerMetrics, type WorkerMetrics } from '../../src/ops/metrics';
import { createOpsApp, type OpsApp } from '../../src/ops/ops-app';
import { QUEUE_STATES } from '../../src/ops/queue-depth-metrics';
import { startWorkerHttpServer } from '../../src/ops/worker-http-server';
import { ModerationClient } from '@revmod/client';
import type { ModerationWorker } from '../../src/worker/moderation-worker';
import { scrape, samples, total } from '../helpers/prom-text';
import { S3Server } from '../../tools/dev/s3-server';
import { deletePrefix, testConfig, uniquePrefix } from '../helpers/test-config';
import { startTestWorker, VerdictCollector } from '../helpers/worker-harness';

const BUCKET = 'reviews-metrics';
const BLUE_COUNT = 4; // probe: violate ≈ 0.01 → pass, label normal
const RED_COUNT = 2; // probe: violate ≈ 0.99 ≥ block threshold → block, label violate
const MISSING_KEY = 'photos/never-uploaded.png'; // error verdict: review, OBJECT_NOT_FOUND
const SCORED = BLUE_COUNT + RED_COUNT;
const VERDICTS = SCORED + 1;

async function solidPng(rgb: Rgb): Promise<Buffer> {
  return sharp({ create: { width: 96, height: 64, channels: 3, background: { r: rgb[0], g: rgb[1], b: rgb[2] } } }).png().toBuffer();
}

async function until(what: string, check: () => Promise<boolean>, timeoutMs = 20_000): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > end) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

describe('metrics as jobs flow (real Redis, s3rver, probe model)', () => {
  const prefix = uniquePrefix('metrics');
  const config = testConfig({
    redis: { prefix },
    batch: { size: 4, maxWaitMs: 30 },
    model: { path: defaultModelPath('probe'), executionProvider: 'cpu', intraOpThreads: 1 },
    policy: { blockThreshold: 0.95 },
    jobs: { attempts: 2, backoffMs: 100 },
  });
  let s3: S3Server;
  let metrics: WorkerMetrics;
  let worker: ModerationWorker;
  let workerHttp: RunningHttpServer;
  let ops: OpsApp;
  let opsHttp: RunningHttpServer;
  let collector: VerdictCollector;
  let client: ModerationClient;
  let workerConfig: ReturnType<typeof testConfig>;
  const queues: Queue[] = [];

  beforeAll(async () => {
    s3 = await S3Server.start();
    await s3.createBucket(BUCKET);
    workerConfig = testConfig({ ...config, s3: s3.s3Config });
    const blue = await solidPng([0, 0, 255]);
    const red = await solidPng(probeRgbForViolateScore(1));
    for (let i = 0; i < BLUE_COUNT; i++) await s3.put(BUCKET, `photos/blue-${i}.png`, blue, 'image/png');
    for (let i = 0; i < RED_COUNT; i++) await s3.put(BUCKET, `photos/red-${i}.png`, red, 'image/png');

    metrics = createWorkerMetrics();
    worker = await startTestWorker(workerConfig, metrics.observer);
    metrics.attachWorker(worker);
    workerHttp = await startWorkerHttpServer({
      port: 0, host: '127.0.0.1', registry: metrics.registry,
      readiness: () => ({ ready: worker.ready, state: worker.state }),
    });
    ops = createOpsApp({ config: workerConfig, credentials: null, defaultMetrics: false });
    opsHttp = await listen(createServer(ops.app), 0, '127.0.0.1');
    collector = new VerdictCollector(workerConfig);
    client = new ModerationClient({ config: workerConfig });
    for (const name of [config.queues.moderation, config.queues.results, config.queues.review]) {
      queues.push(new Queue(name, { connection: { url: config.redis.url }, prefix }));
    }
  }, 120_000);

  afterAll(async () => {
    await client?.close();
    await collector?.close();
    await worker?.close(10_000);
    await workerHttp?.close();
    await opsHttp?.close();
    await ops?.close();
    await Promise.all(queues.map((q) => q.close()));
    await s3?.close();
    await deletePrefix(prefix);
  });

  it('answers /healthz and /readyz, and shows the model before any job', async () => {
    expect((await fetch(`${workerHttp.url}/healthz`)).status).toBe(200);
    const ready = await fetch(`${workerHttp.url}/readyz`);
    expect(ready.status).toBe(200);
    expect(await ready.text()).toContain('ready');
    expect((await fetch(`${workerHttp.url}/nothing-here`)).status).toBe(404);

    const m = await scrape(`${workerHttp.url}/metrics`);
    expect(total(m, 'revmod_images_total')).toBe(0);
    expect(total(m, 'revmod_worker_ready')).toBe(1);
    expect(samples(m, 'revmod_model_info', {
      model_name: 'revmod-probe', model_version: worker.status().model!.version,
      model_sha256: worker.status().model!.sha256, execution_provider: 'cpu',
    })).toHaveLength(1);
    expect(total(m, 'revmod_inference_thread_restarts_total')).toBe(0);
    // Default Node.js metrics, event-loop delay among them.
    expect(samples(m, 'nodejs_eventloop_lag_p99_seconds')).toHaveLength(1);
    expect(samples(m, 'process_cpu_seconds_total')).toHaveLength(1);
  });

  it('counts images by decision and label, errors by code, batches and stage latencies', async () => {
    const keys = [
      ...Array.from({ length: BLUE_COUNT }, (_, i) => `photos/blue-${i}.png`),
      ...Array.from({ length: RED_COUNT }, (_, i) => `photos/red-${i}.png`),
      MISSING_KEY,
    ];
    await client.submitBulk(keys.map((key) => ({ bucket: BUCKET, key })));
    const verdicts = await collector.waitFor(VERDICTS, 60_000);
    expect(verdicts).toHaveLength(VERDICTS);

    const m = await scrape(`${workerHttp.url}/metrics`);
    expect(total(m, 'revmod_images_total')).toBe(VERDICTS);
    expect(total(m, 'revmod_images_total', { decision: 'pass', label: 'normal' })).toBe(BLUE_COUNT);
    expect(total(m, 'revmod_images_total', { decision: 'block', label: 'violate' })).toBe(RED_COUNT);
    expect(total(m, 'revmod_images_total', { decision: 'review', label: 'none' })).toBe(1);
    expect(total(m, 'revmod_errors_total', { code: 'OBJECT_NOT_FOUND' })).toBe(1);
    expect(total(m, 'revmod_errors_total')).toBe(1);

    // Batches: every scored image in exactly one batch of at most batch.size.
    const batchCount = total(m, 'revmod_batch_size_images_count');
    expect(batchCount).toBeGreaterThanOrEqual(Math.ceil(SCORED / 4));
    expect(total(m, 'revmod_batch_size_images_sum')).toBe(SCORED);
    expect(total(m, 'revmod_batch_size_images_bucket', { le: '4' })).toBe(batchCount);
    expect(total(m, 'revmod_batch_fill_wait_seconds_count')).toBe(batchCount);
    for (const stage of ['infer']) {
      expect(total(m, 'revmod_batch_stage_duration_seconds_count', { stage })).toBe(batchCount);
    }
    expect(total(m, 'revmod_batch_stage_duration_seconds_sum', { stage: 'infer' })).toBeGreaterThan(0);
    for (const stage of ['queue', 'fetch', 'decode', 'detect', 'batch_wait']) {
      expect(total(m, 'revmod_image_stage_duration_seconds_count', { stage })).toBe(SCORED);
      // +Inf bucket holds every observation: the histogram is cumulative.
      expect(total(m, 'revmod_image_stage_duration_seconds_bucket', { stage, le: '+Inf' })).toBe(SCORED);
    }
    expect(total(m, 'revmod_image_stage_duration_seconds_sum', { stage: 'fetch' })).toBeGreaterThan(0);
    // End to end: every verdict, error verdicts included; sums match the verdicts' own timings.
    expect(total(m, 'revmod_end_to_end_seconds_count')).toBe(VERDICTS);
    const e2eSum = verdicts.reduce((s, v) => s + v.timings.totalMs / 1_000, 0);
    expect(total(m, 'revmod_end_to_end_seconds_sum')).toBeCloseTo(e2eSum, 6);
  });

  it('counts a job with an invalid payload once, without retries', async () => {
    const moderation = queues[0]!;
    await moderation.add('moderate', { bucket: 'Not_A_Bucket!', key: 'x.png', meta: {}, submittedAtMs: Date.now() }, { jobId: 'invalid-1', attempts: 3 });
    await until('the invalid job to fail', async () => (await moderation.getJobCounts('failed')).failed === 1);
    const m = await scrape(`${workerHttp.url}/metrics`);
    expect(total(m, 'revmod_invalid_jobs_total', { code: 'INVALID_JOB' })).toBe(1);
    expect(total(m, 'revmod_retries_total')).toBe(0);
    expect((await moderation.getJob('invalid-1'))!.attemptsMade).toBe(1);
  });

  it('reports queue depth by state as Redis counts it (ops server /metrics)', async () => {
    const [moderation, results, review] = queues as [Queue, Queue, Queue];
    await until('every verdict to be consumed', async () => (await results.getJobCounts('completed')).completed === VERDICTS);
    // Shapes the worker will not touch during the test: a far-delayed job, and jobs on the review
    // queue, which nothing consumes here (a prioritized one among them).
    await moderation.add('moderate', { bucket: BUCKET, key: 'later.png', meta: {}, submittedAtMs: Date.now() }, { delay: 600_000 });
    await review.add('v', { n: 1 });
    await review.add('v', { n: 2 }, { priority: 3 });

    const m = await scrape(`${opsHttp.url}/metrics`);
    expect(total(m, 'revmod_queue_metrics_up')).toBe(1);
    for (const q of queues) {
      const counts = await q.getJobCounts(...QUEUE_STATES);
      for (const state of QUEUE_STATES) {
        expect({ queue: q.name, state, value: total(m, 'revmod_queue_jobs', { queue: q.name, state }) })
          .toEqual({ queue: q.name, state, value: counts[state] ?? 0 });
      }
      expect(total(m, 'revmod_queue_paused', { queue: q.name })).toBe(0);
    }
    expect(total(m, 'revmod_queue_jobs', { queue: moderation.name, state: 'delayed' })).toBe(1);
    expect(total(m, 'revmod_queue_jobs', { queue: moderation.name, state: 'failed' })).toBe(1);
    expect(total(m, 'revmod_queue_jobs', { queue: results.name, state: 'completed' })).toBe(VERDICTS);
    // Review gets the non-pass verdicts (2 block + 1 error) plus the two added here.
    expect(total(m, 'revmod_queue_jobs', { queue: review.name, state: 'waiting' })).toBe(RED_COUNT + 1 + 1);
    expect(total(m, 'revmod_queue_jobs', { queue: review.name, state: 'prioritized' })).toBe(1);

    expect((await fetch(`${opsHttp.url}/healthz`)).status).toBe(200);
    expect((await fetch(`${opsHttp.url}/readyz`)).status).toBe(200);
  });

  it('turns /readyz to 503 as soon as the worker starts closing', async () => {
    const closing = worker.close(10_000);
    const res = await fetch(`${workerHttp.url}/readyz`);
    expect(res.status).toBe(503);
    expect(await res.text()).toMatch(/not ready: (draining|closed)/);
    await closing;
    expect((await fetch(`${workerHttp.url}/readyz`)).status).toBe(503);
    expect((await fetch(`${workerHttp.url}/healthz`)).status).toBe(200);
    const m = await scrape(`${workerHttp.url}/metrics`);
    expect(total(m, 'revmod_worker_ready')).toBe(0);
  });
});
