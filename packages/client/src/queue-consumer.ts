import { Worker, type Job } from 'bullmq';
import type { Redis } from 'ioredis';
import { loadClientConfig, type ClientConfig, type ClientConfigInput } from './client-settings';
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
  close(): Promise<void>;
}

/** A BullMQ worker on one of revmod's queues, calling `handler` with each job's data (a throw retries it). */
export function consumeQueue<T>(
  queueOf: (config: ClientConfig) => string,
  handler: (data: T, job: Job<T>) => Promise<void> | void,
  options: QueueConsumerOptions,
): QueueConsumer<T> {
  const config = loadClientConfig(options.config);
  const ownsConnection = options.connection === undefined;
  const connection = options.connection ?? createRedisConnection(config, 'worker');
  const worker = new Worker<T>(queueOf(config), async (job) => { await handler(job.data, job); }, {
    connection,
    prefix: config.redis.prefix,
    concurrency: options.concurrency ?? 16,
  });
  worker.on('error', options.onError ?? (() => undefined));
  return {
    worker,
    async close() {
      await worker.close();
      if (ownsConnection) await connection.quit().catch(() => connection.disconnect());
    },
  };
}
