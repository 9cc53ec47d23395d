import type { Job, Worker } from 'bullmq';
import { RevmodError } from './errors';
import { consumeQueue, type QueueConsumerOptions } from './queue-consumer';
import type { Verdict } from './types';

export interface VerdictConsumerOptions extends QueueConsumerOptions {
  /** Called once per verdict; a throw makes BullMQ retry that verdict. */
  readonly handler: (verdict: Verdict, job: Job<Verdict>) => Promise<void> | void;
  /**
   * `results`, every verdict (the default and only queue). `review` is refused: the review console
   * owns that queue, and a consumer would take its items; use `watchReview()` to follow it.
   */
  readonly queue?: 'results' | 'review';
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
  return consumeQueue<Verdict>((c) => c.queues.results, options.handler, options);
}
