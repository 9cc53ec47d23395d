import { Queue } from 'bullmq';
import sharp from 'sharp';
import { consumeVerdicts, ModerationClient, signVerdict, type Verdict } from '@revmod/client';
import { clientConfigOf, type RevmodConfig } from '../../src/config';
import type { ModerationWorker } from '../../src/worker/moderation-worker';
import { S3Server } from '../../tools/dev/s3-server';
import { defaultModelPath } from '../../tools/model-gen/ensure-model';
import { deletePrefix, testConfig, TEST_REDIS_URL, uniquePrefix } from '../helpers/test-config';
import { startTestWorker } from '../helpers/worker-harness';

const BUCKET = 'verdict-delivery';
const KEY = 'delivery-test-signing-key';
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function waitFor<T>(what: string, probe: () => T | undefined, timeoutMs: number): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = probe();
    if (v !== undefined) return v;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await sleep(100);
  }
}

describe('verdicts reach consumers: signed, and for hours through a failing consumer', () => {
  const prefix = uniquePrefix('delivery');
  let s3: S3Server;
  let config: RevmodConfig;
  let worker: ModerationWorker;
  let client: ModerationClient;

  beforeAll(async () => {
    s3 = await S3Server.start({ buckets: [BUCKET] });
    const photo = await sharp({ create: { width: 320, height: 240, channels: 3, background: { r: 30, g: 90, b: 200 } } }).jpeg().toBuffer();
    for (let i = 0; i < 8; i++) await s3.put(BUCKET, `p/${i}.jpg`, photo);
    config = testConfig({
      redis: { prefix }, s3: s3.s3Config, batch: { size: 4, maxWaitMs: 20 },
      model: { path: defaultModelPath('probe'), executionProvider: 'cpu', intraOpThreads: 1 },
      signing: { key: KEY },
      // Fast enough for a test: 0.5 s doubling to at most 4 s.
      jobs: { verdictBackoffMs: 500, verdictMaxBackoffMs: 4_000 },
    });
    worker = await startTestWorker(config);
    client = new ModerationClient({ config: clientConfigOf(config) });
  }, 60_000);

  afterAll(async () => {
    await client?.close();
    await worker?.close(5_000);
    await s3?.close();
    await deletePrefix(prefix);
  });

  it('signs every verdict; a consumer with the key takes them and refuses a forged one before its handler', async () => {
    const seen: Verdict[] = [];
    const refused: string[] = [];
    const consumer = consumeVerdicts({ config: clientConfigOf(config), handler: (v) => { seen.push(v); }, onRejected: (err) => refused.push(err.message) });
    try {
      const ids = (await client.submitBulk([0, 1, 2].map((i) => ({ bucket: BUCKET, key: `p/${i}.jpg` })))).map((r) => r.jobId);
      await waitFor('3 verdicts', () => (seen.length >= 3 ? true : undefined), 30_000);
      expect(seen.map((v) => v.id).sort()).toEqual([...ids].sort());
      expect(seen.every((v) => /^[0-9a-f]{8}\.[0-9a-f]{64}$/.test(v.signature ?? ''))).toBe(true);
      expect((await client.getVerdict(ids[0]!))?.signature).toBe(seen.find((v) => v.id === ids[0])!.signature);

      // Someone with Redis access adds a "pass" for an image nobody judged, unsigned and then re-signed with a guessed key.
      const results = new Queue<Verdict>(config.queues.results, { connection: { url: TEST_REDIS_URL }, prefix });
      const forged: Verdict = { ...seen[0]!, id: 'forged-1', jobId: 'forged-1', key: 'p/evil.jpg', decision: 'pass', signature: undefined };
      await results.add('pass', forged, { jobId: 'forged-1' });
      await results.add('pass', signVerdict({ ...forged, id: 'forged-2', jobId: 'forged-2' }, 'guessed-key'), { jobId: 'forged-2' });
      await waitFor('2 refusals', () => (refused.length >= 2 ? true : undefined), 10_000);
      expect(seen.some((v) => v.id.startsWith('forged'))).toBe(false);
      expect(consumer.rejected).toBe(2);
      const failed = await results.getFailed();
      expect(failed.map((j) => [j.id, j.failedReason.split(':')[0]]).sort()).toEqual([['forged-1', 'VERDICT_SIGNATURE_INVALID'], ['forged-2', 'VERDICT_SIGNATURE_INVALID']]);
      expect(failed.every((j) => j.attemptsMade === 1)).toBe(true);
      await results.close();
    } finally {
      await consumer.close();
    }
  }, 60_000);

  it('a consumer that fails for 60 s, then recovers, receives every verdict', async () => {
    const failUntil = Date.now() + 60_000;
    const received = new Map<string, number>();
    let failures = 0;
    const consumer = consumeVerdicts({
      config: clientConfigOf(config),
      handler: (v) => {
        if (Date.now() < failUntil) {
          failures += 1;
          throw new Error('database down');
        }
        received.set(v.id, (received.get(v.id) ?? 0) + 1);
      },
    });
    try {
      const ids = (await client.submitBulk([3, 4, 5, 6, 7].map((i) => ({ bucket: BUCKET, key: `p/${i}.jpg`, meta: { round: 2 } })))).map((r) => r.jobId);
      await waitFor('all 5 verdicts after recovery', () => (ids.every((id) => received.has(id)) ? true : undefined), 90_000);
      expect(failures).toBeGreaterThanOrEqual(5 * 5); // each verdict was refused several times over the minute
      expect([...received.entries()].filter(([id]) => ids.includes(id)).map(([, n]) => n)).toEqual([1, 1, 1, 1, 1]);
    } finally {
      await consumer.close();
    }
  }, 120_000);
});
