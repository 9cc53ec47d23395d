/**
 * The OCR pool: PaddleOCR in worker threads of its own (piscina), so that a burst of text images
 * queues OCR work here and never occupies the main thread, the decode pool or the classifier's
 * inference thread. Bounded in threads and in queued tasks.
 */
import { availableParallelism } from 'node:os';
import { Piscina } from 'piscina';
import { RevmodError } from '@revmod/client';
import { threadEntry } from '../../util/thread-entry';
import { integerIn, resolveOptions } from '../options';
import type { PixelView } from '../types';
import type { OcrTask, OcrTaskResult } from './ocr-protocol';
import { resolveOcrEngineOptions, type OcrEngineOptions } from './paddle-ocr';

export interface OcrPoolOptions {
  /**
   * OCR threads. Each holds its own PaddleOCR sessions (~100 MB) and runs one image at a time.
   * @defaultValue 1
   */
  readonly threads: number;
  /**
   * Images that may wait for a thread; beyond it `recognise` fails with OCR_OVERLOADED (retryable),
   * so a flood of text images backs up into the queue rather than into memory.
   * @defaultValue 64
   */
  readonly maxQueued: number;
  /**
   * ONNX Runtime threads inside each OCR thread.
   * @defaultValue 1
   */
  readonly intraOpThreads: number;
}

export const DEFAULT_OCR_POOL_OPTIONS: OcrPoolOptions = Object.freeze({ threads: 1, maxQueued: 64, intraOpThreads: 1 });

export interface OcrPoolStats {
  readonly threads: number;
  readonly queued: number;
  readonly completed: number;
}

export class OcrPool {
  readonly options: OcrPoolOptions;
  private readonly pool: Piscina;
  private closing: Promise<void> | undefined;

  constructor(options?: Partial<OcrPoolOptions>) {
    this.options = resolveOptions('ocrPool', DEFAULT_OCR_POOL_OPTIONS, options, {
      threads: integerIn(1, Math.max(1, availableParallelism() * 2)),
      maxQueued: integerIn(0, 1_000_000),
      intraOpThreads: integerIn(1, 64),
    });
    const entry = threadEntry(__dirname, 'ocr-thread');
    this.pool = new Piscina({
      filename: entry.file,
      execArgv: entry.execArgv,
      minThreads: this.options.threads,
      maxThreads: this.options.threads,
      maxQueue: this.options.maxQueued,
      // Threads keep their sessions: never let idleness tear them down.
      idleTimeout: 2 ** 31 - 1,
    });
  }

  /** Reads the text of an image (RGB or grey view). The view is copied to the thread. */
  async recognise(view: PixelView, options?: Partial<OcrEngineOptions>): Promise<OcrTaskResult> {
    if (this.closing !== undefined) throw new RevmodError('SHUTTING_DOWN', 'the OCR pool is closed');
    const task: OcrTask = { view, options: resolveOcrEngineOptions(options), submittedAtMs: Date.now(), intraOpThreads: this.options.intraOpThreads };
    try {
      return (await this.pool.run(task)) as OcrTaskResult;
    } catch (err) {
      if (err instanceof Error && /queue is at limit/i.test(err.message)) {
        throw new RevmodError('OCR_OVERLOADED', `OCR queue full (${this.options.maxQueued} waiting for ${this.options.threads} thread(s))`, { cause: err });
      }
      if (this.closing !== undefined) throw new RevmodError('SHUTTING_DOWN', 'the OCR pool closed before the image was read', { cause: err });
      throw new RevmodError('OCR_FAILED', `OCR failed: ${err instanceof Error ? err.message : String(err)}`, { cause: err });
    }
  }

  get stats(): OcrPoolStats {
    return { threads: this.pool.threads.length, queued: this.pool.queueSize, completed: this.pool.completed };
  }

  /** Lets running reads finish, rejects queued ones, stops the threads. Safe to call more than once. */
  close(): Promise<void> {
    this.closing ??= this.pool.close({ force: true });
    return this.closing;
  }
}
