import { UnrecoverableError, Worker, type Job } from 'bullmq';
import type { Redis } from 'ioredis';
import { loadClientConfig, type ClientConfig, type ClientConfigInput } from './client-settings';
import { isRevmodError } from './errors';
import { verdictBackoffStrategy } from './job-options';
import { createRedisConnection } from './redis-connection';

/** What every SDK consumer takes besides its handler. */
export interface QueueConsumerOptions {
  /** Jobs handled at once. @defaultValue 16 */
  readonly concurrency?: number;
  readonly config?: ClientConfigInput;
  /** A connection to use (it must have `maxRetriesPerRequest: null`); by default one is opened. */
  readonly connection?: Redis;
  /** Connection errors while Redis is unreachable (the consumer reconnects by itself). @defaultValue ignored */
  readonly onError?: (err: Error) => void;
}

/** A running consumer; `close()` waits for handlers in flight. */
export interface QueueConsumer<T> {
  readonly worker: Worker<T>;
  /** Jobs refused by `verify` so far. */
  readonly rejected: number;
  close(): Promise<void>;
}

export interface QueueConsumerHooks<T> {
  /**
   * Throws when a job must never reach the handler (a forged verdict): the job fails for good
   * (no retry can fix it) and stays in the failed list for ops.
   */
  readonly verify?: (data: T, config: ClientConfig) => void;
  readonly onRejected?: (err: Error, job: Job<T>) => void;
}

/** A BullMQ worker on one of revmod's queues, calling `handler` with each job's data (a throw retries it). */
export function consumeQueue<T>(
  queueOf: (config: ClientConfig) => string,
  handler: (data: T, job: Job<T>) => Promise<void> | void,
  options: QueueConsumerOptions,
  hooks: QueueConsumerHooks<T> = {},
): QueueConsumer<T> {
  const config = loadClientConfig(options.config);
  const ownsConnection = options.connection === undefined;
  const connection = options.connection ?? createRedisConnection(config, 'worker');
  let rejected = 0;
  const worker = new Worker<T>(queueOf(config), async (job) => {
    if (hooks.verify) {
      try {
        hooks.verify(job.data, config);
      } catch (err) {
        rejected += 1;
        hooks.onRejected?.(err as Error, job);
        throw new UnrecoverableError(isRevmodError(err) ? `${err.code}: ${err.message}` : String(err));
      }
    }
    await handler(job.data, job);
  }, {
    connection,
    prefix: config.redis.prefix,
    concurrency: options.concurrency ?? 16,
    // Verdict jobs back off exponentially up to a cap, for hours (see verdictJobOptions).
    settings: { backoffStrategy: verdictBackoffStrategy(config) },
  });
  worker.on('error', options.onError ?? (() => undefined));
  return {
    worker,
    get rejected() {
      return rejected;
    },
    async close() {
      await worker.close();
      if (ownsConnection) await connection.quit().catch(() => connection.disconnect());
    },
  };
}
