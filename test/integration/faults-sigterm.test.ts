import { defaultModelPath } from '../../tools/model-gen/ensure-model';
import * as fixtures from '../fixtures/hostile-images';
import { FleetClients, waitUntil, WorkerFleet, workerIdOf } from '../helpers/fault-harness';
import { S3Server } from '../../tools/dev/s3-server';
import { deletePrefix, TEST_REDIS_URL, testConfig, uniquePrefix } from '../helpers/test-config';

const BUCKET = 'reviews-sigterm';
const JOBS = 96;
const SHUTDOWN_MS = 20_000;
const LOCK_MS = 3_000;

/**
 * SIGTERM: the worker stops taking jobs, finishes the jobs it holds (the batch in flight and the
 * partial one), publishes their verdicts, closes its connections and exits 0 within the drain
 * deadline. A second signal forces the exit; the jobs it held are taken over later. None is lost.
 */
describe('a worker process stopped with SIGTERM', () => {
  const prefix = uniquePrefix('sigterm');
  let s3: S3Server;
  let fleet: WorkerFleet;
  let io: FleetClients;
  let submitted: string[] = [];

  beforeAll(async () => {
    s3 = await S3Server.start();
    await s3.createBucket(BUCKET);
    const photo = await fixtures.plainJpeg(800, 600);
    await Promise.all(Array.from({ length: JOBS }, (_, i) => s3.put(BUCKET, `photos/${i}.jpg`, photo)));
    const config = testConfig({ redis: { prefix }, s3: s3.s3Config, jobs: { attempts: 3, backoffMs: 500 } });
    fleet = new WorkerFleet({
      redisUrl: TEST_REDIS_URL, prefix,
      s3Env: s3.env,
      modelPath: defaultModelPath('resnet18'), intraOpThreads: 1, batchSize: 8, concurrency: 16,
      lockDurationMs: LOCK_MS, stalledIntervalMs: 1_000, shutdownTimeoutMs: SHUTDOWN_MS,
    });
    io = new FleetClients(config);
  }, 60_000);

  afterAll(async () => {
    await fleet?.destroyAll();
    await io?.close();
    await s3?.close();
    await deletePrefix(prefix);
  });

  /** Waits until the worker has published some verdicts and holds jobs; returns the active ids. */
  async function midRun(minVerdicts: number): Promise<string[]> {
    return waitUntil('verdicts out and jobs active', async () => {
      if (io.collector.verdicts.length < minVerdicts) return undefined;
      const active = await io.inspector.activeIds();
      return active.length >= 4 ? active : undefined;
    }, 60_000, 20);
  }

  it('first SIGTERM: finishes and publishes the jobs it holds, takes no more, exits 0', async () => {
    const worker = fleet.start('worker-a');
    await worker.ready();
    submitted = (await io.client.submitBulk(Array.from({ length: JOBS }, (_, i) => ({ bucket: BUCKET, key: `photos/${i}.jpg` })))).map((r) => r.jobId);
    const activeAtSignal = await midRun(8);

    const signalledAt = Date.now();
    worker.kill('SIGTERM');
    const exit = await worker.waitExit(SHUTDOWN_MS + 5_000);
    const drainMs = Date.now() - signalledAt;
    expect(exit).toEqual({ code: 0, signal: null });
    expect(drainMs).toBeLessThan(SHUTDOWN_MS);
    expect(worker.grep('"forced":false').length).toBe(1);

    // Everything it held was finished and published; nothing is left locked or handed back.
    const counts = await io.inspector.counts();
    const mine = io.collector.verdicts.filter((v) => workerIdOf(worker).test(v.worker));
    expect(counts).toMatchObject({ active: 0, failed: 0, delayed: 0, completed: mine.length });
    expect(counts.waiting).toBeGreaterThan(0); // it stopped taking jobs
    const decided = new Set(mine.map((v) => v.id));
    expect(activeAtSignal.filter((id) => !decided.has(id))).toEqual([]);
    expect(mine.every((v) => v.attempt === 1 && v.error === undefined)).toBe(true);
    const ledger = await io.inspector.ledger(submitted, io.collector.verdicts);
    expect(ledger.resultCount).toBe(mine.length);
    expect(ledger.duplicateResultJobs).toEqual([]);
  }, 90_000);

  it('second signal forces the exit (non-zero); its jobs are taken over later; none is lost', async () => {
    const worker = fleet.start('worker-b');
    await worker.ready();
    const before = io.collector.verdicts.length;
    await midRun(before + 8);
    worker.kill('SIGTERM');
    await waitUntil('the drain to start', () => (worker.grep('signal received: draining').length > 0 ? true : undefined), 5_000, 10);
    worker.kill('SIGTERM');
    const exit = await worker.waitExit(8_000);
    // 130 from the second signal, or 1 if the cut-short drain got there first; never a crash
    // (an exit inside onnxruntime's run() would abort with SIGABRT).
    expect(exit.signal).toBeNull();
    expect([1, 130]).toContain(exit.code);
    expect(worker.grep('second signal: forcing exit').length).toBe(1);

    // A later worker takes over whatever the forced one held, once the locks expire.
    const third = fleet.start('worker-c');
    await third.ready();
    try {
      await io.collector.waitFor(JOBS, 60_000);
    } catch (err) {
      throw new Error(`${(err as Error).message}\ncounts ${JSON.stringify(await io.inspector.counts())}\n${fleet.tails()}`);
    }
    const counts = await io.inspector.settledCounts();
    const ledger = await io.inspector.ledger(submitted, io.collector.verdicts);
    expect(ledger).toEqual({ missing: [], unexpected: [], duplicateResultJobs: [], duplicateDeliveries: [], resultCount: JOBS });
    expect(counts).toMatchObject({ completed: JOBS, failed: 0, active: 0, waiting: 0, delayed: 0 });
    expect(io.collector.verdicts.every((v) => v.error === undefined)).toBe(true);
  }, 90_000);
});
