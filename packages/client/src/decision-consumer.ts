import type { Job } from 'bullmq';
import { consumeQueue, type QueueConsumer, type QueueConsumerOptions } from './queue-consumer';
import type { ReviewDecision } from './review-types';

export interface DecisionConsumerOptions extends QueueConsumerOptions {
  /**
   * Called once per decision; a throw makes BullMQ retry it. Decisions of one job may arrive out of
   * order and, after a replay, more than once: apply a decision only when its `round` is higher than
   * the one you applied for that `jobId`.
   */
  readonly handler: (decision: ReviewDecision, job: Job<ReviewDecision>) => Promise<void> | void;
}

/** A running consumer of decisions; `close()` waits for handlers in flight. */
export type DecisionConsumer = QueueConsumer<ReviewDecision>;

/**
 * Consumes the decisions people make in the review console: the final outcome of every reviewed
 * image (`decision.outcome`: pass or block).
 *
 * ```ts
 * consumeDecisions({ handler: async (d) => reviews.applyIfNewer(d.jobId, d.round, d.outcome) });
 * ```
 */
export function consumeDecisions(options: DecisionConsumerOptions): DecisionConsumer {
  return consumeQueue<ReviewDecision>((c) => c.queues.decisions, options.handler, options);
}
