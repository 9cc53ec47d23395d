import { Worker, type Job } from 'bullmq';
import type { Redis } from 'ioredis';
import { loadClientConfig, type ClientConfigInput } from './client-settings';
import { createRedisConnection } from './redis-connection';
import type { ReviewDecision } from './review-types';

export interface DecisionConsumerOptions {
  /**
   * Called once per decision; a throw makes BullMQ retry it. Decisions of one job may arrive out of
   * order and, after a replay, more than once: apply a decision only when its `round` is higher than
   * the one you applied for that `jobId`.
   */
  readonly handler: (decision: ReviewDecision, job: Job<ReviewDecision>) => Promise<void> | void;
  /** Decisions handled at once. @defaultValue 16 */
  readonly concurrency?: number;
  readonly config?: ClientConfigInput;
  /** A connection to use (it must have `maxRetriesPerRequest: null`); by default one is opened. */
  readonly connection?: Redis;
  /** Connection errors while Redis is unreachable (the consumer reconnects by itself). @defaultValue ignored */
  readonly onError?: (err: Error) => void;
}

/** A running consumer of decisions; `close()` waits for handlers in flight. */
export interface DecisionConsumer {
  readonly worker: Worker<ReviewDecision>;
  close(): Promise<void>;
}

/**
 * Consumes the decisions people make in the review console: the final outcome of every reviewed
 * image (`decision.outcome`: pass or block).
 *
 * ```ts
 * consumeDecisions({ handler: async (d) => reviews.applyIfNewer(d.jobId, d.round, d.outcome) });
 * ```
 */
export function consumeDecisions(options: DecisionConsumerOptions): DecisionConsumer {
  const config = loadClientConfig(options.config);
  const ownsConnection = options.connection === undefined;
  const connection = options.connection ?? createRedisConnection(config, 'worker');
  const worker = new Worker<ReviewDecision>(config.queues.decisions, async (job) => { await options.handler(job.data, job); }, {
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
