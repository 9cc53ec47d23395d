import { Redis } from 'ioredis';
import { CrashGuard } from '../../src/pipeline/crash-guard';
import { deletePrefix, TEST_REDIS_URL, uniquePrefix } from '../helpers/test-config';

/**
 * The crash guard's blame, against real Redis. A "death" is a guard whose process stops calling
 * `leave`; the jobs are then resumed by another guard (another worker process).
 */
describe('CrashGuard: which jobs a worker death is counted against', () => {
  const prefix = uniquePrefix('crash-guard');
  let redis: Redis;
  const guard = (incarnation: string, ttlMs = 60_000) => new CrashGuard({ redis, prefix, maxCrashes: 2, markerTtlMs: ttlMs, incarnation });

  beforeAll(() => {
    redis = new Redis(TEST_REDIS_URL, { maxRetriesPerRequest: 3 });
  });

  afterAll(async () => {
    await deletePrefix(prefix);
    redis.disconnect();
  });

  it('blames a death with an image inside decode on that image, not on the batch in inference beside it', async () => {
    // Each incarnation dies with the poison in decode and a batch (a, b) in inference, twice.
    for (const [i, w] of ['w1', 'w2'].entries()) {
      const dying = guard(w);
      await dying.enter(['a', 'b'], 'inference');
      await dying.enter(['poison'], 'decode');
      const next = guard(`${w}-next`);
      expect(await next.onResume('poison')).toEqual({ crashes: i + 1, stage: 'decode' });
      expect(await next.onResume('a')).toEqual({ crashes: 0, stage: undefined });
      expect(await next.onResume('b')).toEqual({ crashes: 0, stage: undefined });
    }
  });

  it('counts a death with nothing in decode against the jobs in inference (an onnxruntime crash, an OOM there)', async () => {
    const dying = guard('w3');
    await dying.enter(['c'], 'decode');
    await dying.leave(['c'], 'decode'); // decoded and gone on: not in decode at the death
    await dying.enter(['c', 'd'], 'inference');
    const next = guard('w3-next');
    expect(await next.onResume('c')).toEqual({ crashes: 1, stage: 'inference' });
    expect(await next.onResume('d')).toEqual({ crashes: 1, stage: 'inference' });
  });

  it('counts nothing for a job that left its risky stages before the death, and forgets a count', async () => {
    const dying = guard('w4');
    await dying.enter(['e'], 'decode');
    await dying.leave(['e'], 'decode');
    await dying.enter(['e'], 'inference');
    await dying.leave(['e'], 'inference');
    expect(await guard('w4-next').onResume('e')).toEqual({ crashes: 0, stage: undefined });
    await guard('w5').enter(['f'], 'decode');
    expect((await guard('w5-next').onResume('f')).crashes).toBe(1);
    await guard('w5-next').forget('f');
    expect((await guard('w6').onResume('f')).crashes).toBe(0);
  });

  it('keeps a marker for its whole TTL: a takeover behind a long backlog still counts the death', async () => {
    await guard('w7', 2_000).enter(['g'], 'decode');
    expect(await redis.pttl(`${prefix}:revmod:risky:g`)).toBeGreaterThan(1_000);
    await new Promise((r) => setTimeout(r, 2_100));
    // Past the TTL the death is not counted: the worker sizes the TTL to a day (moderation-worker.ts).
    expect(await guard('w7-next').onResume('g')).toEqual({ crashes: 0, stage: undefined });
  });
});
