import { randomBytes } from 'node:crypto';
import { hostname } from 'node:os';
import { DelayedError, UnrecoverableError, type Job } from 'bullmq';
import type { Logger } from 'pino';
import { RevmodError, toRevmodError, VERDICT_SCHEMA_VERSION, type ErrorCode, type ModerationJobData, type Verdict, type VerdictModel, type VerdictScores, type VerdictTimings, validateRequest, type RequestLimits } from '@revmod/client';
import type { InferenceBackend } from '../model/inference-backend';
import { MicroBatcher, type BatchContext } from '../model/micro-batcher';
import { cardInputGeometry, NORMAL_GROUP, type ModelCard } from '../model/model-card';
import { decide, softmax2, type PolicyThresholds } from '../policy';
import {
  createChwNormalizer, preprocessImage, validatePreprocessOptions, writeNormalizedChw,
  type ChwNormalizer, type DecodeOptions, type PreprocessOptions,
} from '../preprocess';
import type { ObjectStore } from '../storage';
import { msSince } from '../util/timing';
import type { PipelineObserver } from './pipeline-observer';
import type { StorageBreaker } from './storage-breaker';
import type { VerdictPublisher } from './verdict-publisher';

export interface ModelIdentity {
  readonly name: string;
  readonly version: string;
  readonly sha256: string;
}

export interface PipelineOptions {
  readonly store: ObjectStore;
  readonly engine: InferenceBackend;
  readonly publisher: VerdictPublisher;
  readonly model: ModelIdentity;
  readonly thresholds: PolicyThresholds;
  /** The model's card: its preprocessing, classes and score kind are honoured here. */
  readonly card: ModelCard;
  /** Decode limits and mode (config); the input geometry comes from the card. */
  readonly preprocess: DecodeOptions;
  readonly requestLimits: RequestLimits;
  readonly maxBytes: number;
  readonly batchSize: number;
  readonly maxWaitMs: number;
  readonly logger: Logger;
  readonly observer?: PipelineObserver;
  /** Object-store outage detection; see StorageBreaker. */
  readonly storageBreaker?: StorageBreaker;
  /** Pauses this worker's intake for a while (other workers keep theirs); used while storage is down. */
  readonly pauseIntake?: (ms: number) => void;
  /** Batches in a row with only non-finite outputs after which `onModelBroken` is called. */
  readonly maxInvalidBatches: number;
  /** The model produces only non-finite outputs: stop taking jobs. */
  readonly onModelBroken?: (reason: string) => void;
}

/** One decoded image waiting for its batch, with everything its verdict needs. */
interface BatchItem {
  readonly jobId: string;
  readonly data: ModerationJobData;
  readonly attempt: number;
  readonly rgb: Uint8Array;
  readonly queueMs: number;
  readonly fetchMs: number;
  readonly decodeMs: number;
  readonly enqueuedAt: number;
}

const WORKER_ID = `${hostname()}:${process.pid}`;

/** Storage errors that say the store is unreachable or refuses this worker: the breaker counts them. */
const STORAGE_OUTAGE_CODES: ReadonlySet<ErrorCode> = new Set(['STORAGE_UNAVAILABLE', 'STORAGE_TIMEOUT', 'STORAGE_AUTH']);

/**
 * The error handed to BullMQ for a retry. Its message becomes the job's failedReason, so it starts
 * with the stable code (`STORAGE_UNAVAILABLE: ...`), as invalid payloads' do: the failed list
 * (dead letters, see queue/dead-letters.ts) then says why without parsing prose.
 */
function jobFailure(e: RevmodError): RevmodError {
  return new RevmodError(e.code, `${e.code}: ${e.message}`, { cause: e });
}

/** Where a 2-class card's normal and violate scores are in each output row. */
export interface TwoClassReading {
  readonly normalIndex: number;
  readonly violateIndex: number;
}

/**
 * The cards this pipeline can serve: two classes, one in group 'normal' and one in a violation
 * group (any names, any order). Call it before starting anything that needs closing.
 * @throws RevmodError MODEL_INVALID for any other card.
 */
export function checkPipelineCard(card: ModelCard): TwoClassReading {
  if (card.classes.length !== 2) {
    throw new RevmodError(
      'MODEL_INVALID',
      `model card ${card.name}@${card.version} lists ${card.classes.length} classes (${card.classes.join(', ')}): ` +
        'the multi-class policy is not enabled yet; this worker serves 2-class models only',
    );
  }
  const normalIndex = card.classes.findIndex((c) => card.groups[c] === NORMAL_GROUP);
  // The card schema guarantees one class in 'normal' and one in a violation group.
  return { normalIndex, violateIndex: 1 - normalIndex };
}

/**
 * fetch → decode → micro-batch → infer → decide → publish, per job. A permanent problem with one
 * image becomes that image's error verdict (decision review) and never touches its batch-mates;
 * transient ones (storage down, inference thread died) are thrown for BullMQ to retry with backoff.
 */
export class ModerationPipeline {
  private readonly batcher: MicroBatcher<BatchItem, Verdict>;
  private invalidBatchesInARow = 0;
  private readonly reading: TwoClassReading;
  private readonly preprocessOptions: PreprocessOptions;
  private readonly normalizer: ChwNormalizer;

  constructor(private readonly o: PipelineOptions) {
    const { card } = o;
    this.reading = checkPipelineCard(card);
    this.preprocessOptions = { ...o.preprocess, ...cardInputGeometry(card) };
    validatePreprocessOptions(this.preprocessOptions);
    this.normalizer = createChwNormalizer(card.preprocessing);
    this.batcher = new MicroBatcher<BatchItem, Verdict>(
      { maxSize: o.batchSize, maxWaitMs: o.maxWaitMs, maxInFlight: o.engine.bufferCount },
      (items, ctx) => this.runBatch(items, ctx),
    );
  }

  get pendingItems(): number {
    return this.batcher.pending;
  }

  private modelOf(provider: string): VerdictModel {
    return { ...this.o.model, executionProvider: provider };
  }

  /** The BullMQ processor. Returns the verdict (also stored as the job's return value). */
  async process(job: Job<ModerationJobData>, token?: string): Promise<Verdict> {
    const startedAt = Date.now();
    const jobId = job.id ?? '';
    const log = this.o.logger.child({ jobId });
    let data: ModerationJobData;
    try {
      const valid = validateRequest(job.data, this.o.requestLimits);
      const submittedAtMs = typeof job.data.submittedAtMs === 'number' ? job.data.submittedAtMs : job.timestamp;
      data = { ...valid, submittedAtMs };
    } catch (err) {
      const e = toRevmodError(err);
      this.o.observer?.onInvalidJob?.(e.code);
      log.warn({ code: e.code }, `invalid job payload: ${e.message}`);
      // No retry can fix a bad payload; the failed job stays visible for ops.
      throw new UnrecoverableError(`${e.code}: ${e.message}`);
    }
    const attempt = job.attemptsMade + 1;
    const queueMs = Math.max(0, startedAt - data.submittedAtMs);
    const base = { job, token, jobId, data, attempt, queueMs };

    const tFetch = performance.now();
    let bytes: Buffer;
    try {
      bytes = await this.o.store.fetch(data.bucket, data.key, { maxBytes: this.o.maxBytes });
    } catch (err) {
      return this.failItem(base, err, { fetchMs: msSince(tFetch), decodeMs: 0 }, log);
    }
    const fetchMs = msSince(tFetch);
    this.o.storageBreaker?.success();

    const tDecode = performance.now();
    let rgb: Uint8Array;
    try {
      rgb = (await preprocessImage(bytes, this.preprocessOptions)).rgb;
    } catch (err) {
      return this.failItem(base, err, { fetchMs, decodeMs: msSince(tDecode) }, log);
    }
    const decodeMs = msSince(tDecode);

    try {
      return await this.batcher.add({ ...base, rgb, fetchMs, decodeMs, enqueuedAt: performance.now() });
    } catch (err) {
      const e = toRevmodError(err);
      this.o.observer?.onRetry?.(e.code);
      log.warn({ code: e.code, attempt }, `batch failed, job will be retried: ${e.message}`);
      throw jobFailure(e);
    }
  }

  /** A permanent per-item error becomes an error verdict; a transient one is thrown for a retry. */
  private async failItem(
    base: { job: Job<ModerationJobData>; token: string | undefined; jobId: string; data: ModerationJobData; attempt: number; queueMs: number },
    err: unknown,
    t: { fetchMs: number; decodeMs: number },
    log: Logger,
  ): Promise<Verdict> {
    const e = toRevmodError(err);
    const breaker = this.o.storageBreaker;
    if (breaker && this.o.pauseIntake && STORAGE_OUTAGE_CODES.has(e.code) && breaker.failure()) {
      // Storage looks down from here: pause this worker's intake and hand the job back, delayed,
      // without spending an attempt (DelayedError); other workers keep their own intake.
      this.o.observer?.onRetry?.(e.code);
      log.warn({ code: e.code, pauseMs: breaker.pauseMs }, `object store looks down (${breaker.threshold}+ failures in a row); pausing this worker's intake: ${e.message}`);
      this.o.pauseIntake(breaker.pauseMs);
      await base.job.moveToDelayed(Date.now() + breaker.pauseMs, base.token);
      throw new DelayedError();
    }
    if (e.retryable) {
      this.o.observer?.onRetry?.(e.code);
      log.warn({ code: e.code, attempt: base.attempt }, `transient failure, job will be retried: ${e.message}`);
      throw jobFailure(e);
    }
    const verdict = this.errorVerdict(base, e, this.timings(base.data, base.queueMs, t.fetchMs, t.decodeMs, 0, 0), null);
    log.info({ code: e.code, key: base.data.key }, `error verdict: ${e.message}`);
    await this.o.publisher.publish([verdict]);
    this.o.observer?.onVerdict?.(verdict);
    return verdict;
  }

  /** A verdict for an image that could not be scored: always review, never pass. */
  private errorVerdict(
    item: { jobId: string; data: ModerationJobData; attempt: number },
    e: RevmodError,
    timings: VerdictTimings,
    batch: Verdict['batch'],
    decidedAt = new Date().toISOString(),
  ): Verdict {
    return {
      schemaVersion: VERDICT_SCHEMA_VERSION, id: item.jobId, jobId: item.jobId, bucket: item.data.bucket, key: item.data.key,
      decision: 'review', label: null, scores: null, reasons: ['error'],
      model: this.modelOf(this.o.engine.provider ?? 'none'),
      timings, batch,
      error: { code: e.code, message: e.message },
      meta: item.data.meta, attempt: item.attempt, worker: WORKER_ID, decidedAt,
    };
  }

  private timings(data: ModerationJobData, queueMs: number, fetchMs: number, decodeMs: number, batchWaitMs: number, inferMs: number): VerdictTimings {
    return { queueMs, fetchMs, decodeMs, batchWaitMs, inferMs, totalMs: Math.max(0, Date.now() - data.submittedAtMs) };
  }

  private async runBatch(items: BatchItem[], ctx: BatchContext): Promise<Verdict[]> {
    const batchId = randomBytes(6).toString('hex');
    const buffer = await this.o.engine.acquire();
    const startedAt = performance.now();
    let logits: Float32Array;
    let inferMs: number;
    let tensorMs: number;
    try {
      const { floatsPerImage } = this.normalizer;
      items.forEach((item, i) => writeNormalizedChw(item.rgb, buffer.view, i * floatsPerImage, this.normalizer));
      tensorMs = msSince(startedAt);
      ({ logits, inferMs } = await this.o.engine.run(buffer, items.length));
    } finally {
      this.o.engine.release(buffer);
    }
    const provider = this.o.engine.provider ?? 'cpu';
    const model = this.modelOf(provider);
    const decidedAt = new Date().toISOString();
    let invalidOutputs = 0;
    const verdicts = items.map((item, i): Verdict => {
      const batchWaitMs = Math.round((startedAt - item.enqueuedAt) * 10) / 10;
      const timings = this.timings(item.data, item.queueMs, item.fetchMs, item.decodeMs, batchWaitMs, Math.round(inferMs * 10) / 10);
      const batch = { id: batchId, size: items.length };
      const normal = logits[2 * i + this.reading.normalIndex]!;
      const violate = logits[2 * i + this.reading.violateIndex]!;
      // Fail closed: a broken model or export (NaN, ±Infinity) must never wave an image through.
      if (!Number.isFinite(normal) || !Number.isFinite(violate)) {
        invalidOutputs += 1;
        const e = new RevmodError('MODEL_OUTPUT_INVALID', `model ${this.o.model.name}@${this.o.model.version} produced non-finite scores [${normal}, ${violate}]`);
        return this.errorVerdict(item, e, timings, batch, decidedAt);
      }
      const scores = this.scoresOf(normal, violate);
      const { decision, label, reasons } = decide(scores, this.o.thresholds);
      return {
        schemaVersion: VERDICT_SCHEMA_VERSION, id: item.jobId, jobId: item.jobId, bucket: item.data.bucket, key: item.data.key,
        decision, label, scores, reasons, model, timings, batch,
        meta: item.data.meta, attempt: item.attempt, worker: WORKER_ID, decidedAt,
      };
    });
    this.noteOutputValidity(batchId, invalidOutputs, items.length);
    const tPublish = performance.now();
    await this.o.publisher.publish(verdicts);
    const publishMs = msSince(tPublish);
    const stats = { id: batchId, size: items.length, fillWaitMs: Math.round(ctx.fillWaitMs * 10) / 10, tensorMs, inferMs: Math.round(inferMs * 10) / 10, publishMs, provider };
    const mean = (f: (i: BatchItem) => number) => Math.round(items.reduce((n, i) => n + f(i), 0) / items.length * 10) / 10;
    const fetchMs = mean((i) => i.fetchMs);
    const decodeMs = mean((i) => i.decodeMs);
    this.o.logger.info({ batch: { ...stats, fetchMsMean: fetchMs, decodeMsMean: decodeMs } },
      `batch ${batchId}: ${items.length} images, fill ${stats.fillWaitMs} ms, fetch ${fetchMs} ms, decode ${decodeMs} ms, infer ${stats.inferMs} ms, publish ${publishMs} ms`);
    this.o.observer?.onBatch?.(stats);
    for (const v of verdicts) this.o.observer?.onVerdict?.(v);
    return verdicts;
  }

  /**
   * A batch whose outputs are all non-finite is logged at error level; `maxInvalidBatches` of them
   * in a row mean the model itself is broken: the worker is told (it stops taking jobs and reports
   * not ready), since readiness alone does not stop a BullMQ consumer.
   */
  private noteOutputValidity(batchId: string, invalid: number, size: number): void {
    if (invalid < size) {
      this.invalidBatchesInARow = 0;
      if (invalid > 0) this.o.logger.warn({ batch: batchId, invalid }, `${invalid} of ${size} images got non-finite scores (MODEL_OUTPUT_INVALID verdicts)`);
      return;
    }
    this.invalidBatchesInARow += 1;
    this.o.logger.error({ batch: batchId, inARow: this.invalidBatchesInARow }, `every image of batch ${batchId} got non-finite scores: the model looks broken`);
    if (this.invalidBatchesInARow === this.o.maxInvalidBatches) this.o.onModelBroken?.(`${this.invalidBatchesInARow} batches in a row with only non-finite scores`);
  }

  /** Scores from the model's two outputs, softmaxed unless the card says they are probabilities. */
  private scoresOf(normal: number, violate: number): VerdictScores {
    return this.o.card.output.scores === 'probabilities' ? { normal, violate } : softmax2(normal, violate);
  }

  /** Runs every pending item now (partial batch) and waits for the batches in flight. */
  async drain(): Promise<void> {
    await this.batcher.close();
  }
}
