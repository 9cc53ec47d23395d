import { defaultModelPath } from '../../tools/model-gen/ensure-model';
import { RedisServer } from '../../tools/dev/redis-server';
import * as fixtures from '../fixtures/hostile-images';
import { FleetClients, waitUntil, WorkerFleet } from '../helpers/fault-harness';
import { S3Server } from '../../tools/dev/s3-server';
import { testConfig, uniquePrefix } from '../helpers/test-config';

const BUCKET = 'reviews-redis';
const BEFORE = 48;
const DURING = 8;
const AFTER = 24;

/**
 * Redis restarted mid-run (a Redis of its own with the append-only file on, stopped with SIGTERM and
 * started again on the same port and directory): the worker process, the producer SDK and the
 * verdict consumer reconnect by themselves, and every job submitted before, during and after the
 * restart gets exactly one verdict.
 */
describe('Redis restarted in the middle of a run', () => {
  const prefix = uniquePrefix('redis');
  let redis: RedisServer;
  let s3: S3Server;
  let fleet: WorkerFleet;
  let io: FleetClients;

  beforeAll(async () => {
    redis = await RedisServer.start({ persistence: 'everysec' });
    s3 = await S3Server.start();
    await s3.createBucket(BUCKET);
    const photo = await fixtures.plainJpeg(800, 600);
    await Promise.all(Array.from({ length: BEFORE + DURING + AFTER }, (_, i) => s3.put(BUCKET, `photos/${i}.jpg`, photo)));
    const config = testConfig({ redis: { url: redis.url, prefix }, s3: s3.s3Config, jobs: { attempts: 5, backoffMs: 500 } });
    fleet = new WorkerFleet({
      redisUrl: redis.url, prefix,
      s3Env: s3.env,
      modelPath: defaultModelPath('resnet18'), intraOpThreads: 1, batchSize: 8, concurrency: 16,
      lockDurationMs: 10_000, stalledIntervalMs: 5_000,
    });
    io = new FleetClients(config);
  }, 60_000);

  afterAll(async () => {
    await fleet?.destroyAll();
    await io?.close();
    await s3?.close();
    await redis?.destroy(); // the whole server (and its directory) was this file's own
  });

  it('reconnects worker, SDK and consumer; every job submitted before, during and after gets one verdict', async () => {
    const worker = fleet.start('worker');
    await worker.ready();
    const request = (i: number) => ({ bucket: BUCKET, key: `photos/${i}.jpg` });
    const submitted = (await io.client.submitBulk(Array.from({ length: BEFORE }, (_, i) => request(i)))).map((r) => r.jobId);

    await waitUntil('verdicts out and jobs active', async () =>
      (io.collector.verdicts.length >= 8 && (await io.inspector.activeIds()).length > 0 ? true : undefined), 60_000, 20);
    await redis.stop();
    const verdictsAtStop = io.collector.verdicts.length;
    expect(verdictsAtStop).toBeLessThan(BEFORE);

    // Submitted while Redis is down: the SDK queues the commands and sends them on reconnect.
    const during = io.client.submitBulk(Array.from({ length: DURING }, (_, i) => request(BEFORE + i)));
    await new Promise((r) => setTimeout(r, 1_500)); // the outage
    await redis.start();
    submitted.push(...(await during).map((r) => r.jobId));
    submitted.push(...(await io.client.submitBulk(Array.from({ length: AFTER }, (_, i) => request(BEFORE + DURING + i)))).map((r) => r.jobId));

    const total = BEFORE + DURING + AFTER;
    try {
      await io.collector.waitFor(total, 90_000);
    } catch (err) {
      throw new Error(`${(err as Error).message}\ncounts ${JSON.stringify(await io.inspector.counts())}\n${fleet.tails()}`);
    }
    const counts = await io.inspector.settledCounts();
    const ledger = await io.inspector.ledger(submitted, io.collector.verdicts);
    expect(ledger).toEqual({ missing: [], unexpected: [], duplicateResultJobs: [], duplicateDeliveries: [], resultCount: total });
    expect(counts).toMatchObject({ completed: total, failed: 0, active: 0, waiting: 0, delayed: 0 });
    expect(io.collector.verdicts.every((v) => v.error === undefined)).toBe(true);
    expect(worker.alive).toBe(true); // the same process, reconnected
    expect(worker.grep('redis connection error').length).toBeGreaterThan(0);
  }, 150_000);
});

/**
 * Redis killed with -9 (nothing flushed) and held down longer than the job lock, twice, with
 * `appendfsync always`: every acknowledged write (a submitted job, a published verdict, a completed
 * job) survives. Workers, SDK and consumer reconnect; nothing is lost or duplicated, and no job ends
 * with both a verdict and a failed entry. (With `everysec` a kill -9 may lose the last second of
 * acknowledged writes: docs/reliability.md says which guarantee holds with which setting.)
 */
describe('Redis killed with -9 and held down past the lock, twice', () => {
  const prefix = uniquePrefix('redis-kill');
  const LOCK_MS = 4_000;
  const DOWN_MS = 6_000;
  const JOBS = 48;
  let redis: RedisServer;
  let s3: S3Server;
  let fleet: WorkerFleet;
  let io: FleetClients;

  beforeAll(async () => {
    redis = await RedisServer.start({ persistence: 'always' });
    s3 = await S3Server.start({ buckets: [BUCKET] });
    const photo = await fixtures.plainJpeg(800, 600);
    await Promise.all(Array.from({ length: JOBS }, (_, i) => s3.put(BUCKET, `kill/${i}.jpg`, photo)));
    const config = testConfig({ redis: { url: redis.url, prefix }, s3: s3.s3Config, jobs: { attempts: 5, backoffMs: 500 } });
    fleet = new WorkerFleet({
      redisUrl: redis.url, prefix, s3Env: s3.env,
      modelPath: defaultModelPath('resnet18'), intraOpThreads: 1, batchSize: 8, concurrency: 16,
      lockDurationMs: LOCK_MS, stalledIntervalMs: 2_000,
    });
    io = new FleetClients(config);
  }, 60_000);

  afterAll(async () => {
    await fleet?.destroyAll();
    await io?.close();
    await s3?.close();
    await redis?.destroy();
  });

  it('loses nothing, duplicates nothing, and leaves no job both decided and failed', async () => {
    const worker = fleet.start('worker');
    await worker.ready();
    const submitted = (await io.client.submitBulk(Array.from({ length: JOBS / 2 }, (_, i) => ({ bucket: BUCKET, key: `kill/${i}.jpg` })))).map((r) => r.jobId);
    for (let round = 0; round < 2; round++) {
      await waitUntil('jobs active', async () => ((await io.inspector.activeIds()).length > 0 ? true : undefined), 60_000, 20);
      await redis.signal('SIGKILL');
      // Submitted while Redis is down: the SDK sends them on reconnect.
      const during = io.client.submitBulk(Array.from({ length: JOBS / 4 }, (_, i) => ({ bucket: BUCKET, key: `kill/${JOBS / 2 + round * (JOBS / 4) + i}.jpg` })));
      await new Promise((r) => setTimeout(r, DOWN_MS)); // longer than the lock: held jobs look stalled on return
      await redis.start();
      submitted.push(...(await during).map((r) => r.jobId));
    }
    try {
      await io.collector.waitFor(JOBS, 120_000);
    } catch (err) {
      throw new Error(`${(err as Error).message}\ncounts ${JSON.stringify(await io.inspector.counts())}\n${fleet.tails()}`);
    }
    const counts = await io.inspector.settledCounts();
    const ledger = await io.inspector.ledger(submitted, io.collector.verdicts);
    expect(ledger).toEqual({ missing: [], unexpected: [], duplicateResultJobs: [], duplicateDeliveries: [], resultCount: JOBS });
    expect(counts).toMatchObject({ completed: JOBS, failed: 0 });
    const failedIds = new Set((await io.client.queue.getFailed()).map((j) => j.id));
    expect(io.collector.verdicts.filter((v) => failedIds.has(v.id))).toEqual([]);
    expect(worker.alive).toBe(true);
  }, 240_000);
});
