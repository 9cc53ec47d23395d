// sharp is loaded on the main thread before any pool thread (sharp issue #2263: a first load inside
// a worker thread can crash at exit).
import 'sharp';
import { availableParallelism } from 'node:os';
import { Piscina } from 'piscina';
import { RevmodError } from '@revmod/client';
import { threadEntry } from '../util/thread-entry';
import { WeightedSemaphore } from '../util/weighted-semaphore';
import type { DecodeOutcome, DecodeTask } from './decode-task';

/** Bytes that own their whole ArrayBuffer (a transfer moves the whole buffer): a view is copied first. */
function ownedBytes(b: Uint8Array): Uint8Array {
  return b.byteOffset === 0 && b.byteLength === b.buffer.byteLength && b.buffer instanceof ArrayBuffer ? b : new Uint8Array(b);
}

export interface DecodeHooks {
  /** Called once a thread is free for the task, just before it is handed over. */
  readonly onStart?: () => Promise<void>;
}

export interface ImagePoolOptions {
  /** Threads decoding at once. 0: one per core. @defaultValue 0 */
  readonly threads?: number;
  /** The thread entry file (.ts or .js). Tests substitute one that can crash on demand. */
  readonly entryFile?: string;
}

/**
 * The worker threads that touch pixels: decode, resample, normalize, cheap detectors. The main
 * thread only moves bytes in and tensors out (transferred). A thread that dies fails its task with
 * INTERNAL (retryable: the job is tried again) and is replaced by the pool.
 */
export class ImagePool {
  readonly threads: number;
  private readonly piscina: Piscina;
  private readonly busy: WeightedSemaphore;
  private closing: Promise<void> | undefined;

  constructor(options: ImagePoolOptions = {}) {
    this.threads = options.threads && options.threads > 0 ? options.threads : availableParallelism();
    this.busy = new WeightedSemaphore(this.threads);
    const entry = options.entryFile !== undefined
      ? { file: options.entryFile, execArgv: options.entryFile.endsWith('.ts') ? ['--require', 'tsx/cjs'] : [] }
      : threadEntry(__dirname, 'image-pool-thread');
    this.piscina = new Piscina({
      filename: entry.file,
      // The default task: piscina then finds it through require() (tsx's hook for sources).
      name: 'decode',
      execArgv: entry.execArgv,
      minThreads: this.threads,
      maxThreads: this.threads,
      // Threads stay: starting one costs far more than keeping it.
      idleTimeout: Number.POSITIVE_INFINITY,
    });
  }

  /** Tasks waiting for a thread. */
  get queued(): number {
    return this.piscina.queueSize;
  }

  /** Share of the pool's threads' time spent on tasks since it started (0–1). */
  get utilization(): number {
    return this.piscina.utilization;
  }

  /**
   * Decodes one upload in a pool thread. `task.bytes` is moved there (detached here afterwards); a
   * view onto a larger buffer is copied first, since a transfer moves the whole buffer.
   */
  async decode(task: DecodeTask, hooks: DecodeHooks = {}): Promise<DecodeOutcome> {
    if (this.closing) throw new RevmodError('SHUTTING_DOWN', 'the image pool is closed');
    const bytes = ownedBytes(task.bytes);
    // A task is handed over only when a thread is free, so that `onStart` marks exactly the images
    // being decoded (the poison guard depends on it); the wait is the pool's backpressure.
    await this.busy.acquire(1);
    try {
      await hooks.onStart?.();
      return (await this.piscina.run({ ...task, bytes }, { name: 'decode', transferList: [bytes.buffer as ArrayBuffer] })) as DecodeOutcome;
    } catch (err) {
      if (err instanceof RevmodError) throw err;
      throw new RevmodError('INTERNAL', `image pool thread failed: ${err instanceof Error ? err.message : String(err)}`, { cause: err });
    } finally {
      this.busy.release(1);
    }
  }

  /** sha256 of an upload, in a pool thread; the bytes are moved there and back. */
  async hash(bytes: Uint8Array): Promise<{ sha256: string; bytes: Uint8Array }> {
    if (this.closing) throw new RevmodError('SHUTTING_DOWN', 'the image pool is closed');
    const own = ownedBytes(bytes);
    try {
      return (await this.piscina.run({ bytes: own }, { name: 'hash', transferList: [own.buffer as ArrayBuffer] })) as { sha256: string; bytes: Uint8Array };
    } catch (err) {
      throw new RevmodError('INTERNAL', `image pool thread failed: ${err instanceof Error ? err.message : String(err)}`, { cause: err });
    }
  }

  /** Waits for the tasks in flight, then stops the threads. Safe to call more than once. */
  close(): Promise<void> {
    this.closing ??= this.piscina.close();
    return this.closing;
  }
}
