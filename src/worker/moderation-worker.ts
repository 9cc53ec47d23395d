import { Worker, type Job } from 'bullmq';
import type { Redis } from 'ioredis';
import type { Logger } from 'pino';
import type { RevmodConfig } from '../config';
import { RevmodError } from '../errors';
import { InferenceEngine, type EngineInfo } from '../model/inference-engine';
import { loadModel, type LoadedModel } from '../model/load-model';
import { ioContractOf } from '../model/model-io';
import { checkPipelineCard, ModerationPipeline } from '../pipeline/moderation-pipeline';
import type { PipelineObserver } from '../pipeline/pipeline-observer';
import { StorageBreaker } from '../pipeline/storage-breaker';
import { VerdictPublisher } from '../pipeline/verdict-publisher';
import { validateThresholds, type PolicyThresholds } from '../policy';
import { createRedisConnection } from '../queue/redis-connection';
import type { ModerationJobData, Verdict } from '../queue/types';
import { S3ObjectStore, type ObjectStore } from '../storage';

export type WorkerState = 'idle' | 'starting' | 'ready' | 'draining' | 'closed';

export interface ModerationWorkerDeps {
  readonly logger: Logger;
  readonly observer?: PipelineObserver;
  /** Defaults to S3 from config. */
  readonly store?: ObjectStore;
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
 * `start()` loads the model and begins taking jobs; `close()` drains within a deadline.
 */
export class ModerationWorker {
  private stateValue: WorkerState = 'idle';
  private connection: Redis | undefined;
  private worker: Worker<ModerationJobData, Verdict> | undefined;
  private engine: InferenceEngine | undefined;
  private publisher: VerdictPublisher | undefined;
  private store: ObjectStore | undefined;
  private pipeline: ModerationPipeline | undefined;
  private inferenceStopped = false;
  model: LoadedModel | undefined;
  engineInfo: EngineInfo | undefined;
  thresholds: PolicyThresholds | undefined;

  constructor(readonly config: RevmodConfig, private readonly deps: ModerationWorkerDeps) {}

  get state(): WorkerState {
    return this.stateValue;
  }

  /** Ready to take jobs: model loaded, Redis connected, not draining. */
  get ready(): boolean {
    return this.stateValue === 'ready' && this.connection?.status === 'ready';
  }

  get bullWorker(): Worker<ModerationJobData, Verdict> | undefined {
    return this.worker;
  }

  get inferenceEngine(): InferenceEngine | undefined {
    return this.engine;
  }

  async start(): Promise<void> {
    if (this.stateValue !== 'idle') throw new Error(`start() called in state ${this.stateValue}`);
    this.stateValue = 'starting';
    const { config } = this;
    const log = this.deps.logger;
    try {
      this.model = await loadModel(config.model.path);
      checkPipelineCard(this.model.card);
      this.thresholds = effectiveThresholds(config, this.model);
      this.engine = new InferenceEngine({
        modelPath: config.model.path,
        executionProvider: config.model.executionProvider,
        intraOpThreads: config.model.intraOpThreads,
        maxBatchSize: config.batch.size,
        contract: ioContractOf(this.model.card),
      });
      this.engine.on('fallback', (reason: string) => log.warn({ reason }, 'CUDA execution provider unavailable, running on CPU'));
      this.engine.on('restart', (reason: string) => log.error({ reason }, 'inference thread died; restarted it, batches in flight will be retried'));
      this.engine.on('error', (err: Error) => log.error({ err }, 'inference thread could not be restarted'));
      this.engineInfo = await this.engine.start();
    } catch (err) {
      await this.engine?.close();
      this.stateValue = 'closed';
      throw err;
    }
    const { card, sha256 } = this.model;
    log.info({
      model: { name: card.name, version: card.version, sha256, trained: card.trained, path: config.model.path },
      executionProvider: this.engineInfo.provider, requested: config.model.executionProvider,
      thresholds: this.thresholds, batchSize: config.batch.size, maxWaitMs: config.batch.maxWaitMs,
    }, `model ${card.name}@${card.version} loaded on ${this.engineInfo.provider}`);
    if (!card.trained) log.warn('the model card says this model is UNTRAINED: its verdicts mean nothing; bring your fine-tuned model (README "Model contract")');
    if (config.s3.allowedBuckets.length === 0) {
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
      requestLimits: { allowedBuckets: config.s3.allowedBuckets, maxMetaBytes: config.limits.maxMetaBytes },
      maxBytes: config.limits.maxBytes,
      batchSize: config.batch.size,
      maxWaitMs: config.batch.maxWaitMs,
      logger: log,
      ...(this.deps.observer ? { observer: this.deps.observer } : {}),
      storageBreaker: new StorageBreaker(config.worker.storageFailureThreshold, config.worker.storagePauseMs),
      pauseIntake: async (ms) => { await this.worker?.rateLimit(ms); },
    });
    const pipeline = this.pipeline;
    const concurrency = config.worker.concurrency > 0 ? config.worker.concurrency : 2 * config.batch.size;
    this.worker = new Worker<ModerationJobData, Verdict>(config.queues.moderation, (job: Job<ModerationJobData, Verdict>) => pipeline.process(job), {
      connection: this.connection,
      prefix: config.redis.prefix,
      concurrency,
      lockDuration: config.worker.lockDurationMs,
      stalledInterval: config.worker.stalledIntervalMs,
      maxStalledCount: config.worker.maxStalledCount,
      // No real limit: BullMQ honours a manual rateLimit() (the storage-outage pause) only when a
      // limiter is configured.
      limiter: { max: 1_000_000_000, duration: 1_000 },
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
    this.stateValue = 'ready';
    log.info({ queue: config.queues.moderation, concurrency, prefix: config.redis.prefix }, 'worker ready');
  }

  /**
   * Stops taking jobs, runs the partial batch, publishes what finished and closes connections.
   * Past `timeoutMs` it stops waiting: unfinished jobs keep their lock until it expires, then
   * another worker takes them (nothing is lost, they are only later).
   */
  async close(timeoutMs = this.config.worker.shutdownTimeoutMs): Promise<{ forced: boolean }> {
    if (this.stateValue === 'closed' || this.stateValue === 'draining') return { forced: false };
    this.stateValue = 'draining';
    const log = this.deps.logger;
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
