import { readFileSync } from 'node:fs';
import { totalmem } from 'node:os';
import { Worker } from 'bullmq';
import type { Redis } from 'ioredis';
import type { Logger } from 'pino';
import type { RevmodConfig } from '../config';
import { ModerationClient, RevmodError, createRedisConnection, signVerdict, type ModerationJobData, type Verdict } from '@revmod/client';
import { clientConfigOf } from '../config';
import { KnownLists } from '../known/known-lists';
import { ListRequestWorker } from '../known/list-request-worker';
import { InferenceEngine } from '../model/inference-engine';
import type { ProviderAttempt } from '../model/execution-providers';
import { loadModel, type LoadedModel } from '../model/load-model';
import { ioContractOf } from '../model/model-io';
import { ModerationPipeline } from '../pipeline/moderation-pipeline';
import { NORMAL_GROUP } from '../model/model-card';
import type { PipelineObserver } from '../pipeline/pipeline-observer';
import { StorageBreaker } from '../pipeline/storage-breaker';
import { VerdictPublisher } from '../pipeline/verdict-publisher';
import { compilePolicy, DEFAULT_RULES, readPolicyFile, SENSITIVITY_PRESETS, validateThresholds, type Policy, type PolicyThresholds } from '../policy';
import { ImagePool } from '../pool/image-pool';
import { WeightedSemaphore } from '../util/weighted-semaphore';
import { CrashGuard } from '../pipeline/crash-guard';
import type { OcrPool } from '../detectors/text/ocr-pool';
import { workerDetectors } from './detector-setup';
import { S3ObjectStore, type ObjectStore } from '../storage';
import { createS3Client } from '../storage/s3-object-store';
import { modelAliasChannel, ModelSource, type AliasMoved } from '../model/model-source';
import type { ModelCard } from '../model/model-card';
import type { S3Client } from '@aws-sdk/client-s3';
import { listStoreOf } from '../known/list-store';
import { RedisKnownImages } from '../known/redis-known-images';
import { verdictCacheOf } from '../known/verdict-cache';
import { ShadowLane, type ShadowStatus } from './shadow-lane';

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
  readonly policy: { readonly name: string; readonly version: string } | undefined;
  /** The execution provider running batches, once the model is loaded. */
  readonly executionProvider: string | undefined;
  /** Times each execution provider was tried (or ruled out) and not used, over every inference-thread start. */
  readonly executionProviderFallbacks: Readonly<Record<string, number>>;
  readonly inferenceRestarts: number;
  /** Epoch ms until which this worker's intake is paused (object store down), if it is. */
  readonly intakePausedUntilMs: number | undefined;
  /** Images decoded and waiting in the micro-batcher. */
  readonly pendingItems: number;
  /** REVMOD_MODEL_PATH when it is a registry reference the worker follows. */
  readonly modelReference: string | undefined;
  /** Model swaps since start (alias moves followed). */
  readonly modelReloads: number;
  /** The last reload that failed (the previous model kept serving), and why. */
  readonly lastReloadError: { readonly at: string; readonly version: string | undefined; readonly message: string } | undefined;
  /** Shadow scoring with the challenger alias (see ShadowLane). */
  readonly shadow: ShadowStatus | undefined;
}

/** What a reload did. */
export type ReloadOutcome =
  | { readonly kind: 'unchanged'; readonly version: string }
  | { readonly kind: 'swapped'; readonly from: string; readonly to: string }
  | { readonly kind: 'failed'; readonly version: string | undefined; readonly message: string };

export interface ModerationWorkerDeps {
  readonly logger: Logger;
  readonly observer?: PipelineObserver;
  /** Defaults to S3 from config. */
  readonly store?: ObjectStore;
  /** The inference thread's entry file; tests substitute one that can crash on demand. */
  readonly inferenceThreadEntryFile?: string;
  /** The image pool's thread entry file; tests substitute one that can crash on demand. */
  readonly poolEntryFile?: string;
  /** The worker cannot go on (its inference engine is stuck or gone): the entry point should exit non-zero. */
  readonly onFatal?: (reason: string) => void;
}

/**
 * The thresholds in force: the model card's, then the policy file's, then the sensitivity preset,
 * then config's explicit thresholds, field by field.
 */
export function effectiveThresholds(config: RevmodConfig, model: LoadedModel, file?: PolicyFileThresholds): PolicyThresholds {
  const card = model.card.thresholds;
  const preset = config.policy.sensitivity === 'card' ? undefined : SENSITIVITY_PRESETS[config.policy.sensitivity];
  const categories = { ...card.categories, ...file?.categories };
  const t: PolicyThresholds = {
    violate: config.policy.violateThreshold ?? preset ?? file?.violate ?? card.violate,
    confidence: config.policy.confidenceThreshold ?? file?.confidence ?? card.confidence,
    block: config.policy.blockThreshold !== undefined ? config.policy.blockThreshold : file?.block !== undefined ? file.block : card.block,
    categories: preset === undefined ? categories : Object.fromEntries(Object.entries(categories).map(([g, c]) => [g, { ...c, review: preset }])),
  };
  const problems = validateThresholds(t);
  if (problems.length > 0) throw new RevmodError('CONFIG_INVALID', `policy thresholds: ${problems.join('; ')}`);
  return t;
}

type PolicyFileThresholds = NonNullable<Awaited<ReturnType<typeof readPolicyFile>>['thresholds']>;

/** Signals the default policy decides on without the model. */
export const DEFAULT_SKIP_CLASSIFIER_FOR: readonly string[] = ['known_violation'];

/** The policy in force: the file's rules (or the default's) over the effective thresholds. */
export async function loadWorkerPolicy(config: RevmodConfig, model: LoadedModel): Promise<Policy> {
  const file = config.policy.file !== undefined ? await readPolicyFile(config.policy.file) : undefined;
  const thresholds = effectiveThresholds(config, model, file?.thresholds);
  const violationGroups = [...new Set(Object.values(model.card.groups))].filter((g) => g !== NORMAL_GROUP);
  // The default policy decides a listed violation on the list alone (block is final): no inference.
  return compilePolicy(file?.name ?? 'default', file?.rules ?? DEFAULT_RULES, thresholds, violationGroups, file?.skipClassifierFor ?? DEFAULT_SKIP_CLASSIFIER_FOR);
}

/** REVMOD_GPU_WARMUP_SIZES as batch sizes, each checked against the batch size. */
export function gpuWarmUpSizes(config: RevmodConfig): number[] {
  return config.model.gpuWarmUpSizes.map((text) => {
    const n = Number(text);
    if (!Number.isInteger(n) || n < 1 || n > config.batch.size) {
      throw new RevmodError('CONFIG_INVALID', `model.gpuWarmUpSizes (REVMOD_GPU_WARMUP_SIZES): each must be a batch size from 1 to ${config.batch.size} (REVMOD_BATCH_SIZE), received "${text}"`);
    }
    return n;
  });
}

/** An eighth of the memory this process may use (its cgroup's limit, else the machine's RAM). */
export function autoInflightBytes(maxBytes: number): number {
  let limit = totalmem();
  try {
    const text = readFileSync('/sys/fs/cgroup/memory.max', 'utf8').trim();
    if (/^\d+$/.test(text)) limit = Math.min(limit, Number(text));
  } catch {
    // no cgroup v2 limit: the machine's RAM
  }
  return Math.max(2 * maxBytes, Math.floor(limit / 8));
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
  private policy: Policy | undefined;
  private pool: ImagePool | undefined;
  private ocrPool: OcrPool | undefined;
  private starting: Promise<void> | undefined;
  private closing: Promise<{ forced: boolean }> | undefined;
  private inferenceStopped = false;
  private intakePausedUntil: number | undefined;
  /** Jobs in flight when the store is reachable. */
  private concurrency = 1;
  /** Set when the worker stopped taking jobs for good (a broken model); only a restart clears it. */
  private stoppedReason: string | undefined;
  private resumeTimer: NodeJS.Timeout | undefined;
  private source: ModelSource | undefined;
  private subscriber: Redis | undefined;
  private pollTimer: NodeJS.Timeout | undefined;
  private reloading: Promise<ReloadOutcome> | undefined;
  private reloadQueued = false;
  private reloads = 0;
  private lastReloadError: WorkerStatus['lastReloadError'];
  /** Jobs running on each pipeline: an old pipeline is closed once its last job is done. */
  private readonly jobsOn = new Map<ModerationPipeline, number>();
  private readonly pipelineIdle = new Map<ModerationPipeline, () => void>();
  private byteBudget: WeightedSemaphore | undefined;
  private readonly retiring = new Set<Promise<void>>();
  private known: RedisKnownImages | undefined;
  private listRequests: ListRequestWorker | undefined;
  private listsConnection: Redis | undefined;
  private knownS3: S3Client | undefined;
  private detectors: ReturnType<typeof workerDetectors> | undefined;
  private shadowLane: ShadowLane | undefined;

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
      thresholds: this.policy?.thresholds,
      policy: this.policy ? { name: this.policy.name, version: this.policy.version } : undefined,
      executionProvider: this.engine?.provider,
      executionProviderFallbacks: this.engine?.providerFallbacks ?? {},
      inferenceRestarts: this.engine?.restartCount ?? 0,
      intakePausedUntilMs: this.intakePausedUntil,
      pendingItems: this.pipeline?.pendingItems ?? 0,
      modelReference: this.source?.movable ? this.source.setting : undefined,
      modelReloads: this.reloads,
      lastReloadError: this.lastReloadError,
      shadow: this.shadowLane?.status(),
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
    this.source = new ModelSource(config.model.path, () => createS3Client(config.s3));
    const sourced = await this.source.fetch();
    this.model = await this.loadServable(sourced.modelPath);
    this.checkNotClosing();
    this.policy = await loadWorkerPolicy(config, this.model);
    this.checkNotClosing();
    this.engine = this.createEngine(sourced.modelPath, this.model.card);
    const engineInfo = await this.engine.start();
    this.checkNotClosing();
    const { card, sha256 } = this.model;
    log.info({
      model: { name: card.name, version: card.version, sha256, trained: card.trained, path: config.model.path, ...(sourced.modelPath !== config.model.path ? { local: sourced.modelPath } : {}) },
      executionProvider: engineInfo.provider, requested: config.model.executionProvider, fallbacks: engineInfo.fallbacks, warmUpMs: engineInfo.warmUpMs,
      policy: { name: this.policy.name, version: this.policy.version, rules: this.policy.rules.length }, thresholds: this.policy.thresholds, batchSize: config.batch.size, maxWaitMs: config.batch.maxWaitMs,
    }, `model ${card.name}@${card.version} loaded on ${engineInfo.provider}`);
    if (!card.trained) log.warn('serving an UNTRAINED model (REVMOD_ALLOW_UNTRAINED_MODEL=true): its verdicts mean nothing; bring your fine-tuned model (README "Model contract")');
    if (config.requests.allowedBuckets.length === 0) {
      log.warn('no bucket allow-list: jobs may name any bucket these S3 credentials can read; set REVMOD_ALLOWED_BUCKETS');
    }

    this.connection = createRedisConnection(config, 'worker');
    this.connection.on('error', (err: Error) => log.warn({ err: err.message }, 'redis connection error'));
    this.store = this.deps.store ?? new S3ObjectStore(config.s3);
    this.publisher = new VerdictPublisher(config, this.connection);
    if (config.known.enabled) await this.startKnownImages();
    this.checkNotClosing();
    const detectors = workerDetectors(config);
    this.ocrPool = detectors.ocrPool;
    this.pool = new ImagePool({ threads: config.pool.threads, ...(this.deps.poolEntryFile !== undefined ? { entryFile: this.deps.poolEntryFile } : {}) });
    this.detectors = detectors;
    if (this.source.movable) this.shadowLane = this.createShadowLane(this.source);
    this.pipeline = this.createPipeline(this.engine, this.model, this.policy);
    const names = [...Object.keys(detectors.cheap), ...(detectors.text ? [`text (gate, then OCR on ${config.detectors.ocrThreads} thread(s))`] : [])];
    log.info({ detectors: detectors.cheap, text: detectors.text !== undefined }, `detectors: ${names.length > 0 ? names.join(', ') : 'none'}`);
    if (this.known) await this.startListRequests();
    this.checkNotClosing();
    const concurrency = config.worker.concurrency > 0 ? config.worker.concurrency : 2 * config.batch.size;
    this.concurrency = concurrency;
    this.worker = new Worker<ModerationJobData, Verdict>(config.queues.moderation, (job, token) => this.processJob(job, token), {
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
    if (this.source.movable) await this.watchModel();
    // The challenger loads in the background: it is off the decision path, readiness does not wait.
    void this.shadowLane?.refresh('start');
  }

  private createShadowLane(source: ModelSource): ShadowLane {
    const { config } = this;
    return new ShadowLane(source, {
      config, logger: this.deps.logger, redis: this.connection!, s3: () => createS3Client(config.s3),
      ...(this.deps.observer ? { observer: this.deps.observer } : {}),
      load: (path) => this.loadServable(path),
      policyOf: (model) => loadWorkerPolicy(config, model),
      createEngine: (path, card, threads) => this.createEngine(path, card, threads),
      championVersion: () => this.model?.card.version,
      sendToReview: (verdict) => this.publisher!.sendShadowSample(verdict),
    });
  }

  /** Loads a model and its card, refusing an untrained one unless allowed. */
  private async loadServable(path: string): Promise<LoadedModel> {
    const model = await loadModel(path);
    if (!model.card.trained && !this.config.model.allowUntrained) {
      throw new RevmodError('MODEL_INVALID', `the card of ${this.config.model.path} says trained: false (${model.card.name}@${model.card.version}): ` +
        'its verdicts would mean nothing. Point REVMOD_MODEL_PATH at a trained model, or set REVMOD_ALLOW_UNTRAINED_MODEL=true for a demo or test');
    }
    return model;
  }

  private createEngine(modelPath: string, card: ModelCard, intraOpThreads = this.config.model.intraOpThreads): InferenceEngine {
    const { config } = this;
    const log = this.deps.logger;
    const engine = new InferenceEngine({
      modelPath,
      executionProvider: config.model.executionProvider,
      intraOpThreads,
      webgpuLayout: config.model.webgpuLayout,
      warmUpSizes: gpuWarmUpSizes(config),
      padToWarmUpSizes: config.model.gpuPadBatches,
      maxBatchSize: config.batch.size,
      contract: ioContractOf(card),
      runTimeoutMs: config.model.inferenceTimeoutMs,
      startTimeoutMs: config.model.loadTimeoutMs,
      ...(this.deps.inferenceThreadEntryFile !== undefined ? { threadEntryFile: this.deps.inferenceThreadEntryFile } : {}),
    });
    engine.on('fallback', (reason: string, attempt: ProviderAttempt) => log.warn({ provider: attempt.provider, reason }, `${attempt.provider} execution provider not used: ${reason}`));
    engine.on('restart', (reason: string) => {
      log.error({ reason }, 'inference thread died; restarted it, batches in flight will be retried');
      const was = engine.provider;
      void engine.start().then((info) => {
        if (info.provider !== was) log.warn({ executionProvider: info.provider, was, fallbacks: info.fallbacks }, `inference now runs on ${info.provider} (was ${was ?? 'none'})`);
      }, () => undefined);
    });
    engine.on('error', (err: Error) => log.error({ err }, 'inference thread could not be restarted'));
    // Only the serving engine may stop the worker; a retired one is closing anyway.
    engine.on('fatal', (reason: string) => { if (engine === this.engine) this.fail(`inference engine cannot go on: ${reason}`); });
    return engine;
  }

  private createPipeline(engine: InferenceEngine, model: LoadedModel, policy: Policy): ModerationPipeline {
    const { config } = this;
    const log = this.deps.logger;
    const { card, sha256 } = model;
    const connection = this.connection!;
    return new ModerationPipeline({
      store: this.store!,
      decoder: this.pool!,
      engine,
      publisher: this.publisher!,
      model: { name: card.name, version: card.version, sha256 },
      card,
      policy,
      detectors: this.detectors!.cheap,
      ...(this.detectors!.text ? { text: this.detectors!.text } : {}),
      ...(this.known ? { known: this.known } : {}),
      ...(this.shadowLane ? { shadow: () => this.shadowLane?.current() } : {}),
      maxFrames: config.limits.maxFrames,
      // One budget for the worker, shared by a pipeline and the one it replaces.
      byteBudget: (this.byteBudget ??= new WeightedSemaphore(config.limits.maxInflightBytes > 0 ? config.limits.maxInflightBytes : autoInflightBytes(config.limits.maxBytes))),
      preprocess: { maxPixels: config.limits.maxPixels, allowSvg: config.limits.allowSvg, mode: config.model.preprocessMode },
      requestLimits: config.requests,
      maxBytes: config.limits.maxBytes,
      batchSize: config.batch.size,
      maxWaitMs: config.batch.maxWaitMs,
      logger: log,
      ...(this.deps.observer ? { observer: this.deps.observer } : {}),
      storageBreaker: new StorageBreaker(config.worker.storageFailureThreshold, config.worker.storagePauseMs),
      pauseIntake: (ms) => this.pauseIntake(ms),
      storageRecovered: () => { if (this.worker) this.worker.concurrency = this.concurrency; },
      maxInvalidBatches: config.model.maxInvalidBatches,
      onModelBroken: (reason) => this.stopIntake(`model output invalid: ${reason}`),
      ...(config.signing.key !== undefined ? { sign: (v: Verdict) => signVerdict(v, config.signing.key!) } : {}),
      crashGuard: new CrashGuard({
        redis: connection, prefix: config.redis.prefix, maxCrashes: config.worker.poisonCrashes,
        // A dead worker's jobs may wait behind a whole backlog before they are taken over (and their
        // markers read): a day, not a lock's length.
        markerTtlMs: Math.max(24 * 3600_000, 4 * config.worker.lockDurationMs + 2 * config.worker.stalledIntervalMs),
      }),
    });
  }

  /**
   * Runs a job on the pipeline serving when it starts: the whole job (fetch, decode with that
   * card's preprocessing, inference, policy) stays on it, so that a reload never judges one image
   * with two models.
   */
  private async processJob(job: Parameters<ModerationPipeline['process']>[0], token?: string): Promise<Verdict> {
    const pipeline = this.pipeline!;
    this.jobsOn.set(pipeline, (this.jobsOn.get(pipeline) ?? 0) + 1);
    try {
      return await pipeline.process(job, token);
    } finally {
      const left = this.jobsOn.get(pipeline)! - 1;
      this.jobsOn.set(pipeline, left);
      if (left === 0) this.pipelineIdle.get(pipeline)?.();
    }
  }

  /** Follows the registry alias: Redis announcements, and polling as a fallback. */
  private async watchModel(): Promise<void> {
    const { config } = this;
    const log = this.deps.logger;
    const source = this.source!;
    const subscriber = this.connection!.duplicate();
    this.subscriber = subscriber;
    subscriber.on('error', (err: Error) => log.warn({ err: err.message }, 'model announcement subscription error; polling continues'));
    subscriber.on('message', (_channel: string, text: string) => {
      let moved: AliasMoved;
      try {
        moved = JSON.parse(text) as AliasMoved;
      } catch {
        return;
      }
      if (source.concerns(moved)) void this.requestReload(`announced: ${moved.alias} → ${moved.version}`);
      if (this.shadowLane?.concerns(moved)) void this.shadowLane.refresh(`announced: ${moved.alias} → ${moved.version ?? 'removed'}`);
    });
    await subscriber.subscribe(modelAliasChannel(config.redis.prefix)).catch((err: Error) => log.warn({ err: err.message }, 'cannot subscribe to model announcements; polling only'));
    if (config.model.reloadPollMs > 0) {
      this.pollTimer = setInterval(() => {
        source.currentVersion().then(
          (version) => {
            const failed = this.lastReloadError?.version;
            if (version !== undefined && version !== this.model?.card.version && version !== failed) void this.requestReload(`poll: alias now at ${version}`);
          },
          (err: Error) => log.warn({ err: err.message }, 'model registry poll failed; serving on'),
        );
        void this.shadowLane?.poll();
      }, config.model.reloadPollMs);
      this.pollTimer.unref();
    }
  }

  /**
   * Fetches the model the setting names now and swaps to it if it changed. Reloads run one at a
   * time (one queued at most). A model that fails to load keeps the old one serving; why is
   * logged and in status().lastReloadError.
   */
  requestReload(why = 'requested'): Promise<ReloadOutcome> {
    if (this.reloading && this.reloadQueued) return this.reloading;
    const previous = this.reloading ?? Promise.resolve(undefined);
    this.reloadQueued = this.reloading !== undefined;
    const next: Promise<ReloadOutcome> = previous.then(() => {
      this.reloadQueued = false;
      return this.reload(why);
    });
    this.reloading = next;
    void next.finally(() => { if (this.reloading === next) this.reloading = undefined; });
    return next;
  }

  private async reload(why: string): Promise<ReloadOutcome> {
    const log = this.deps.logger;
    const current = this.model!;
    if (this.stateValue !== 'ready' || !this.source) return { kind: 'unchanged', version: current.card.version };
    let version: string | undefined;
    let engine: InferenceEngine | undefined;
    try {
      version = await this.source.currentVersion();
      const sourced = await this.source.fetch();
      version = sourced.version;
      const model = await this.loadServable(sourced.modelPath);
      if (model.sha256 === current.sha256 && model.card.version === current.card.version) return { kind: 'unchanged', version: current.card.version };
      const policy = await loadWorkerPolicy(this.config, model);
      engine = this.createEngine(sourced.modelPath, model.card);
      await engine.start();
      if (this.closing !== undefined) throw new RevmodError('SHUTTING_DOWN', 'the worker is closing');
      const pipeline = this.createPipeline(engine, model, policy);
      const old = { engine: this.engine!, pipeline: this.pipeline! };
      // From here every new job runs on the new pipeline; those already running finish on the old one.
      this.engine = engine;
      this.pipeline = pipeline;
      this.model = model;
      this.policy = policy;
      this.reloads += 1;
      this.lastReloadError = undefined;
      log.info({ why, from: `${current.card.name}@${current.card.version}`, to: `${model.card.name}@${model.card.version}`, sha256: model.sha256 }, `model swapped to ${model.card.name}@${model.card.version}`);
      const retiring = this.retire(old.pipeline, old.engine).catch((e: Error) => log.warn({ err: e.message }, 'closing the replaced model failed'));
      this.retiring.add(retiring);
      void retiring.finally(() => this.retiring.delete(retiring));
      // A challenger at the new champion's version stops scoring (and one at the old version starts).
      void this.shadowLane?.refresh(`champion now ${model.card.version}`);
      return { kind: 'swapped', from: current.card.version, to: model.card.version };
    } catch (err) {
      await engine?.close().catch(() => undefined);
      const message = (err as Error).message;
      this.lastReloadError = { at: new Date().toISOString(), version, message };
      log.error({ why, version, err: message }, `model reload failed; ${current.card.name}@${current.card.version} keeps serving`);
      return { kind: 'failed', version, message };
    }
  }

  /** Closes a replaced pipeline's engine once its last job is done (its session freed with its thread). */
  private async retire(pipeline: ModerationPipeline, engine: InferenceEngine): Promise<void> {
    if ((this.jobsOn.get(pipeline) ?? 0) > 0) await new Promise<void>((resolve) => this.pipelineIdle.set(pipeline, resolve));
    this.pipelineIdle.delete(pipeline);
    this.jobsOn.delete(pipeline);
    await pipeline.drain().catch(() => undefined);
    await engine.close();
  }

  /** Known images: the verdict cache and the lists (loaded from Redis, or rebuilt there from the S3 journal). */
  private async startKnownImages(): Promise<void> {
    const { config } = this;
    const redis = this.connection!;
    const { known } = config;
    if (known.journalBucket !== undefined) this.knownS3 = createS3Client(config.s3, 8);
    else this.deps.logger.warn('REVMOD_KNOWN_JOURNAL_BUCKET is not set: the known-image lists can be read but not changed, and a Redis loss would lose them');
    const store = listStoreOf(redis, this.knownS3, config);
    const cache = verdictCacheOf(redis, config);
    this.known = new RedisKnownImages({ redis, store, cache, syncIntervalMs: known.syncIntervalMs, logger: this.deps.logger });
    await this.known.start();
  }

  /** Answers the SDK's list requests here: this process has S3, the decoder and the live index. */
  private async startListRequests(): Promise<void> {
    const { config } = this;
    const known = this.known!;
    const verdicts = new ModerationClient({ config: clientConfigOf(config), connection: this.connection! });
    const lists = new KnownLists({
      store: listStoreOf(this.connection!, this.knownS3, config), objects: this.store!, allowedBuckets: config.requests.allowedBuckets,
      verdictOf: (id) => verdicts.getVerdict(id), maxBytes: config.limits.maxBytes,
      decode: { maxPixels: config.limits.maxPixels, allowSvg: config.limits.allowSvg },
      match: (pdq) => known.matches(pdq),
    });
    this.listsConnection = createRedisConnection(config, 'worker');
    this.listsConnection.on('error', () => undefined);
    this.listRequests = new ListRequestWorker({ lists, connection: this.listsConnection, queue: config.queues.lists, prefix: config.redis.prefix, logger: this.deps.logger });
    await this.listRequests.waitUntilReady();
  }

  /** The known images of this worker, when on (tests read their state). */
  get knownImages(): RedisKnownImages | undefined {
    return this.known;
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
    // Half-open: after the pause one job at a time probes the store, not a full concurrency of jobs
    // that would only be handed back; the first successful fetch restores it (storageRecovered).
    if (this.worker) this.worker.concurrency = 1;
    this.resumeTimer = setTimeout(() => {
      this.intakePausedUntil = undefined;
      if (this.closing === undefined && this.stoppedReason === undefined) this.worker?.resume();
    }, ms);
  }

  /** Stops for good and tells the entry point, which exits non-zero so that the orchestrator restarts it. */
  private fail(reason: string): void {
    this.stopIntake(reason);
    this.deps.onFatal?.(reason);
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
    clearInterval(this.pollTimer);
    await this.subscriber?.quit().catch(() => this.subscriber?.disconnect());
    // A reload under way either finished its swap or gave up; wait so that its engine is accounted for.
    await this.reloading?.catch(() => undefined);
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
    // Engines of replaced pipelines, closed once their last jobs (finished by now) are done.
    await Promise.all(this.retiring);
    // The challenger's last images (their verdicts are out) are compared and logged, then it closes.
    await this.shadowLane?.close();
    await this.pool?.close();
    await this.ocrPool?.close();
    await this.publisher?.close().catch(() => undefined);
    await this.listRequests?.close().catch(() => undefined);
    this.listsConnection?.disconnect();
    await this.known?.close();
    this.knownS3?.destroy();
    this.store?.close();
    this.source?.close();
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
