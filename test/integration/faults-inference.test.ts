import sharp from 'sharp';
import { defaultModelPath } from '../../tools/model-gen/ensure-model';
import { ModerationClient } from '@revmod/client';
import type { ModerationWorker } from '../../src/worker/moderation-worker';
import { QueueInspector, waitUntil } from '../helpers/fault-harness';
import { S3Server } from '../../tools/dev/s3-server';
import { deletePrefix, testConfig, uniquePrefix } from '../helpers/test-config';
import { armInferenceCrash, CRASHABLE_THREAD_ENTRY } from '../helpers/inference-crash';
import { startTestWorker, VerdictCollector } from '../helpers/worker-harness';

const BUCKET = 'reviews-inference';
const JOBS = 48;
const BATCH_SIZE = 8;

/**
 * The inference thread dies (a native crash: the thread exits) or a run throws: the batch fails with
 * INFERENCE_FAILED (retryable), BullMQ retries its jobs, the thread is replaced and the worker
 * lives on. Every job still gets exactly one verdict.
 */
describe('the inference thread dies or throws', () => {
  const prefix = uniquePrefix('inference');
  let s3: S3Server;
  let worker: ModerationWorker;
  let client: ModerationClient;
  let collector: VerdictCollector;
  let inspector: QueueInspector;
  const restarts: string[] = [];
  const failures: string[] = [];
  const thread = armInferenceCrash();

  beforeAll(async () => {
    s3 = await S3Server.start();
    await s3.createBucket(BUCKET);
    const blue = await sharp({ create: { width: 320, height: 240, channels: 3, background: { r: 20, g: 20, b: 230 } } }).jpeg().toBuffer();
    await Promise.all(Array.from({ length: JOBS }, (_, i) => s3.put(BUCKET, `photos/${i}.jpg`, blue)));
    const config = testConfig({
      redis: { prefix },
      s3: s3.s3Config,
      batch: { size: BATCH_SIZE, maxWaitMs: 20 },
      model: { path: defaultModelPath('probe'), executionProvider: 'cpu', intraOpThreads: 1 },
      jobs: { attempts: 4, backoffMs: 100 }, worker: { concurrency: 16 },
    });
    worker = await startTestWorker(config, { onRetry: (code) => failures.push(code) }, CRASHABLE_THREAD_ENTRY);
    worker.inferenceEngine!.on('restart', (reason: string) => restarts.push(reason));
    collector = new VerdictCollector(config);
    client = new ModerationClient({ config });
    inspector = new QueueInspector(config);
  }, 60_000);

  afterAll(async () => {
    await client?.close();
    await collector?.close();
    await worker?.close(10_000);
    await inspector?.close();
    await s3?.close();
    await deletePrefix(prefix);
  });

  it('retries the failed batches on a new thread; one verdict per job; the worker lives', async () => {
    const engine = worker.inferenceEngine!;
    const run = engine.run.bind(engine);
    let calls = 0;
    // Batch 2: the thread dies while the batch is queued to it.
    // Batch 4: the run throws inside the thread (a tensor shape it cannot take).
    engine.run = (images: readonly Float32Array[]) => {
      calls += 1;
      if (calls === 2) {
        thread.crash();
        return run(images);
      }
      if (calls === 4) return run([new Float32Array(3)]); // the thread refuses a tensor of the wrong size
      return run(images);
    };

    const submitted = (await client.submitBulk(Array.from({ length: JOBS }, (_, i) => ({ bucket: BUCKET, key: `photos/${i}.jpg` })))).map((r) => r.jobId);
    await collector.waitFor(JOBS, 60_000);
    const counts = await inspector.settledCounts();

    expect(calls).toBeGreaterThanOrEqual(JOBS / BATCH_SIZE + 2);
    expect(engine.restartCount).toBeGreaterThanOrEqual(1);
    expect(restarts[0]).toMatch(/inference thread exited with code 70/);
    expect(failures.filter((c) => c === 'INFERENCE_FAILED').length).toBeGreaterThanOrEqual(2);
    const ledger = await inspector.ledger(submitted, collector.verdicts);
    expect(ledger).toEqual({ missing: [], unexpected: [], duplicateResultJobs: [], duplicateDeliveries: [], resultCount: JOBS });
    expect(collector.verdicts.every((v) => v.error === undefined && v.label === 'normal')).toBe(true);
    // The retried jobs were decided on a later attempt; the others on their first.
    expect(collector.verdicts.filter((v) => v.attempt > 1).length).toBeGreaterThanOrEqual(2);
    expect(counts).toMatchObject({ completed: JOBS, failed: 0, active: 0, waiting: 0, delayed: 0 });
    expect(worker.ready).toBe(true);
    expect(engine.info?.provider).toBe('cpu');
  });

  it('a crash between batches: the next batch runs on the replacement thread', async () => {
    const engine = worker.inferenceEngine!;
    const before = engine.restartCount;
    thread.crash();
    await waitUntil('the thread to be replaced', () => (engine.restartCount > before ? true : undefined), 10_000);
    const more = Array.from({ length: BATCH_SIZE }, (_, i) => ({ bucket: BUCKET, key: `photos/${i}.jpg`, meta: { round: 2 } }));
    // Same objects, new keys are not needed: completed jobs are retained, so use fresh keys.
    const blue = await sharp({ create: { width: 64, height: 64, channels: 3, background: { r: 0, g: 0, b: 255 } } }).png().toBuffer();
    await Promise.all(more.map((_, i) => s3.put(BUCKET, `round2/${i}.png`, blue)));
    const total = collector.verdicts.length + BATCH_SIZE;
    await client.submitBulk(more.map((m, i) => ({ ...m, key: `round2/${i}.png` })));
    const verdicts = await collector.waitFor(total, 30_000);
    expect(verdicts.filter((v) => v.key.startsWith('round2/')).every((v) => v.error === undefined && v.attempt === 1)).toBe(true);
  });
});
