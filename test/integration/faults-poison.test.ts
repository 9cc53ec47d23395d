import { join } from 'node:path';
import type { Verdict } from '@revmod/client';
import { S3Server } from '../../tools/dev/s3-server';
import { defaultModelPath } from '../../tools/model-gen/ensure-model';
import * as fixtures from '../fixtures/hostile-images';
import { FleetClients, waitUntil, WorkerFleet } from '../helpers/fault-harness';
import { POISON_MARKER } from '../../tools/chaos/poison-pool-thread';
import { deletePrefix, TEST_REDIS_URL, testConfig, uniquePrefix } from '../helpers/test-config';

const BUCKET = 'reviews-poison';
const INNOCENT = 40;
const POISON_KEY = 'photos/poison.jpg';

/**
 * A poison image: decoding it kills the worker process (a native abort, as a crash inside libvips
 * would). Each death stalls every job the worker held; only the job inside the decode at the time
 * is counted against. After REVMOD_POISON_CRASHES (2) deaths the poison gets a PROCESSING_CRASHED
 * verdict (review) instead of failing "stalled more than allowable limit" with none, and the jobs
 * that were only in flight beside it get their normal verdicts.
 */
describe('a poison image that kills the worker while it is decoded', () => {
  const prefix = uniquePrefix('poison');
  let s3: S3Server;
  let fleet: WorkerFleet;
  let io: FleetClients;

  beforeAll(async () => {
    s3 = await S3Server.start({ buckets: [BUCKET] });
    const photo = await fixtures.plainJpeg(800, 600);
    await Promise.all(Array.from({ length: INNOCENT }, (_, i) => s3.put(BUCKET, `photos/${i}.jpg`, photo)));
    await s3.put(BUCKET, POISON_KEY, Buffer.concat([photo, Buffer.from(POISON_MARKER)]));
    const config = testConfig({ redis: { prefix }, s3: s3.s3Config, jobs: { attempts: 3, backoffMs: 300 } });
    fleet = new WorkerFleet({
      redisUrl: TEST_REDIS_URL, prefix, s3Env: s3.env,
      modelPath: defaultModelPath('probe'), intraOpThreads: 1, batchSize: 4, concurrency: 24,
      lockDurationMs: 2_000, stalledIntervalMs: 1_000, maxStalledCount: 5,
      // One pool thread: the poison is the only image inside a decode when the process dies.
      extra: { REVMOD_POOL_THREADS: '1' },
    });
    io = new FleetClients(config);
  }, 60_000);

  afterAll(async () => {
    await fleet?.destroyAll();
    await io?.close();
    await s3?.close();
    await deletePrefix(prefix);
  });

  it('gives the poison a PROCESSING_CRASHED verdict and its batch-mates their normal verdicts', async () => {
    const entry = join(__dirname, '../../tools/chaos/poison-worker.ts');
    let deaths = 0;
    let current = fleet.start('worker-1', {}, { entry });
    await current.ready();
    // The poison in the middle, so that innocent jobs are in flight around it.
    const requests = Array.from({ length: INNOCENT }, (_, i) => ({ bucket: BUCKET, key: `photos/${i}.jpg` }));
    requests.splice(INNOCENT / 2, 0, { bucket: BUCKET, key: POISON_KEY });
    const submitted = (await io.client.submitBulk(requests)).map((r) => r.jobId);

    // The orchestrator's part: a dead worker is replaced.
    const total = INNOCENT + 1;
    await waitUntil('every verdict', async () => {
      if (!current.alive) {
        deaths += 1;
        current = fleet.start(`worker-${deaths + 1}`, {}, { entry });
        await current.ready();
      }
      return io.collector.verdicts.length >= total ? true : undefined;
    }, 150_000, 250).catch(async (err: Error) => { throw new Error(`${err.message}: ${io.collector.verdicts.length} verdicts, deaths ${deaths}, counts ${JSON.stringify(await io.inspector.counts())}\n${fleet.tails(25)}`); });

    const byKey = new Map<string, Verdict>(io.collector.verdicts.map((v) => [v.key, v]));
    expect(deaths).toBeGreaterThanOrEqual(2);
    expect(byKey.get(POISON_KEY)).toMatchObject({ decision: 'review', reasons: ['error'], error: { code: 'PROCESSING_CRASHED' } });
    expect(byKey.get(POISON_KEY)!.error!.message).toMatch(/died 2 times \(last in decode\)/);
    const innocents = io.collector.verdicts.filter((v) => v.key !== POISON_KEY);
    expect(innocents).toHaveLength(INNOCENT);
    expect(innocents.filter((v) => v.error !== undefined)).toEqual([]);
    // Jobs that were in flight when a worker died were taken over (stalled) and still judged normally.
    const stalled = (await io.inspector.resultJobs()).length;
    expect(stalled).toBe(total);
    const takenOver = await Promise.all(submitted.map(async (id) => (await io.client.queue.getJob(id))?.stalledCounter ?? 0));
    expect(takenOver.filter((n, i) => n > 0 && io.collector.verdicts.find((v) => v.id === submitted[i])?.error === undefined).length).toBeGreaterThanOrEqual(10);
    const ledger = await io.inspector.ledger(submitted, io.collector.verdicts);
    expect(ledger).toEqual({ missing: [], unexpected: [], duplicateResultJobs: [], duplicateDeliveries: [], resultCount: total });
    expect(await io.inspector.counts()).toMatchObject({ failed: 0 });
  }, 180_000);
});
