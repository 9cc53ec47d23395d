import { EventEmitter } from 'node:events';
import { Worker } from 'node:worker_threads';
import { RevmodError } from '@revmod/client';
import { threadEntry } from '../util/thread-entry';
import type { BatchResult, InferenceBackend } from './inference-backend';
import { describeAttempts, type ExecutionProviderChoice, type ExecutionProviderName, type ProviderAttempt, type WebGpuLayout } from './execution-providers';
import type { FromThread, InferenceThreadData, ToThread } from './inference-protocol';
import type { ModelIoContract } from './model-io';

export interface InferenceEngineOptions {
  readonly modelPath: string;
  /**
   * `auto` tries cuda, then webgpu (only with a GPU device node), then cpu, and reports each step that
   * failed (`fallbacks`). A named GPU provider is the only one tried at start; a thread restarted
   * after its GPU was lost falls back to cpu. @defaultValue 'auto'
   */
  readonly executionProvider?: ExecutionProviderChoice;
  /** The WebGPU provider's layout for its convolutions (the model's input stays NCHW). @defaultValue 'NCHW' */
  readonly webgpuLayout?: WebGpuLayout;
  /**
   * Batch sizes run once with zeros when a GPU session loads: the first run compiles the shaders and
   * proves the device works (a provider whose warm-up fails is released and the next one tried).
   * @defaultValue [1]
   */
  readonly warmUpSizes?: readonly number[];
  /**
   * On a GPU provider, run a partial batch padded to the smallest warm-up size that holds it (the
   * largest batch is then warmed up too), so that no batch shape is first seen while serving.
   * @defaultValue false
   */
  readonly padToWarmUpSizes?: boolean;
  /** onnxruntime intra-op threads; 0 lets it choose. @defaultValue 0 */
  readonly intraOpThreads?: number;
  /** Most images per run. A model with a fixed batch axis smaller than this is refused at start. */
  readonly maxBatchSize: number;
  /** The card's promise about the model's tensors (see `ioContractOf`). */
  readonly contract: ModelIoContract;
  /** Batches in flight: one inferring while the next is gathered. @defaultValue 2 */
  readonly maxInFlight?: number;
  /** Longest wait for a thread to load the model. @defaultValue 120000 */
  readonly startTimeoutMs?: number;
  /**
   * Longest one run may take. onnxruntime cannot cancel a run, and terminating a thread inside one
   * aborts the process, so a late run's thread is abandoned (left to finish, then terminated) and a
   * fresh thread takes the next batches; the late batch fails with INFERENCE_FAILED (retried).
   * 0: no deadline. @defaultValue 0
   */
  readonly runTimeoutMs?: number;
  /**
   * Abandoned threads that may still be stuck at once; one more late run means the engine cannot be
   * recreated safely (it emits `fatal`). @defaultValue 1
   */
  readonly maxAbandonedThreads?: number;
  /** The thread's entry file (.ts or .js). Tests point it at a wrapper that can crash or stall on demand. */
  readonly threadEntryFile?: string;
}

export interface EngineInfo {
  readonly provider: ExecutionProviderName;
  /** The providers tried before `provider`, each with why it was not used (in order). */
  readonly fallbacks: readonly ProviderAttempt[];
  /** `fallbacks` in one line, when there are any. */
  readonly fallbackReason?: string;
  /** ms of each warm-up run, by batch size (GPU providers). */
  readonly warmUpMs: Readonly<Record<number, number>>;
  readonly inputName: string;
  readonly outputName: string;
  /** Images per run the model takes: Infinity for a dynamic batch axis (a fixed one is padded to). */
  readonly maxBatch: number;
}

interface Pending {
  readonly thread: Worker;
  readonly timer: NodeJS.Timeout | undefined;
  resolve: (r: BatchResult) => void;
  reject: (e: Error) => void;
}

type ResolvedOptions = Required<Omit<InferenceEngineOptions, 'threadEntryFile'>> & Pick<InferenceEngineOptions, 'threadEntryFile'>;

/**
 * Runs batches on an onnxruntime session in a worker thread. Each image's tensor is moved
 * (transferred, never copied) to the thread, which gathers the batch. If the thread dies, batches
 * in flight fail with INFERENCE_FAILED (retryable) and a new thread is started; a run past its
 * deadline is handled the same way, its thread abandoned.
 * A GPU provider that reports its device lost is treated as a dead thread: its batches fail
 * (retryable) and a new thread tries the providers again, ending on CPU if the GPU is gone.
 * Events: `restart` (reason), `fallback` (reason, attempt: one per provider not used, at each
 * start), `error` (a thread could not be started again),
 * `fatal` (reason: the engine cannot go on; the process should exit and be restarted).
 */
export class InferenceEngine extends EventEmitter implements InferenceBackend {
  readonly options: ResolvedOptions;
  private readonly pending = new Map<number, Pending>();
  private worker: Worker | undefined;
  private ready: Promise<EngineInfo> | undefined;
  /** Threads left running past a deadline: terminated once their run returns. */
  private readonly abandoned = new Set<Worker>();
  private nextId = 1;
  private closed = false;
  private restarts = 0;
  private readonly notUsed: Record<string, number> = {};
  /** Set by close() while it waits for the batches in flight. */
  private onSettled: (() => void) | undefined;
  info: EngineInfo | undefined;

  constructor(options: InferenceEngineOptions) {
    super();
    this.options = {
      executionProvider: 'auto', webgpuLayout: 'NCHW', warmUpSizes: [1], padToWarmUpSizes: false, intraOpThreads: 0, maxInFlight: 2,
      startTimeoutMs: 120_000, runTimeoutMs: 0, maxAbandonedThreads: 1, ...options,
    };
  }

  get maxInFlight(): number {
    return this.options.maxInFlight;
  }

  get provider(): ExecutionProviderName | undefined {
    return this.info?.provider;
  }

  get restartCount(): number {
    return this.restarts;
  }

  /** Times each provider was tried (or ruled out) and not used, over every thread start. */
  get providerFallbacks(): Readonly<Record<string, number>> {
    return { ...this.notUsed };
  }

  /** Threads abandoned past a deadline that have not returned yet. */
  get abandonedThreads(): number {
    return this.abandoned.size;
  }

  /** Starts the thread and loads the model; resolves with the provider actually in use. */
  start(): Promise<EngineInfo> {
    this.ready ??= this.spawn(false);
    return this.ready;
  }

  private spawn(restart: boolean): Promise<EngineInfo> {
    const entry = this.options.threadEntryFile !== undefined
      ? { file: this.options.threadEntryFile, execArgv: this.options.threadEntryFile.endsWith('.ts') ? ['--require', 'tsx/cjs'] : [] }
      : threadEntry(__dirname, 'inference-thread');
    const worker = new Worker(entry.file, {
      execArgv: entry.execArgv,
      workerData: {
        modelPath: this.options.modelPath,
        executionProvider: this.options.executionProvider,
        restart,
        intraOpThreads: this.options.intraOpThreads,
        webgpuLayout: this.options.webgpuLayout,
        contract: this.options.contract,
        batchSize: this.options.maxBatchSize,
        warmUpSizes: this.options.warmUpSizes,
        padToWarmUpSizes: this.options.padToWarmUpSizes,
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
        if (this.abandoned.has(worker)) {
          // Its late run returned: it is outside onnxruntime now, so it can be terminated safely.
          this.abandoned.delete(worker);
          void worker.terminate();
          return;
        }
        switch (msg.type) {
          case 'ready': {
            started = true;
            clearTimeout(timer);
            const info: EngineInfo = {
              provider: msg.provider, fallbacks: msg.fallbacks, inputName: msg.inputName, outputName: msg.outputName, maxBatch: msg.maxBatch, warmUpMs: msg.warmUpMs,
              ...(msg.fallbacks.length > 0 ? { fallbackReason: describeAttempts(msg.fallbacks) } : {}),
            };
            this.info = info;
            for (const attempt of msg.fallbacks) {
              this.notUsed[attempt.provider] = (this.notUsed[attempt.provider] ?? 0) + 1;
              this.emit('fallback', attempt.reason, attempt);
            }
            resolve(info);
            break;
          }
          case 'init-error':
            clearTimeout(timer);
            reject(new RevmodError('MODEL_INVALID', `cannot load model ${this.options.modelPath}: ${msg.message}`));
            void worker.terminate();
            break;
          case 'result':
            this.settle(msg.id, (p) => p.resolve({ logits: msg.logits, inferMs: msg.inferMs, provider: msg.provider }));
            break;
          case 'device-lost':
            // The thread runs nothing more (it answers later batches with errors), so it can be terminated now.
            if (this.worker !== worker) break;
            this.worker = undefined;
            this.failRunsOf(worker, `inference failed: ${msg.message}`);
            void worker.terminate();
            this.replaceThread(msg.message);
            break;
          case 'run-error':
            this.settle(msg.id, (p) => p.reject(new RevmodError('INFERENCE_FAILED', `inference failed: ${msg.message}`)));
            break;
        }
      });
      worker.on('error', (err) => this.onThreadGone(worker, `inference thread error: ${err.message}`, started, reject));
      worker.on('exit', (code) => this.onThreadGone(worker, `inference thread exited with code ${code}`, started, reject));
    });
  }

  private settle(id: number, fn: (p: Pending) => void): void {
    const p = this.pending.get(id);
    if (!p) return;
    this.pending.delete(id);
    clearTimeout(p.timer);
    fn(p);
    if (this.pending.size === 0) this.onSettled?.();
  }

  /** Fails every run sent to `thread` (it died or was abandoned). */
  private failRunsOf(thread: Worker, reason: string): void {
    for (const [id, p] of this.pending) {
      if (p.thread !== thread) continue;
      this.pending.delete(id);
      clearTimeout(p.timer);
      p.reject(new RevmodError('INFERENCE_FAILED', reason));
    }
    if (this.pending.size === 0) this.onSettled?.();
  }

  private onThreadGone(worker: Worker, reason: string, started: boolean, reject: (e: Error) => void): void {
    if (this.abandoned.delete(worker)) return; // an abandoned thread ended: nothing of it is in use
    if (this.worker !== worker) return; // already handled (error then exit)
    this.worker = undefined;
    this.failRunsOf(worker, reason);
    if (!started) {
      reject(new RevmodError('MODEL_INVALID', `${reason} while loading ${this.options.modelPath}`));
      return;
    }
    this.replaceThread(reason);
  }

  /** A thread that loaded once will load again; later batches wait on the new one. */
  private replaceThread(reason: string): void {
    if (this.closed) return;
    this.restarts += 1;
    // Spawned before `restart` is emitted, so that a listener's start() waits for the new thread.
    this.ready = this.spawn(true);
    this.ready.catch((err: Error) => {
      this.emit('error', err);
      this.emit('fatal', `the inference thread could not be started again: ${err.message}`);
    });
    this.emit('restart', reason);
  }

  /** A run outlived its deadline: its thread is abandoned (never terminated inside a run) and replaced. */
  private onDeadline(id: number): void {
    const p = this.pending.get(id);
    if (!p || this.worker !== p.thread) return;
    const thread = p.thread;
    this.worker = undefined;
    this.abandoned.add(thread);
    const reason = `inference run exceeded ${this.options.runTimeoutMs} ms: its thread was abandoned and a fresh one takes the next batches`;
    this.failRunsOf(thread, reason);
    if (this.abandoned.size > this.options.maxAbandonedThreads) {
      this.emit('fatal', `${this.abandoned.size} inference threads are stuck past their deadline`);
      return;
    }
    this.replaceThread(reason);
  }

  async run(images: readonly Float32Array[]): Promise<BatchResult> {
    if (this.closed) throw new RevmodError('SHUTTING_DOWN', 'inference engine is closed');
    await this.start();
    if (this.closed) throw new RevmodError('SHUTTING_DOWN', 'inference engine is closed');
    const thread = this.worker;
    if (!thread) throw new RevmodError('INFERENCE_FAILED', 'inference thread is not running');
    const id = this.nextId++;
    const buffers = images.map((image) => {
      // Transferring moves the whole ArrayBuffer: a view onto part of a larger one is copied first.
      const whole = image.byteOffset === 0 && image.byteLength === image.buffer.byteLength && image.buffer instanceof ArrayBuffer;
      return whole ? (image.buffer as ArrayBuffer) : image.slice().buffer;
    });
    return new Promise((resolve, reject) => {
      const timer = this.options.runTimeoutMs > 0 ? setTimeout(() => this.onDeadline(id), this.options.runTimeoutMs) : undefined;
      this.pending.set(id, { thread, timer, resolve, reject });
      const msg: ToThread = { type: 'run', id, images: buffers };
      thread.postMessage(msg, buffers);
    });
  }

  /**
   * Stops the thread. A batch being inferred is waited for first (up to `settleTimeoutMs`): a thread
   * torn down while inside onnxruntime's run() aborts the whole process (the binding throws a C++
   * exception when the call returns into a terminated thread), and so would process.exit().
   * Abandoned threads still stuck are left alone for the same reason.
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
      clearTimeout(p.timer);
      p.reject(new RevmodError('SHUTTING_DOWN', 'inference engine closed'));
    }
    if (worker) await worker.terminate();
  }
}
