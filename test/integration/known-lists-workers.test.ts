import { readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import sharp from 'sharp';
import { Redis } from 'ioredis';
import type { S3Client } from '@aws-sdk/client-s3';
import { ModerationClient, type Verdict } from '@revmod/client';
import { configEnv, type RevmodConfig } from '../../src/config';
import { KnownLists } from '../../src/known/known-lists';
import { listStoreOf } from '../../src/known/list-store';
import { pdqOfUpload } from '../../src/known/upload-pdq';
import { createS3Client } from '../../src/storage';
import { RedisServer } from '../../tools/dev/redis-server';
import { S3Server } from '../../tools/dev/s3-server';
import { defaultModelPath } from '../../tools/model-gen/ensure-model';
import { waitUntil, WorkerFleet, workerIdOf } from '../helpers/fault-harness';
import { testConfig, uniquePrefix } from '../helpers/test-config';
import { VerdictCollector } from '../helpers/worker-harness';

const BUCKET = 'known-fleet';
const JOURNAL = 'known-fleet-journal';
const rocket = readFileSync(join(resolve(__dirname, '../../samples'), 'rocket_1080x1080_q85.jpg'));

/**
 * The lists with two real worker processes and a Redis of this file's own: an entry added while
 * both run takes effect on both within a second; the lists survive a Redis restart; and after a
 * FLUSHALL (Redis lost everything) they are rebuilt from the S3 journal and copies are blocked again.
 */
describe('known-image lists across worker processes and Redis losses', () => {
  const prefix = uniquePrefix('known-fleet');
  let redis: RedisServer;
  let s3: S3Server;
  let fleet: WorkerFleet;
  let config: RevmodConfig;
  let client: ModerationClient;
  let collector: VerdictCollector;
  let admin: Redis;
  let s3client: S3Client;
  let lists: KnownLists;
  let copyN = 0;

  /** Uploads `n` fresh copies (each a slightly different re-encode, so no exact reuse) and submits them. */
  async function submitCopies(n: number): Promise<string[]> {
    const keys: string[] = [];
    for (let i = 0; i < n; i++) {
      const key = `copies/${copyN++}.jpg`;
      await s3.put(BUCKET, key, await sharp(rocket).resize(1080 - (copyN % 40)).jpeg({ quality: 60 + (copyN % 35) }).toBuffer());
      keys.push(key);
    }
    return (await client.submitBulk(keys.map((key) => ({ bucket: BUCKET, key })))).map((r) => r.jobId);
  }

  async function verdictsOf(ids: readonly string[]): Promise<Verdict[]> {
    return waitUntil(`${ids.length} verdicts`, () => {
      const found = ids.map((id) => collector.verdicts.find((v) => v.id === id));
      return found.every((v) => v !== undefined) ? (found as Verdict[]) : undefined;
    }, 60_000);
  }

  beforeAll(async () => {
    redis = await RedisServer.start({ persistence: 'everysec' });
    s3 = await S3Server.start();
    await s3.createBucket(BUCKET);
    await s3.createBucket(JOURNAL);
    config = testConfig({ redis: { url: redis.url, prefix }, s3: s3.s3Config, known: { enabled: true, journalBucket: JOURNAL } });
    fleet = new WorkerFleet({
      redisUrl: redis.url, prefix, s3Env: s3.env, modelPath: defaultModelPath('probe'),
      intraOpThreads: 1, batchSize: 2, concurrency: 2, batchMaxWaitMs: 5,
      extra: configEnv({ known: { enabled: true, journalBucket: JOURNAL, syncIntervalMs: 1_000 }, pool: { threads: 1 } }),
    });
    admin = new Redis(redis.url, { maxRetriesPerRequest: 3 });
    admin.on('error', () => undefined);
    s3client = createS3Client(config.s3);
    lists = new KnownLists({ store: listStoreOf(admin, s3client, config), allowedBuckets: [], maxBytes: config.limits.maxBytes, decode: {} });
    client = new ModerationClient({ config });
    collector = new VerdictCollector(config);
  }, 60_000);

  afterAll(async () => {
    await fleet?.destroyAll();
    await client?.close();
    await collector?.close();
    admin?.disconnect();
    s3client?.destroy();
    await s3?.close();
    await redis?.destroy();
  });

  it('an entry added while two workers run blocks copies on both within a second', async () => {
    const a = fleet.start('worker-a');
    const b = fleet.start('worker-b');
    await Promise.all([a.ready(), b.ready()]);
    const before = await verdictsOf(await submitCopies(4));
    expect(before.every((v) => v.batch !== null && !v.reasons.includes('known_violation'))).toBe(true);

    await lists.create({ name: 'campaign', kind: 'block' }, 'test');
    const { hashes, quality } = await pdqOfUpload(rocket);
    await lists.add('campaign', { hash: hashes[0]!, quality }, 'test');
    const addedAt = Date.now();
    const version = Number(await admin.get(`${prefix}:known:lists:version`));
    // Each worker logs the version it applied: both have this one within a second.
    const applied = (w: typeof a) => w.grep('"msg":"known-image lists changed"').some((l) => (JSON.parse(l) as { version: number }).version >= version);
    await waitUntil('both workers applied the entry', () => (applied(a) && applied(b) ? true : undefined), 5_000, 10);
    expect(Date.now() - addedAt).toBeLessThan(1_000);
    const copies = await verdictsOf(await submitCopies(12));
    expect(copies.map((v) => [v.decision, v.reasons, v.batch])).toEqual(copies.map(() => ['block', ['known_violation'], null]));
    // Both processes judged some of them: the change reached each.
    expect(copies.some((v) => workerIdOf(a).test(v.worker))).toBe(true);
    expect(copies.some((v) => workerIdOf(b).test(v.worker))).toBe(true);
    expect(Math.min(...copies.map((v) => Date.parse(v.decidedAt))) - addedAt).toBeLessThan(10_000);
  }, 120_000);

  it('keeps the lists through a Redis restart', async () => {
    await redis.stop();
    await redis.start();
    await waitUntil('Redis back', async () => ((await admin.ping().catch(() => undefined)) === 'PONG' ? true : undefined), 20_000);
    expect((await lists.show('campaign')).entries).toBe(1);
    const copies = await verdictsOf(await submitCopies(4));
    expect(copies.every((v) => v.decision === 'block' && v.reasons.includes('known_violation'))).toBe(true);
  }, 120_000);

  it('rebuilds the lists from the S3 journal after Redis lost everything (FLUSHALL), and workers block copies again', async () => {
    await admin.flushall();
    expect(await admin.exists(`${prefix}:known:lists`)).toBe(0);
    // The workers notice the version going back, rebuild Redis from the journal, and reload.
    await waitUntil('lists rebuilt', async () => ((await admin.hlen(`${prefix}:known:list:campaign:entries`)) === 1 ? true : undefined), 20_000, 100);
    expect(fleet.all.every((w) => w.alive)).toBe(true);
    await new Promise((r) => setTimeout(r, 1_500));
    const copies = await verdictsOf(await submitCopies(6));
    expect(copies.map((v) => v.decision)).toEqual(copies.map(() => 'block'));
    expect(copies.every((v) => v.reasons.includes('known_violation') && v.batch === null)).toBe(true);
    expect((await lists.show('campaign')).sample[0]?.origin).toEqual({ type: 'hash' });
  }, 120_000);
});
