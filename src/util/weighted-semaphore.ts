/**
 * A weighted semaphore: what is held at once stays within `limit` (bytes of upload bodies in
 * flight, busy pool threads). Waiters are served in order; one request larger than the whole limit
 * is let through alone, so nothing waits forever.
 */
export class WeightedSemaphore {
  private used = 0;
  private readonly waiters: Array<{ weight: number; grant: () => void }> = [];

  constructor(readonly limit: number) {
    if (!(Number.isSafeInteger(limit) && limit > 0)) throw new RangeError(`limit must be a positive integer, received ${limit}`);
  }

  /** Weight granted and not released yet. */
  get inUse(): number {
    return this.used;
  }

  /** Requests waiting for room. */
  get waiting(): number {
    return this.waiters.length;
  }

  /** Resolves once `weight` fits (in order of asking). */
  acquire(weight: number): Promise<void> {
    if (this.waiters.length === 0 && this.fits(weight)) {
      this.used += weight;
      return Promise.resolve();
    }
    return new Promise((resolve) => this.waiters.push({ weight, grant: resolve }));
  }

  release(weight: number): void {
    this.used = Math.max(0, this.used - weight);
    while (this.waiters.length > 0 && this.fits(this.waiters[0]!.weight)) {
      const next = this.waiters.shift()!;
      this.used += next.weight;
      next.grant();
    }
  }

  private fits(weight: number): boolean {
    return this.used + weight <= this.limit || this.used === 0;
  }
}
