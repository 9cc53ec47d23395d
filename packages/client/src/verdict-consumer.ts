import { Worker, type Job } from 'bullmq';
import type { Redis } from 'ioredis';
import { loadClientConfig, type ClientConfig, type ClientConfigInput } from './client-settings';
import { RevmodError } from './errors';
import { createRedisConnection } from './redis-connection';
import type { Verdict } from './types';

export interface VerdictConsumerOptions {
  /** Called once per verdict; a throw makes BullMQ retry that verdict. */
  readonly handler: (verdict: Verdict, job: Job<Verdict>) => Promise<void> | void;
  /**
   * `results`, every verdict (the default and only queue). `review` is refused: the review console
   * owns that queue, and a consumer would take its items; use `watchReview()` to follow it.
   */
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
 * Consumes verdicts from the results queue with a typed handler.
 *
 * ```ts
 * const consumer = consumeVerdicts({ handler: async (v) => db.saveDecision(v.key, v.decision) });
 * ```
 */
export function consumeVerdicts(options: VerdictConsumerOptions): VerdictConsumer {
  if (options.queue === 'review') {
    throw new RevmodError('CONFIG_INVALID', 'consumeVerdicts({ queue: "review" }) would take items from the review console: use watchReview() to follow the review queue, consumeDecisions() for people\'s decisions');
  }
  const config = loadClientConfig(options.config);
  const ownsConnection = options.connection === undefined;
  const connection = options.connection ?? createRedisConnection(config, 'worker');
  const worker = new Worker<Verdict>(config.queues.results, async (job) => { await options.handler(job.data, job); }, {
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
