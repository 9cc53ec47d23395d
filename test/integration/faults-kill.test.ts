import { defaultModelPath } from '../../tools/model-gen/ensure-model';
import * as fixtures from '../fixtures/hostile-images';
import { FleetClients, waitUntil, WorkerFleet, workerIdOf } from '../helpers/fault-harness';
import { S3Server } from '../../tools/dev/s3-server';
import { deletePrefix, TEST_REDIS_URL, testConfig, uniquePrefix } from '../helpers/test-config';

const BUCKET = 'reviews-kill';
const JOBS = 64;
const LOCK_MS = 3_000;
const STALLED_MS = 1_000;

/**
 * kill -9 of a worker process in the middle of a batch (ResNet18 on one intra-op thread, so a batch
 * of 8 takes ~0.4 s): its locked jobs stall, a second worker takes them over once the locks expire,
 * and the results queue ends with exactly one verdict per job.
 */
describe('a worker killed with SIGKILL mid-batch', () => {
  const prefix = uniquePrefix('kill');
  let s3: S3Server;
  let fleet: WorkerFleet;
  let io: FleetClients;
  let config: ReturnType<typeof testConfig>;

  beforeAll(async () => {
    s3 = await S3Server.start();
    await s3.createBucket(BUCKET);
    const photo = await fixtures.plainJpeg(800, 600);
    await Promise.all(Array.from({ length: JOBS }, (_, i) => s3.put(BUCKET, `photos/${i}.jpg`, photo)));
    config = testConfig({ redis: { prefix }, s3: s3.s3Config, jobs: { attempts: 3, backoffMs: 500 } });
    fleet = new WorkerFleet({
      redisUrl: TEST_REDIS_URL, prefix,
      s3Env: s3.env,
      modelPath: defaultModelPath('resnet18'), intraOpThreads: 1, batchSize: 8, concurrency: 16,
      lockDurationMs: LOCK_MS, stalledIntervalMs: STALLED_MS,
    });
    io = new FleetClients(config);
  }, 60_000);

  afterAll(async () => {
    await fleet?.destroyAll();
    await io?.close();
    await s3?.close();
    await deletePrefix(prefix);
  });

  it('loses nothing: another worker finishes every job, one verdict each', async () => {
    const first = fleet.start('worker-a');
    await first.ready();
    const submitted = (await io.client.submitBulk(Array.from({ length: JOBS }, (_, i) => ({ bucket: BUCKET, key: `photos/${i}.jpg` })))).map((r) => r.jobId);

    // Mid-run: some verdicts are out and jobs are locked by the worker (a batch in flight).
    const activeAtKill = await waitUntil('verdicts out and jobs active', async () => {
      if (io.collector.verdicts.length < 8) return undefined;
      const active = await io.inspector.activeIds();
      return active.length >= 4 ? active : undefined;
    }, 60_000, 20);
    first.kill('SIGKILL');
    const exit = await first.waitExit(10_000);
    expect(exit.signal).toBe('SIGKILL');
    const verdictsAtKill = io.collector.verdicts.length;
    expect(verdictsAtKill).toBeLessThan(JOBS);

    // The dead worker's jobs are still "active" (locked) until their locks expire.
    expect((await io.inspector.counts()).active).toBeGreaterThan(0);

    const second = fleet.start('worker-b');
    await second.ready();
    try {
      await io.collector.waitFor(JOBS, 60_000);
    } catch (err) {
      throw new Error(`${(err as Error).message}\ncounts ${JSON.stringify(await io.inspector.counts())}\n${fleet.tails()}`);
    }
    const counts = await io.inspector.settledCounts(); // a duplicate, if any were published, has arrived by now
    const ledger = await io.inspector.ledger(submitted, io.collector.verdicts);
    expect(ledger).toEqual({ missing: [], unexpected: [], duplicateResultJobs: [], duplicateDeliveries: [], resultCount: JOBS });
    expect(io.collector.verdicts).toHaveLength(JOBS);
    expect(io.collector.verdicts.every((v) => v.error === undefined && v.scores !== null)).toBe(true);
    expect(counts).toMatchObject({ completed: JOBS, failed: 0, active: 0, waiting: 0, delayed: 0 });

    // The jobs the killed worker held were taken over by the second one (as stalled jobs).
    const byId = new Map(io.collector.verdicts.map((v) => [v.id, v] as const));
    const takenOver = activeAtKill.filter((id) => workerIdOf(second).test(byId.get(id)!.worker));
    expect(takenOver.length).toBeGreaterThan(0);
    expect(second.grep('job stalled').length).toBeGreaterThan(0);
    expect(io.collector.verdicts.filter((v) => workerIdOf(first).test(v.worker)).length).toBeGreaterThanOrEqual(8);
  }, 120_000);
});
