import { S3Server } from '../../tools/dev/s3-server';
import { freePort } from '../../tools/dev/free-port';
import { defaultModelPath } from '../../tools/model-gen/ensure-model';
import * as fixtures from '../fixtures/hostile-images';
import { FleetClients, waitUntil, WorkerFleet, workerIdOf } from '../helpers/fault-harness';
import { deletePrefix, TEST_REDIS_URL, testConfig, uniquePrefix } from '../helpers/test-config';

const BUCKET = 'reviews-sick';
const JOBS = 48;

/**
 * One worker's S3 networking is broken (its endpoint is a closed port). Its storage breaker pauses
 * only its own intake and turns its readiness to 503; the jobs it touched go back without spending
 * an attempt, and the healthy worker beside it takes every one.
 */
describe('one sick worker does not stop the fleet', () => {
  const prefix = uniquePrefix('sick');
  let s3: S3Server;
  let fleet: WorkerFleet;
  let io: FleetClients;

  beforeAll(async () => {
    s3 = await S3Server.start({ buckets: [BUCKET] });
    const photo = await fixtures.plainJpeg(640, 480);
    await Promise.all(Array.from({ length: JOBS }, (_, i) => s3.put(BUCKET, `photos/${i}.jpg`, photo)));
    const config = testConfig({ redis: { prefix }, s3: s3.s3Config, jobs: { attempts: 2, backoffMs: 200 } });
    fleet = new WorkerFleet({
      redisUrl: TEST_REDIS_URL, prefix, s3Env: s3.env,
      modelPath: defaultModelPath('probe'), intraOpThreads: 1, batchSize: 4, concurrency: 8,
      extra: { REVMOD_STORAGE_FAILURE_THRESHOLD: '2', REVMOD_STORAGE_PAUSE_MS: '3000', S3_CONNECT_TIMEOUT_MS: '300' },
    });
    io = new FleetClients(config);
  }, 60_000);

  afterAll(async () => {
    await fleet?.destroyAll();
    await io?.close();
    await s3?.close();
    await deletePrefix(prefix);
  });

  it('pauses the sick worker alone, reports it not ready, and the healthy one decides every job', async () => {
    const deadPort = await freePort();
    const metricsPort = await freePort();
    const sick = fleet.start('sick', { s3Env: { ...s3.env, S3_ENDPOINT: `http://127.0.0.1:${deadPort}` }, extra: {
      REVMOD_STORAGE_FAILURE_THRESHOLD: '2', REVMOD_STORAGE_PAUSE_MS: '3000', S3_CONNECT_TIMEOUT_MS: '300', REVMOD_METRICS_PORT: String(metricsPort), REVMOD_METRICS_HOST: '127.0.0.1',
    } });
    await sick.ready();
    // The sick worker alone first, so that it surely meets the outage and pauses.
    const first = (await io.client.submitBulk(Array.from({ length: 8 }, (_, i) => ({ bucket: BUCKET, key: `photos/${i}.jpg` })))).map((r) => r.jobId);
    const readiness = await waitUntil('the sick worker to report not ready', async () => {
      const res = await fetch(`http://127.0.0.1:${metricsPort}/readyz`).catch(() => undefined);
      return res && res.status === 503 ? res.text() : undefined;
    }, 20_000, 100);
    expect(readiness).toMatch(/intake paused: object store unreachable from this worker/);

    const healthy = fleet.start('healthy');
    await healthy.ready();
    const rest = (await io.client.submitBulk(Array.from({ length: JOBS - 8 }, (_, i) => ({ bucket: BUCKET, key: `photos/${i + 8}.jpg` })))).map((r) => r.jobId);
    const verdicts = await io.collector.waitFor(JOBS, 90_000);
    expect(new Set(verdicts.map((v) => v.id))).toEqual(new Set([...first, ...rest]));
    expect(verdicts.filter((v) => v.error !== undefined)).toEqual([]);
    expect(verdicts.every((v) => workerIdOf(healthy).test(v.worker))).toBe(true);
    expect(await io.inspector.counts()).toMatchObject({ failed: 0 });
    // With 2 attempts, only the failures before the breaker opened spent one: every job was decided
    // on its first or second attempt, none failed, though the sick worker took each of the first 8.
    expect(verdicts.every((v) => v.attempt <= 2)).toBe(true);
    expect(sick.grep("pausing this worker's intake").length).toBeGreaterThan(0);
    expect(sick.alive).toBe(true);
  }, 150_000);
});
