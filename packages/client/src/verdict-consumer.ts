import { Worker, type Job } from 'bullmq';
import type { Redis } from 'ioredis';
import { loadClientConfig, type ClientConfig, type ClientConfigInput } from './client-settings';
import { createRedisConnection } from './redis-connection';
import type { Verdict } from './types';

export interface VerdictConsumerOptions {
  /** Called once per verdict; a throw makes BullMQ retry that verdict. */
  readonly handler: (verdict: Verdict, job: Job<Verdict>) => Promise<void> | void;
  /** `results` (every verdict, default) or `review` (the human-review queue). */
  readonly queue?: 'results' | 'review';
  /** Verdicts handled at once. Default 16. */
  readonly concurrency?: number;
  readonly config?: ClientConfigInput;
  /** A connection to use (it must have `maxRetriesPerRequest: null`); by default one is opened. */
  readonly connection?: Redis;
  /** Connection errors while Redis is unreachable (the consumer reconnects by itself). Default: ignored. */
  readonly onError?: (err: Error) => void;
}

/** A running consumer of verdicts; `close()` waits for handlers in flight. */
export interface VerdictConsumer {
  readonly worker: Worker<Verdict>;
  close(): Promise<void>;
}

/**
 * Consumes verdicts from the results (or review) queue with a typed handler.
 *
 * ```ts
 * const consumer = consumeVerdicts({ handler: async (v) => db.saveDecision(v.key, v.decision) });
 * ```
 */
export function consumeVerdicts(options: VerdictConsumerOptions): VerdictConsumer {
  const config = loadClientConfig(options.config);
  const ownsConnection = options.connection === undefined;
  const connection = options.connection ?? createRedisConnection(config, 'worker');
  const name = options.queue === 'review' ? config.queues.review : config.queues.results;
  const worker = new Worker<Verdict>(name, async (job) => { await options.handler(job.data, job); }, {
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
