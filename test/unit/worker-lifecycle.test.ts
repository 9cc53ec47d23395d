import { Queue } from 'bullmq';
import pino from 'pino';
import { ModerationWorker } from '../../src/worker/moderation-worker';
import { defaultModelPath } from '../../tools/model-gen/ensure-model';
import { deletePrefix, testConfig, TEST_REDIS_URL, uniquePrefix } from '../helpers/test-config';

describe('ModerationWorker lifecycle (real Redis, probe model)', () => {
  const prefix = uniquePrefix('lifecycle');
  const config = testConfig({
    redis: { prefix },
    model: { path: defaultModelPath('probe'), executionProvider: 'cpu', intraOpThreads: 1 },
    s3: { endpoint: 'http://127.0.0.1:9', accessKeyId: 'x', secretAccessKey: 'y' },
  });
  const logger = pino({ level: 'silent' });
  const workersOnQueue = async (): Promise<number> => {
    const q = new Queue(config.queues.moderation, { connection: { url: TEST_REDIS_URL }, prefix });
    try {
      return (await q.getWorkers()).length;
    } finally {
      await q.close();
    }
  };

  afterAll(() => deletePrefix(prefix));

  it('shares one drain between concurrent and repeated close() calls', async () => {
    const worker = new ModerationWorker(config, { logger });
    await worker.start();
    expect(worker.status()).toMatchObject({ state: 'ready', ready: true, model: { name: 'revmod-probe' }, executionProvider: 'cpu' });
    const first = worker.close(5_000);
    const second = worker.close(5_000);
    expect(second).toBe(first);
    expect(worker.status()).toMatchObject({ state: 'draining', ready: false, notReadyReason: 'draining' });
    await expect(first).resolves.toEqual({ forced: false });
    expect(worker.close()).toBe(first);
    expect(worker.state).toBe('closed');
    expect(await workersOnQueue()).toBe(0);
  });

  it('stops a start() that close() interrupts during model load: no Redis worker is ever opened', async () => {
    const worker = new ModerationWorker(config, { logger });
    const starting = worker.start();
    const closing = worker.close(5_000);
    await expect(starting).rejects.toMatchObject({ code: 'SHUTTING_DOWN' });
    await expect(closing).resolves.toEqual({ forced: false });
    expect(worker.status()).toMatchObject({ state: 'closed', ready: false });
    expect(await workersOnQueue()).toBe(0);
  });

  it('closes an idle worker at once and refuses a later start()', async () => {
    const worker = new ModerationWorker(config, { logger });
    await expect(worker.close()).resolves.toEqual({ forced: false });
    await expect(worker.start()).rejects.toThrow('start() called in state closed');
  });
});
