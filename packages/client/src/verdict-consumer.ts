import { UnrecoverableError, Worker, type Job } from 'bullmq';
import { isRevmodError } from './errors';
import { verdictBackoffStrategy } from './job-options';
import { acceptedKeys, verifyVerdict } from './verdict-signature';
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
  /**
   * A verdict refused because its signature is missing or wrong (with REVMOD_SIGNING_KEY set): the
   * handler never sees it, and it goes to the results queue's failed list. Default: ignored.
   */
  readonly onRejected?: (err: Error, job: Job<Verdict>) => void;
}

/** A running consumer of verdicts; `close()` waits for handlers in flight. */
export interface VerdictConsumer {
  readonly worker: Worker<Verdict>;
  /** Verdicts refused so far for their signature. */
  readonly rejected: number;
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
  const keys = acceptedKeys(config.signing);
  let rejected = 0;
  const worker = new Worker<Verdict>(name, async (job) => {
    if (keys.length > 0) {
      try {
        verifyVerdict(job.data, keys);
      } catch (err) {
        rejected += 1;
        options.onRejected?.(err as Error, job);
        // No delivery can fix a forged verdict: it stays in the failed list for ops to look at.
        throw new UnrecoverableError(isRevmodError(err) ? `${err.code}: ${err.message}` : String(err));
      }
    }
    await options.handler(job.data, job);
  }, {
    connection,
    prefix: config.redis.prefix,
    concurrency: options.concurrency ?? 16,
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
