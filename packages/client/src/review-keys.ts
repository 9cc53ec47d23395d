/**
 * The Redis keys the review console writes and the SDK reads, under the BullMQ prefix so that a
 * `{hash-tag}` prefix keeps them in one Redis Cluster slot with the queues.
 */
export function reviewKeyBase(prefix: string): string {
  return `${prefix}:review`;
}

/** The final-state record of one job (a JSON {@link DecisionState}), read by `getDecision`. */
export function decisionStateKey(prefix: string, jobId: string): string {
  return `${reviewKeyBase(prefix)}:final:${jobId}`;
}

/** The stream of review events (`watchReview`). */
export function reviewEventsKey(prefix: string): string {
  return `${reviewKeyBase(prefix)}:events`;
}

/** The decision id for a job's n-th decision: deterministic, so republishing adds nothing. */
export function decisionIdFor(jobId: string, round: number): string {
  return `${jobId}-r${round}`;
}
