import { Worker } from 'bullmq';
import type { Redis } from 'ioredis';
import type { Logger } from 'pino';
import type { RevmodConfig } from '../config';
import { RevmodError, createRedisConnection, type ModerationJobData, type Verdict } from '@revmod/client';
import { InferenceEngine } from '../model/inference-engine';
import { loadModel, type LoadedModel } from '../model/load-model';
import { ioContractOf } from '../model/model-io';
import { checkPipelineCard, ModerationPipeline } from '../pipeline/moderation-pipeline';
import type { PipelineObserver } from '../pipeline/pipeline-observer';
import { StorageBreaker } from '../pipeline/storage-breaker';
import { VerdictPublisher } from '../pipeline/verdict-publisher';
import { validateThresholds, type PolicyThresholds } from '../policy';
import { S3ObjectStore, type ObjectStore } from '../storage';

export type WorkerState = 'idle' | 'starting' | 'ready' | 'draining' | 'closed';

/** A read-only snapshot of a worker, for readiness and metrics. */
export interface WorkerStatus {
  readonly state: WorkerState;
  /** Taking jobs: model loaded, Redis connected, intake not paused, not draining. */
  readonly ready: boolean;
  /** Why not ready, when it is not. */
  readonly notReadyReason: string | undefined;
  readonly model: { readonly name: string; readonly version: string; readonly sha256: string; readonly trained: boolean } | undefined;
  readonly thresholds: PolicyThresholds | undefined;
  /** The execution provider running batches, once the model is loaded. */
  readonly executionProvider: string | undefined;
  readonly inferenceRestarts: number;
  /** Epoch ms until which this worker's intake is paused (object store down), if it is. */
  readonly intakePausedUntilMs: number | undefined;
  /** Images decoded and waiting in the micro-batcher. */
  readonly pendingItems: number;
}

export interface ModerationWorkerDeps {
  readonly logger: Logger;
  readonly observer?: PipelineObserver;
  /** Defaults to S3 from config. */
  readonly store?: ObjectStore;
  /** The inference thread's entry file; tests substitute one that can crash on demand. */
  readonly inferenceThreadEntryFile?: string;
}

/** The model card's thresholds, overridden field by field by config. */
export function effectiveThresholds(config: RevmodConfig, model: LoadedModel): PolicyThresholds {
  const t: PolicyThresholds = {
    violate: config.policy.violateThreshold ?? model.card.thresholds.violate,
    confidence: config.policy.confidenceThreshold ?? model.card.thresholds.confidence,
    block: config.policy.blockThreshold !== undefined ? config.policy.blockThreshold : model.card.thresholds.block,
  };
  const problems = validateThresholds(t);
  if (problems.length > 0) throw new RevmodError('CONFIG_INVALID', `policy thresholds: ${problems.join('; ')}`);
  return t;
}

/**
 * A moderation worker: one BullMQ Worker feeding the batch pipeline, one inference thread.
 * `start()` loads the model and begins taking jobs; `close()` drains within a deadline. `close()`
 * may be called at any time, also while `start()` is loading the model: `start()` then stops
 * before opening Redis and rejects with SHUTTING_DOWN.
 */
export class ModerationWorker {
  private stateValue: WorkerState = 'idle';
  private connection: Redis | undefined;
  private worker: Worker<ModerationJobData, Verdict> | undefined;
  private engine: InferenceEngine | undefined;
  private publisher: VerdictPublisher | undefined;
  private store: ObjectStore | undefined;
  private pipeline: ModerationPipeline | undefined;
  private model: LoadedModel | undefined;
  private thresholds: PolicyThresholds | undefined;
  private starting: Promise<void> | undefined;
  private closing: Promise<{ forced: boolean }> | undefined;
  private inferenceStopped = false;
  private intakePausedUntil: number | undefined;
  /** Set when the worker stopped taking jobs for good (a broken model); only a restart clears it. */
  private stoppedReason: string | undefined;
  private resumeTimer: NodeJS.Timeout | undefined;

  constructor(readonly config: RevmodConfig, private readonly deps: ModerationWorkerDeps) {}

  get state(): WorkerState {
    return this.stateValue;
  }

  /** Ready to take jobs: model loaded, Redis connected, intake not paused, not draining. */
  get ready(): boolean {
    return this.notReadyReason() === undefined;
  }

  private notReadyReason(): string | undefined {
    if (this.stateValue !== 'ready') return this.stateValue;
    if (this.stoppedReason !== undefined) return this.stoppedReason;
    if (this.connection?.status !== 'ready') return `redis ${this.connection?.status ?? 'not connected'}`;
    if (this.intakePausedUntil !== undefined) return 'intake paused: object store unreachable from this worker';
    return undefined;
  }

  status(): WorkerStatus {
    const card = this.model?.card;
    return {
      state: this.stateValue,
      ready: this.ready,
      notReadyReason: this.notReadyReason(),
      model: card && this.model ? { name: card.name, version: card.version, sha256: this.model.sha256, trained: card.trained } : undefined,
      thresholds: this.thresholds,
      executionProvider: this.engine?.provider,
      inferenceRestarts: this.engine?.restartCount ?? 0,
      intakePausedUntilMs: this.intakePausedUntil,
      pendingItems: this.pipeline?.pendingItems ?? 0,
    };
  }

  /** The inference engine, for fault tests that watch its restarts. */
  get inferenceEngine(): InferenceEngine | undefined {
    return this.engine;
  }

  start(): Promise<void> {
    if (this.stateValue !== 'idle') return Promise.reject(new Error(`start() called in state ${this.stateValue}`));
    this.stateValue = 'starting';
    this.starting = this.doStart();
    return this.starting;
  }

  /** Throws SHUTTING_DOWN when close() was called meanwhile. */
  private checkNotClosing(): void {
    if (this.closing !== undefined) throw new RevmodError('SHUTTING_DOWN', 'the worker was closed while starting');
  }

  private async doStart(): Promise<void> {
    const { config } = this;
    const log = this.deps.logger;
    this.model = await loadModel(config.model.path);
    this.checkNotClosing();
    if (!this.model.card.trained && !config.model.allowUntrained) {
      throw new RevmodError('MODEL_INVALID', `the card of ${config.model.path} says trained: false (${this.model.card.name}@${this.model.card.version}): ` +
        'its verdicts would mean nothing. Point REVMOD_MODEL_PATH at a trained model, or set REVMOD_ALLOW_UNTRAINED_MODEL=true for a demo or test');
    }
    checkPipelineCard(this.model.card);
    this.thresholds = effectiveThresholds(config, this.model);
    this.engine = new InferenceEngine({
      modelPath: config.model.path,
      executionProvider: config.model.executionProvider,
      intraOpThreads: config.model.intraOpThreads,
      maxBatchSize: config.batch.size,
      contract: ioContractOf(this.model.card),
      ...(this.deps.inferenceThreadEntryFile !== undefined ? { threadEntryFile: this.deps.inferenceThreadEntryFile } : {}),
    });
    this.engine.on('fallback', (reason: string) => log.warn({ reason }, 'CUDA execution provider unavailable, running on CPU'));
    this.engine.on('restart', (reason: string) => log.error({ reason }, 'inference thread died; restarted it, batches in flight will be retried'));
    this.engine.on('error', (err: Error) => log.error({ err }, 'inference thread could not be restarted'));
    const engineInfo = await this.engine.start();
    this.checkNotClosing();
    const { card, sha256 } = this.model;
    log.info({
      model: { name: card.name, version: card.version, sha256, trained: card.trained, path: config.model.path },
      executionProvider: engineInfo.provider, requested: config.model.executionProvider,
      thresholds: this.thresholds, batchSize: config.batch.size, maxWaitMs: config.batch.maxWaitMs,
    }, `model ${card.name}@${card.version} loaded on ${engineInfo.provider}`);
    if (!card.trained) log.warn('serving an UNTRAINED model (REVMOD_ALLOW_UNTRAINED_MODEL=true): its verdicts mean nothing; bring your fine-tuned model (README "Model contract")');
    if (config.requests.allowedBuckets.length === 0) {
      log.warn('no bucket allow-list: jobs may name any bucket these S3 credentials can read; set REVMOD_ALLOWED_BUCKETS');
    }

    this.connection = createRedisConnection(config, 'worker');
    this.connection.on('error', (err: Error) => log.warn({ err: err.message }, 'redis connection error'));
    this.store = this.deps.store ?? new S3ObjectStore(config.s3);
    this.publisher = new VerdictPublisher(config, this.connection);
    this.pipeline = new ModerationPipeline({
      store: this.store,
      engine: this.engine,
      publisher: this.publisher,
      model: { name: card.name, version: card.version, sha256 },
      thresholds: this.thresholds,
      card,
      preprocess: { maxPixels: config.limits.maxPixels, allowSvg: config.limits.allowSvg, mode: config.model.preprocessMode },
      requestLimits: config.requests,
      maxBytes: config.limits.maxBytes,
      batchSize: config.batch.size,
      maxWaitMs: config.batch.maxWaitMs,
      logger: log,
      ...(this.deps.observer ? { observer: this.deps.observer } : {}),
      storageBreaker: new StorageBreaker(config.worker.storageFailureThreshold, config.worker.storagePauseMs),
      pauseIntake: (ms) => this.pauseIntake(ms),
      maxInvalidBatches: config.model.maxInvalidBatches,
      onModelBroken: (reason) => this.stopIntake(`model output invalid: ${reason}`),
    });
    const pipeline = this.pipeline;
    const concurrency = config.worker.concurrency > 0 ? config.worker.concurrency : 2 * config.batch.size;
    this.worker = new Worker<ModerationJobData, Verdict>(config.queues.moderation, (job, token) => pipeline.process(job, token), {
      connection: this.connection,
      prefix: config.redis.prefix,
      concurrency,
      lockDuration: config.worker.lockDurationMs,
      stalledInterval: config.worker.stalledIntervalMs,
      maxStalledCount: config.worker.maxStalledCount,
      autorun: true,
    });
    this.worker.on('error', (err) => log.warn({ err: err.message }, 'worker error'));
    this.worker.on('failed', (job, err) => {
      if (job && job.attemptsMade >= (job.opts.attempts ?? 1)) {
        log.error({ jobId: job.id, err: err.message }, 'job failed after its last attempt; it stays in the failed list for ops to retry');
      }
    });
    this.worker.on('stalled', (jobId) => log.warn({ jobId }, 'job stalled (its worker died or blocked); it will be retried'));
    await this.worker.waitUntilReady();
    this.checkNotClosing();
    this.stateValue = 'ready';
    log.info({ queue: config.queues.moderation, concurrency, prefix: config.redis.prefix }, 'worker ready');
  }

  /**
   * Stops this worker taking jobs for `ms` (the object store is unreachable from here); jobs in
   * flight go on. Readiness says why meanwhile. Other workers are not affected.
   */
  private pauseIntake(ms: number): void {
    const until = Date.now() + ms;
    if (this.intakePausedUntil !== undefined && this.intakePausedUntil >= until) return;
    const first = this.intakePausedUntil === undefined;
    this.intakePausedUntil = until;
    clearTimeout(this.resumeTimer);
    if (first) void this.worker?.pause(true);
    this.resumeTimer = setTimeout(() => {
      this.intakePausedUntil = undefined;
      if (this.closing === undefined && this.stoppedReason === undefined) this.worker?.resume();
    }, ms);
  }

  /** Stops taking jobs until the process restarts; readiness reports `reason`. */
  private stopIntake(reason: string): void {
    if (this.stoppedReason !== undefined) return;
    this.stoppedReason = reason;
    clearTimeout(this.resumeTimer);
    this.deps.logger.error({ reason }, 'worker stopped taking jobs; it reports not ready until restarted');
    void this.worker?.pause(true);
  }

  /**
   * Stops taking jobs, runs the partial batch, publishes what finished and closes connections.
   * Past `timeoutMs` it stops waiting: unfinished jobs keep their lock until it expires, then
   * another worker takes them (nothing is lost, they are only later). Calls after the first share
   * its drain and outcome.
   */
  close(timeoutMs = this.config.worker.shutdownTimeoutMs): Promise<{ forced: boolean }> {
    this.closing ??= this.doClose(timeoutMs);
    return this.closing;
  }

  private async doClose(timeoutMs: number): Promise<{ forced: boolean }> {
    const log = this.deps.logger;
    if (this.stateValue === 'idle') {
      this.stateValue = 'closed';
      return { forced: false };
    }
    this.stateValue = 'draining';
    clearTimeout(this.resumeTimer);
    // A start() in progress notices the close at its next step and stops; wait for it to get there.
    await this.starting?.catch(() => undefined);
    let forced = false;
    const graceful = (async () => {
      // Stop fetching and wait for every job already taken. Jobs still fetching or decoding join a
      // batch later: closing the batcher first would refuse them (SHUTTING_DOWN), handing them back
      // with an attempt used. Partial batches leave on their own after batch.maxWaitMs.
      await this.worker?.close();
      await this.pipeline?.drain();
    })();
    let timer: NodeJS.Timeout | undefined;
    const deadline = new Promise<'timeout'>((resolve) => { timer = setTimeout(() => resolve('timeout'), timeoutMs); });
    const outcome = await Promise.race([
      graceful.then(() => 'done' as const, (err: Error) => { log.error({ err: err.message }, 'error while draining'); return 'done' as const; }),
      deadline,
    ]);
    clearTimeout(timer);
    if (this.inferenceStopped) forced = true; // stopInference() cut the drain short
    if (outcome === 'timeout') {
      forced = true;
      log.warn({ timeoutMs }, 'drain deadline passed; closing now, unfinished jobs will be taken over when their locks expire');
      await this.worker?.close(true).catch(() => undefined);
    }
    await this.engine?.close();
    await this.publisher?.close().catch(() => undefined);
    this.store?.close();
    await this.connection?.quit().catch(() => this.connection?.disconnect());
    this.stateValue = 'closed';
    log.info({ forced }, 'worker closed');
    return { forced };
  }

  /**
   * For a forced exit (a second signal): stops the inference thread, waiting only for the batch it
   * is running (≤ `timeoutMs`), so that process.exit() does not abort inside onnxruntime. Jobs not
   * finished keep their locks and are taken over by another worker when those expire.
   */
  async stopInference(timeoutMs = 5_000): Promise<void> {
    this.inferenceStopped = true;
    await this.engine?.close(timeoutMs);
  }
}
