import { RevmodError } from '@revmod/client';

export interface MicroBatcherOptions {
  /** A batch runs as soon as it holds this many items. */
  readonly maxSize: number;
  /** …or when this long has passed since its first item, so a lone item is not held back. */
  readonly maxWaitMs: number;
  /**
   * Batches running at once. While that many run, items keep accumulating (up to maxSize per batch)
   * instead of leaving as tiny batches that would only queue behind the running ones. Default 2.
   */
  readonly maxInFlight?: number;
}

export interface BatchContext {
  /** ms the oldest item waited in the batcher before its batch left. */
  readonly fillWaitMs: number;
}

interface Entry<T, R> {
  readonly item: T;
  readonly addedAt: number;
  resolve(r: R): void;
  reject(e: unknown): void;
}

/**
 * Groups items into batches by size or age. `run` gets the items of one batch and returns one
 * result per item (same order): a result may itself describe a per-item failure; a throw fails
 * every item of that batch (e.g. inference died), each caller sees the error.
 */
export class MicroBatcher<T, R> {
  private queue: Entry<T, R>[] = [];
  private timer: NodeJS.Timeout | undefined;
  private due = false;
  private inFlight = 0;
  private closing = false;
  private readonly idle: Array<() => void> = [];
  private readonly maxInFlight: number;

  constructor(
    private readonly options: MicroBatcherOptions,
    private readonly run: (items: T[], ctx: BatchContext) => Promise<R[]>,
  ) {
    if (!(Number.isInteger(options.maxSize) && options.maxSize > 0)) throw new RangeError(`maxSize must be a positive integer, received ${options.maxSize}`);
    if (!(options.maxWaitMs >= 0)) throw new RangeError(`maxWaitMs must be ≥ 0, received ${options.maxWaitMs}`);
    this.maxInFlight = options.maxInFlight ?? 2;
  }

  /** Items waiting for a batch. */
  get pending(): number {
    return this.queue.length;
  }

  get running(): number {
    return this.inFlight;
  }

  add(item: T): Promise<R> {
    if (this.closing) return Promise.reject(new RevmodError('SHUTTING_DOWN', 'batcher is closed'));
    return new Promise<R>((resolve, reject) => {
      this.queue.push({ item, addedAt: performance.now(), resolve, reject });
      if (this.queue.length === 1) this.arm();
      this.pump();
    });
  }

  private arm(): void {
    clearTimeout(this.timer);
    this.due = false;
    this.timer = setTimeout(() => {
      this.timer = undefined;
      this.due = true;
      this.pump();
    }, this.options.maxWaitMs);
  }

  private pump(): void {
    while (this.queue.length > 0 && this.inFlight < this.maxInFlight) {
      const full = this.queue.length >= this.options.maxSize;
      if (!full && !this.due && !this.closing) return;
      this.launch(this.queue.splice(0, this.options.maxSize));
      if (this.queue.length > 0) {
        // The rest starts a new batch whose age is its own oldest item's.
        const age = performance.now() - this.queue[0]!.addedAt;
        this.due = age >= this.options.maxWaitMs;
        if (!this.due) {
          clearTimeout(this.timer);
          this.timer = setTimeout(() => { this.timer = undefined; this.due = true; this.pump(); }, this.options.maxWaitMs - age);
        }
      } else {
        clearTimeout(this.timer);
        this.timer = undefined;
        this.due = false;
      }
    }
  }

  private launch(batch: Entry<T, R>[]): void {
    this.inFlight += 1;
    const fillWaitMs = performance.now() - batch[0]!.addedAt;
    let promise: Promise<R[]>;
    try {
      promise = this.run(batch.map((e) => e.item), { fillWaitMs });
    } catch (err) {
      promise = Promise.reject(err);
    }
    promise.then((results) => {
      batch.forEach((e, i) => {
        if (i < results.length) e.resolve(results[i] as R);
        else e.reject(new RevmodError('INTERNAL', `batch returned ${results.length} results for ${batch.length} items`));
      });
    }, (err: unknown) => {
      for (const e of batch) e.reject(err);
    }).finally(() => {
      this.inFlight -= 1;
      this.pump();
      if (this.inFlight === 0 && this.queue.length === 0) this.idle.splice(0).forEach((f) => f());
    });
  }

  /** Runs what is pending now, without waiting for size or age. */
  flush(): void {
    this.due = true;
    this.pump();
  }

  /** Stops accepting items, runs every pending one (partial batches included) and waits for them. */
  async close(): Promise<void> {
    this.closing = true;
    this.pump();
    if (this.inFlight === 0 && this.queue.length === 0) return;
    await new Promise<void>((resolve) => this.idle.push(resolve));
  }
}
