import { readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import sharp from 'sharp';
import type { Redis } from 'ioredis';
import type { S3Client } from '@aws-sdk/client-s3';
import { createRedisConnection, ListsClient, ModerationClient, RevmodError, type Verdict } from '@revmod/client';
import type { RevmodConfig } from '../../src/config';
import { KnownLists } from '../../src/known/known-lists';
import { ListJournal } from '../../src/known/list-journal';
import { listStoreOf } from '../../src/known/list-store';
import { verdictCacheOf } from '../../src/known/verdict-cache';
import type { BatchStats } from '../../src/pipeline/pipeline-observer';
import { createS3Client, S3ObjectStore } from '../../src/storage';
import type { ModerationWorker } from '../../src/worker/moderation-worker';
import { S3Server } from '../../tools/dev/s3-server';
import { defaultModelPath } from '../../tools/model-gen/ensure-model';
import { deletePrefix, testConfig, uniquePrefix } from '../helpers/test-config';
import { startTestWorker, VerdictCollector } from '../helpers/worker-harness';

const SAMPLES = resolve(__dirname, '../../samples');
const BUCKET = 'known-photos';
const JOURNAL = 'known-journal';

/**
 * Known images end to end in one worker (real Redis, a real S3 server, the real pool and model):
 * exact re-uploads reuse the earlier verdict (never across a policy or model change), a person's
 * decision beats the machine's, and copies of a listed image (re-encoded, resized, mirrored) get
 * the list's decision without inference.
 */
describe('known images in a worker', () => {
  const prefix = uniquePrefix('known');
  let s3: S3Server;
  let config: RevmodConfig;
  let worker: ModerationWorker | undefined;
  let client: ModerationClient;
  let collector: VerdictCollector;
  let redis: Redis;
  let s3client: S3Client;
  let lists: KnownLists;
  const batches: BatchStats[] = [];
  const rocket = readFileSync(join(SAMPLES, 'rocket_1080x1080_q85.jpg'));
  const coffee = readFileSync(join(SAMPLES, 'coffee_600x400_q85.jpg'));
  const chelsea = readFileSync(join(SAMPLES, 'chelsea_451x300_q85.jpg'));

  const configFor = (overrides: { policy?: RevmodConfig['policy']['sensitivity']; model?: 'resnet18' | 'probe' } = {}) => testConfig({
    redis: { prefix }, s3: s3.s3Config,
    batch: { size: 4, maxWaitMs: 5 },
    model: { path: defaultModelPath(overrides.model ?? 'probe'), executionProvider: 'cpu', intraOpThreads: 1 },
    policy: { sensitivity: overrides.policy ?? 'card' },
    jobs: { attempts: 2, backoffMs: 200 },
    known: { enabled: true, journalBucket: JOURNAL, syncIntervalMs: 200 },
  });

  async function restartWorker(c: RevmodConfig): Promise<void> {
    await worker?.close(10_000);
    worker = await startTestWorker(c, { onBatch: (b) => batches.push(b) });
  }

  /** Submits `key` and waits for its verdict. */
  async function judge(key: string): Promise<Verdict> {
    const { jobId } = await client.submit({ bucket: BUCKET, key });
    const deadline = Date.now() + 30_000;
    for (;;) {
      const v = collector.verdicts.find((x) => x.id === jobId);
      if (v) return v;
      if (Date.now() > deadline) throw new Error(`no verdict for ${key} within 30 s`);
      await new Promise((r) => setTimeout(r, 20));
    }
  }

  beforeAll(async () => {
    s3 = await S3Server.start();
    await s3.createBucket(BUCKET);
    await s3.createBucket(JOURNAL);
    config = configFor();
    redis = createRedisConnection(config, 'producer');
    s3client = createS3Client(config.s3);
    lists = new KnownLists({
      store: listStoreOf(redis, s3client, config), objects: new S3ObjectStore(config.s3, s3client), allowedBuckets: [],
      maxBytes: config.limits.maxBytes, decode: { maxPixels: config.limits.maxPixels },
    });
    await restartWorker(config);
    client = new ModerationClient({ config });
    collector = new VerdictCollector(config);
  }, 120_000);

  afterAll(async () => {
    await client?.close();
    await collector?.close();
    await worker?.close(10_000);
    s3client?.destroy();
    await redis?.quit();
    await s3?.close();
    await deletePrefix(prefix);
  });

  it('reuses the verdict of identical bytes (reusedFrom, no inference), but not after the policy or the model changed', async () => {
    await s3.put(BUCKET, 'exact/1.jpg', coffee);
    await s3.put(BUCKET, 'exact/2.jpg', coffee);
    await s3.put(BUCKET, 'exact/3.jpg', coffee);
    await s3.put(BUCKET, 'exact/4.jpg', coffee);
    const first = await judge('exact/1.jpg');
    expect(first.batch).not.toBeNull();
    expect(first.reusedFrom).toBeUndefined();
    const batchesBefore = batches.length;
    const again = await judge('exact/2.jpg');
    expect(again).toMatchObject({ reusedFrom: first.id, decision: first.decision, scores: first.scores, batch: null, key: 'exact/2.jpg' });
    expect(again.version?.sha256).toBe(first.version?.sha256);
    expect(again.timings.inferMs).toBe(0);
    expect(batches.length).toBe(batchesBefore);

    // Another policy (other thresholds, so another version): judged afresh.
    await restartWorker(configFor({ policy: 'very-high' }));
    const otherPolicy = await judge('exact/3.jpg');
    expect(otherPolicy.policy?.version).not.toBe(first.policy?.version);
    expect(otherPolicy.reusedFrom).toBeUndefined();
    expect(otherPolicy.batch).not.toBeNull();

    // Another model: judged afresh too.
    await restartWorker(configFor({ model: 'resnet18' }));
    const otherModel = await judge('exact/4.jpg');
    expect(otherModel.model.sha256).not.toBe(first.model.sha256);
    expect(otherModel.reusedFrom).toBeUndefined();
    expect(otherModel.batch).not.toBeNull();
    await restartWorker(config);
  }, 120_000);

  it('gives a person\'s decision to every re-upload of the same bytes, over the machine\'s verdict', async () => {
    await s3.put(BUCKET, 'decided/1.jpg', chelsea);
    await s3.put(BUCKET, 'decided/2.jpg', chelsea);
    const machine = await judge('decided/1.jpg');
    expect(machine.reusedFrom).toBeUndefined();
    // What the review console's DecisionService records on a rejection (tested through the console in console-api).
    await verdictCacheOf(redis, config).recordDecision(machine.version!.sha256!, machine, { outcome: 'block', reasons: ['spam_ad'], decidedAt: new Date().toISOString() });
    const reupload = await judge('decided/2.jpg');
    expect(reupload).toMatchObject({ decision: 'block', reasons: ['known_decision', 'spam_ad'], reusedFrom: machine.id, batch: null });
  }, 60_000);

  it('blocks re-encoded, resized and mirrored copies of a listed image without inference, with the list, distance and origin', async () => {
    await s3.put(BUCKET, 'campaign/original.jpg', rocket);
    const copies: Record<string, Buffer> = {
      reencoded: await sharp(rocket).jpeg({ quality: 60 }).toBuffer(),
      resized: await sharp(rocket).resize(540).jpeg({ quality: 85 }).toBuffer(),
      mirrored: await sharp(rocket).flop().jpeg({ quality: 90 }).toBuffer(),
      webp: await sharp(rocket).webp({ quality: 80 }).toBuffer(),
    };
    for (const [name, bytes] of Object.entries(copies)) await s3.put(BUCKET, `campaign/${name}`, bytes);
    await s3.put(BUCKET, 'campaign/unrelated.jpg', coffee);

    // Before the listing, a copy is judged by the model.
    const before = await judge('campaign/original.jpg');
    expect(before.batch).not.toBeNull();

    await lists.create({ name: 'spam-campaign', kind: 'block' }, 'test');
    const sdk = new ListsClient({ config, by: 'upload-service', timeoutMs: 20_000 });
    try {
      const entry = await sdk.addToList('spam-campaign', { bucket: BUCKET, key: 'campaign/original.jpg' }, { note: 'fake giveaway' });
      expect(entry).toMatchObject({ origin: { type: 'object', bucket: BUCKET, key: 'campaign/original.jpg', sha256: before.version!.sha256, note: 'fake giveaway' }, addedBy: 'upload-service' });
      expect(entry.hash).toMatch(/^[0-9a-f]{64}$/);
      await new Promise((r) => setTimeout(r, 1_000)); // within a second on every worker

      const batchesBefore = batches.length;
      for (const name of Object.keys(copies)) {
        const v = await judge(`campaign/${name}`);
        expect({ name, decision: v.decision, reasons: v.reasons, batch: v.batch, inferMs: v.timings.inferMs, scores: v.scores })
          .toEqual({ name, decision: 'block', reasons: ['known_violation'], batch: null, inferMs: 0, scores: null });
        const evidence = v.evidence?.known_violation as { list: string; distance: number; origin: { key: string }; action: string };
        expect(evidence).toMatchObject({ list: 'spam-campaign', action: 'block', origin: { key: 'campaign/original.jpg' } });
        expect(evidence.distance).toBeLessThanOrEqual(31);
      }
      expect(batches.length).toBe(batchesBefore); // no inference for any copy
      const unrelated = await judge('campaign/unrelated.jpg');
      expect(unrelated.reasons).not.toContain('known_violation');

      // The exact bytes judged before the listing: their cached pass does not outlive the listing.
      await s3.put(BUCKET, 'campaign/original-again.jpg', rocket);
      const again = await judge('campaign/original-again.jpg');
      expect(again).toMatchObject({ decision: 'block', reasons: ['known_violation'] });
      expect(again.reusedFrom).toBeUndefined();

      const found = await sdk.lookup({ bucket: BUCKET, key: 'campaign/mirrored' });
      expect(found.matches).toEqual([expect.objectContaining({ list: 'spam-campaign', kind: 'block', action: 'block', entry: expect.objectContaining({ id: entry.id }) })]);
      expect((await sdk.lookup({ bucket: BUCKET, key: 'campaign/unrelated.jpg' })).matches).toEqual([]);

      // Removed: copies go to the model again.
      expect(await sdk.removeFromList('spam-campaign', { hash: entry.hash })).toEqual({ removed: [entry.id] });
      await new Promise((r) => setTimeout(r, 1_000));
      await s3.put(BUCKET, 'campaign/after-removal', copies.resized!);
      const after = await judge('campaign/after-removal');
      expect(after.reasons).not.toContain('known_violation');
      expect(after.batch).not.toBeNull();

      await expect(sdk.addToList('no-such-list', { hash: entry.hash })).rejects.toMatchObject({ code: 'LIST_NOT_FOUND' });
      await expect(sdk.addToList('spam-campaign', { hash: 'xyz' })).rejects.toThrow(/hash must be a PDQ hash of 64 hex digits, received "xyz"/);
      await expect(sdk.addToList('spam-campaign', { bucket: BUCKET, key: 'campaign/never-uploaded.jpg' })).rejects.toBeInstanceOf(RevmodError);
    } finally {
      await sdk.close();
    }
  }, 120_000);

  it('journals every change to S3 before Redis, in order', async () => {
    const journal = new ListJournal({ s3: s3client, bucket: JOURNAL, prefix: config.known.journalPrefix });
    const ops: string[] = [];
    for await (const r of journal.records()) ops.push(`${r.change.op}:${'name' in r.change ? r.change.name : r.change.list.name}`);
    expect(ops).toEqual(['list:spam-campaign', 'add:spam-campaign', 'remove:spam-campaign']);
  });
});
