import type { Job } from 'bullmq';
import { RevmodError } from './errors';
import { consumeQueue, type QueueConsumer, type QueueConsumerOptions } from './queue-consumer';
import type { Verdict } from './types';
import { acceptedKeys, verifyVerdict } from './verdict-signature';

export interface VerdictConsumerOptions extends QueueConsumerOptions {
  /** Called once per verdict; a throw makes BullMQ retry that verdict (for hours, with capped backoff). */
  readonly handler: (verdict: Verdict, job: Job<Verdict>) => Promise<void> | void;
  /**
   * `results`, every verdict (the default and only queue). `review` is refused: the review console
   * owns that queue, and a consumer would take its items; use `watchReview()` to follow it.
   */
  readonly queue?: 'results' | 'review';
  /**
   * A verdict refused because its signature is missing or wrong (with REVMOD_SIGNING_KEY set): the
   * handler never sees it, and it goes to the results queue's failed list. @defaultValue ignored
   */
  readonly onRejected?: (err: Error, job: Job<Verdict>) => void;
}

/** A running consumer of verdicts; `close()` waits for handlers in flight; `rejected` counts forgeries refused. */
export type VerdictConsumer = QueueConsumer<Verdict>;

/**
 * Consumes verdicts from the results queue with a typed handler. With REVMOD_SIGNING_KEY set, only
 * verdicts the workers signed reach it.
 *
 * ```ts
 * const consumer = consumeVerdicts({ handler: async (v) => db.saveDecision(v.key, v.decision) });
 * ```
 */
export function consumeVerdicts(options: VerdictConsumerOptions): VerdictConsumer {
  if (options.queue === 'review') {
    throw new RevmodError('CONFIG_INVALID', 'consumeVerdicts({ queue: "review" }) would take items from the review console: use watchReview() to follow the review queue, consumeDecisions() for people\'s decisions');
  }
  return consumeQueue<Verdict>((c) => c.queues.results, options.handler, options, {
    verify: (verdict, config) => {
      const keys = acceptedKeys(config.signing);
      if (keys.length > 0) verifyVerdict(verdict, keys);
    },
    ...(options.onRejected ? { onRejected: options.onRejected } : {}),
  });
}
