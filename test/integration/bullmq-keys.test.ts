import { Queue, Worker } from 'bullmq';
import { Redis } from 'ioredis';
import { DEFAULTS } from '../../src/config';
import { findDoc, readDeployDocs, type Doc } from '../helpers/deploy-files';
import { deletePrefix, TEST_REDIS_URL, uniquePrefix } from '../helpers/test-config';

/**
 * The KEDA triggers in deploy/keda-scaledobject.yaml read BullMQ's keys directly. BullMQ does not
 * promise those names, so this checks them against what BullMQ 6 really writes to Redis.
 */
describe('the Redis keys the KEDA ScaledObject reads (real Redis, real BullMQ)', () => {
  const prefix = uniquePrefix('keda-keys');
  const queueName = DEFAULTS.queues.moderation;
  let queue: Queue;
  let redis: Redis;
  /** Key suffixes of the triggers, e.g. `wait`, after `<prefix>:<queue>:`. */
  let suffixes: string[];

  beforeAll(() => {
    const scaled = findDoc(readDeployDocs(), 'ScaledObject');
    const head = `${DEFAULTS.redis.prefix}:${queueName}:`;
    suffixes = (scaled.spec.triggers as Doc[]).map((t) => {
      const listName = t.metadata.listName as string;
      expect(listName.startsWith(head)).toBe(true);
      return listName.slice(head.length);
    });
    queue = new Queue(queueName, { connection: { url: TEST_REDIS_URL }, prefix });
    redis = new Redis(TEST_REDIS_URL);
  });

  afterAll(async () => {
    await queue?.close();
    redis?.disconnect();
    await deletePrefix(prefix);
  });

  it('counts waiting jobs in a list and prioritized jobs in a sorted set, as the triggers expect', async () => {
    expect(suffixes).toEqual(['wait', 'prioritized']);
    await queue.addBulk(Array.from({ length: 3 }, (_, i) => ({ name: 'moderate', data: { i } })));
    await queue.add('moderate', { p: 1 }, { priority: 1 });
    await queue.add('moderate', { p: 2 }, { priority: 7 });
    await queue.add('moderate', { d: 1 }, { delay: 600_000 });
    const counts = await queue.getJobCounts('waiting', 'prioritized', 'delayed');
    expect(counts).toEqual({ waiting: 3, prioritized: 2, delayed: 1 });

    const wait = `${prefix}:${queueName}:wait`;
    const prioritized = `${prefix}:${queueName}:prioritized`;
    // What KEDA's redis scaler does: TYPE, then LLEN for a list, ZCARD for a sorted set.
    expect(await redis.type(wait)).toBe('list');
    expect(await redis.llen(wait)).toBe(counts.waiting);
    expect(await redis.type(prioritized)).toBe('zset');
    expect(await redis.zcard(prioritized)).toBe(counts.prioritized);
    // Documented as not counted by the triggers: retries waiting out their backoff.
    expect(await redis.type(`${prefix}:${queueName}:delayed`)).toBe('zset');
  });

  it('shrinks the counted backlog as a worker takes jobs', async () => {
    const backlog = async () => (await redis.llen(`${prefix}:${queueName}:wait`)) + (await redis.zcard(`${prefix}:${queueName}:prioritized`));
    const before = await backlog();
    expect(before).toBeGreaterThan(0);
    // Take one job the way a worker does, without running a processor.
    const taker = new Worker(queueName, null, { connection: { url: TEST_REDIS_URL, maxRetriesPerRequest: null }, prefix, autorun: false });
    try {
      expect(await taker.getNextJob('test-token')).toBeDefined();
      expect(await backlog()).toBe(before - 1);
    } finally {
      await taker.close();
    }
  });
});
