/**
 * A weighted semaphore over bytes: the upload bodies a worker holds at once (fetched, not yet
 * handed to the image pool) stay within `limitBytes`. Waiters are served in order; one request
 * larger than the whole budget is let through alone, so nothing waits forever.
 */
export class ByteBudget {
  private used = 0;
  private readonly waiters: Array<{ bytes: number; grant: () => void }> = [];

  constructor(readonly limitBytes: number) {
    if (!(Number.isSafeInteger(limitBytes) && limitBytes > 0)) throw new RangeError(`limitBytes must be a positive integer, received ${limitBytes}`);
  }

  /** Bytes granted and not released yet. */
  get inUseBytes(): number {
    return this.used;
  }

  /** Requests waiting for room. */
  get waiting(): number {
    return this.waiters.length;
  }

  /** Resolves once `bytes` fit (in order of asking). */
  acquire(bytes: number): Promise<void> {
    if (this.waiters.length === 0 && this.fits(bytes)) {
      this.used += bytes;
      return Promise.resolve();
    }
    return new Promise((resolve) => this.waiters.push({ bytes, grant: resolve }));
  }

  release(bytes: number): void {
    this.used = Math.max(0, this.used - bytes);
    while (this.waiters.length > 0 && this.fits(this.waiters[0]!.bytes)) {
      const next = this.waiters.shift()!;
      this.used += next.bytes;
      next.grant();
    }
  }

  private fits(bytes: number): boolean {
    return this.used + bytes <= this.limitBytes || this.used === 0;
  }
}
