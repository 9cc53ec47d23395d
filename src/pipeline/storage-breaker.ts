/**
 * Notices an object-store outage: `threshold` storage failures in a row (no success between them)
 * open it. While open, jobs hit by storage errors are handed back without spending an attempt, and
 * the queue's intake is paused for `pauseMs`: a long S3 outage then delays the backlog instead of
 * draining it into the failed list. Any successful fetch closes it. A single broken object among
 * healthy ones never opens it (successes reset the count), so it still fails after its attempts.
 */
export class StorageBreaker {
  private consecutive = 0;

  constructor(readonly threshold: number, readonly pauseMs: number) {
    if (!(Number.isInteger(threshold) && threshold >= 1)) throw new RangeError(`threshold must be an integer ≥ 1, received ${threshold}`);
    if (!(pauseMs >= 0)) throw new RangeError(`pauseMs must be ≥ 0, received ${pauseMs}`);
  }

  get open(): boolean {
    return this.consecutive >= this.threshold;
  }

  /** Records a storage failure; true when the breaker is (now) open. */
  failure(): boolean {
    this.consecutive += 1;
    return this.open;
  }

  success(): void {
    this.consecutive = 0;
  }
}
