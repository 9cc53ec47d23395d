import { EventEmitter } from 'node:events';
import { Worker } from 'node:worker_threads';
import { RevmodError } from '@revmod/client';
import { tensorFloatsPerImage } from '../preprocess/constants';
import { threadEntry } from '../util/thread-entry';
import type { BatchBuffer, BatchResult, InferenceBackend } from './inference-backend';
import type { ExecutionProviderChoice, FromThread, InferenceThreadData, ToThread } from './inference-protocol';
import type { ModelIoContract } from './model-io';

export type { BatchBuffer } from './inference-backend';

export interface InferenceEngineOptions {
  readonly modelPath: string;
  /** `auto` tries CUDA and falls back to CPU (with `fallbackReason` set). Default `auto`. */
  readonly executionProvider?: ExecutionProviderChoice;
  /** onnxruntime intra-op threads; 0 lets it choose. Default 0. */
  readonly intraOpThreads?: number;
  /** Images per batch tensor. A model with a fixed batch axis smaller than this is refused at start. */
  readonly maxBatchSize: number;
  /**
   * The card's promise about the model's tensors (see `ioContractOf`): batch tensors hold
   * 3 × cropSize² floats per image, results classCount scores per image.
   */
  readonly contract: ModelIoContract;
  /** Batch tensors: one being inferred while the next is written. Default 2. */
  readonly bufferCount?: number;
  /** Longest wait for the thread to load the model. Default 120000. */
  readonly startTimeoutMs?: number;
  /**
   * The thread's entry file (.ts or .js). Default: the inference thread beside this module. Tests
   * point it at a wrapper that can crash on demand.
   */
  readonly threadEntryFile?: string;
}

export interface EngineInfo {
  readonly provider: 'cuda' | 'cpu';
  readonly fallbackReason?: string;
  readonly inputName: string;
  readonly outputName: string;
  /** Images per run the model takes: Infinity for a dynamic batch axis (a fixed one is padded to). */
  readonly maxBatch: number;
}


interface Pending {
  readonly index: number;
  resolve: (r: { logits: Float32Array; inferMs: number }) => void;
  reject: (e: Error) => void;
}

/**
 * Runs batches on an onnxruntime session in a worker thread. Batch tensors are preallocated and
 * moved (transferred, never copied) to the thread and back with each run. If the
 * thread dies, batches in flight fail with INFERENCE_FAILED (retryable) and a new thread is started.
 * Events: `restart` (reason), `fallback` (reason).
 */
export class InferenceEngine extends EventEmitter implements InferenceBackend {
  readonly options: Required<Omit<InferenceEngineOptions, 'threadEntryFile'>> & Pick<InferenceEngineOptions, 'threadEntryFile'>;
  private readonly buffers: ArrayBuffer[];
  private readonly bufferBytes: number;
  private readonly free: number[];
  private readonly waiters: Array<(b: BatchBuffer) => void> = [];
  private readonly pending = new Map<number, Pending>();
  private worker: Worker | undefined;
  private ready: Promise<EngineInfo> | undefined;
  private nextId = 1;
  private closed = false;
  private restarts = 0;
  /** Set by close() while it waits for the batches in flight. */
  private onSettled: (() => void) | undefined;
  info: EngineInfo | undefined;

  constructor(options: InferenceEngineOptions) {
    super();
    this.options = { executionProvider: 'auto', intraOpThreads: 0, bufferCount: 2, startTimeoutMs: 120_000, ...options };
    this.bufferBytes = this.options.maxBatchSize * tensorFloatsPerImage(this.options.contract.cropSize) * Float32Array.BYTES_PER_ELEMENT;
    this.buffers = Array.from({ length: this.options.bufferCount }, () => new ArrayBuffer(this.bufferBytes));
    this.free = this.buffers.map((_, i) => i);
  }

  get bufferCount(): number {
    return this.options.bufferCount;
  }

  get provider(): string | undefined {
    return this.info?.provider;
  }

  get restartCount(): number {
    return this.restarts;
  }

  /** Starts the thread and loads the model; resolves with the provider actually in use. */
  start(): Promise<EngineInfo> {
    this.ready ??= this.spawn();
    return this.ready;
  }

  private spawn(): Promise<EngineInfo> {
    const entry = this.options.threadEntryFile !== undefined
      ? { file: this.options.threadEntryFile, execArgv: this.options.threadEntryFile.endsWith('.ts') ? ['--require', 'tsx/cjs'] : [] }
      : threadEntry(__dirname, 'inference-thread');
    const worker = new Worker(entry.file, {
      execArgv: entry.execArgv,
      workerData: {
        modelPath: this.options.modelPath,
        executionProvider: this.options.executionProvider,
        intraOpThreads: this.options.intraOpThreads,
        contract: this.options.contract,
        batchSize: this.options.maxBatchSize,
      } satisfies InferenceThreadData,
    });
    this.worker = worker;
    return new Promise<EngineInfo>((resolve, reject) => {
      let started = false;
      const timer = setTimeout(() => {
        if (!started) {
          reject(new RevmodError('MODEL_INVALID', `inference thread did not load ${this.options.modelPath} within ${this.options.startTimeoutMs} ms`));
          void worker.terminate();
        }
      }, this.options.startTimeoutMs);
      worker.on('message', (msg: FromThread) => {
        switch (msg.type) {
          case 'ready': {
            started = true;
            clearTimeout(timer);
            const info: EngineInfo = {
              provider: msg.provider, inputName: msg.inputName, outputName: msg.outputName, maxBatch: msg.maxBatch,
              ...(msg.fallbackReason ? { fallbackReason: msg.fallbackReason } : {}),
            };
            this.info = info;
            if (msg.fallbackReason) this.emit('fallback', msg.fallbackReason);
            resolve(info);
            break;
          }
          case 'init-error':
            clearTimeout(timer);
            reject(new RevmodError('MODEL_INVALID', `cannot load model ${this.options.modelPath}: ${msg.message}`));
            void worker.terminate();
            break;
          case 'result':
            this.settle(msg.id, msg.data, (p) => p.resolve({ logits: msg.logits, inferMs: msg.inferMs }));
            break;
          case 'run-error':
            this.settle(msg.id, msg.data, (p) => p.reject(new RevmodError('INFERENCE_FAILED', `inference failed: ${msg.message}`)));
            break;
        }
      });
      worker.on('error', (err) => this.onThreadGone(worker, `inference thread error: ${err.message}`, started, reject));
      worker.on('exit', (code) => this.onThreadGone(worker, `inference thread exited with code ${code}`, started, reject));
    });
  }

  private settle(id: number, data: ArrayBuffer, fn: (p: Pending) => void): void {
    const p = this.pending.get(id);
    if (!p) return;
    this.pending.delete(id);
    this.buffers[p.index] = data; // the batch tensor is back
    fn(p);
    if (this.pending.size === 0) this.onSettled?.();
  }

  /** A batch tensor that went down with its thread is replaced. */
  private lose(p: Pending): void {
    this.buffers[p.index] = new ArrayBuffer(this.bufferBytes);
  }

  private onThreadGone(worker: Worker, reason: string, started: boolean, reject: (e: Error) => void): void {
    if (this.worker !== worker) return; // already handled (error then exit)
    this.worker = undefined;
    for (const [id, p] of this.pending) {
      this.pending.delete(id);
      this.lose(p);
      p.reject(new RevmodError('INFERENCE_FAILED', reason));
    }
    this.onSettled?.();
    if (!started) {
      reject(new RevmodError('MODEL_INVALID', `${reason} while loading ${this.options.modelPath}`));
      return;
    }
    if (this.closed) return;
    this.restarts += 1;
    this.emit('restart', reason);
    // A thread that loaded once will load again; later batches wait on the new one.
    this.ready = this.spawn();
    this.ready.catch((err: Error) => this.emit('error', err));
  }

  /** Waits for a free batch tensor (backpressure: at most bufferCount batches in flight). */
  acquire(): Promise<BatchBuffer> {
    const index = this.free.pop();
    if (index !== undefined) return Promise.resolve(this.bufferAt(index));
    return new Promise((resolve) => this.waiters.push(resolve));
  }

  /** True when a batch tensor is free now. */
  get hasFreeBuffer(): boolean {
    return this.free.length > 0;
  }

  private bufferAt(index: number): BatchBuffer {
    return { index, view: new Float32Array(this.buffers[index]!) };
  }

  /** Gives a batch tensor back once its run has settled. */
  release(buffer: BatchBuffer): void {
    const waiter = this.waiters.shift();
    if (waiter) waiter(this.bufferAt(buffer.index));
    else this.free.push(buffer.index);
  }

  /** Infers the first `count` images of a batch tensor; resolves with [count, classCount] scores, row-major. */
  async run(buffer: BatchBuffer, count: number): Promise<BatchResult> {
    if (this.closed) throw new RevmodError('SHUTTING_DOWN', 'inference engine is closed');
    await this.start();
    if (this.closed) throw new RevmodError('SHUTTING_DOWN', 'inference engine is closed');
    const worker = this.worker;
    if (!worker) throw new RevmodError('INFERENCE_FAILED', 'inference thread is not running');
    const id = this.nextId++;
    const data = this.buffers[buffer.index]!;
    return new Promise((resolve, reject) => {
      this.pending.set(id, { index: buffer.index, resolve, reject });
      const msg: ToThread = { type: 'run', id, data, count };
      worker.postMessage(msg, [data]);
    });
  }

  /**
   * Stops the thread. A batch being inferred is waited for first (up to `settleTimeoutMs`): a thread
   * torn down while inside onnxruntime's run() aborts the whole process (the binding throws a C++
   * exception when the call returns into a terminated thread), and so would process.exit().
   */
  async close(settleTimeoutMs = 10_000): Promise<void> {
    this.closed = true;
    if (this.pending.size > 0 && this.worker !== undefined) {
      let timer: NodeJS.Timeout | undefined;
      await Promise.race([
        new Promise<void>((resolve) => { this.onSettled = resolve; }),
        new Promise<void>((resolve) => { timer = setTimeout(resolve, settleTimeoutMs); }),
      ]);
      clearTimeout(timer);
      this.onSettled = undefined;
    }
    const worker = this.worker;
    this.worker = undefined;
    for (const [id, p] of this.pending) {
      this.pending.delete(id);
      this.lose(p);
      p.reject(new RevmodError('SHUTTING_DOWN', 'inference engine closed'));
    }
    if (worker) await worker.terminate();
  }
}
