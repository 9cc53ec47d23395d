import { randomBytes } from 'node:crypto';
import { hostname } from 'node:os';
import { DelayedError, UnrecoverableError, type Job } from 'bullmq';
import type { Logger } from 'pino';
import {
  checkJobIdentity, RevmodError, toRevmodError, validateRequest, VERDICT_SCHEMA_VERSION,
  type ErrorCode, type ModerationJobData, type RequestLimits, type Verdict, type VerdictContentVersion, type VerdictModel, type VerdictTimings,
} from '@revmod/client';
import type { Signal } from '../detectors/detector';
import type { TextDetector, TextDetectorOptions } from '../detectors/text/text-detector';
import type { TextGateOptions } from '../detectors/text/text-gate';
import type { PixelView } from '../preprocess/decode-image-views';
import type { BatchResult, InferenceBackend } from '../model/inference-backend';
import { MicroBatcher, type BatchContext } from '../model/micro-batcher';
import { cardInputGeometry, type ModelCard } from '../model/model-card';
import { scoreRow, worstFrame, type ImageScores, type Policy, type ScoreReading } from '../policy';
import type { DecodeOutcome, DecodeSuccess, DecodeTask, PdqHashes } from '../pool/decode-task';
import { validatePreprocessOptions, type DecodeOptions, type PreprocessOptions } from '../preprocess';
import type { FetchedObject, ObjectStore } from '../storage';
import { msSince } from '../util/timing';
import type { WeightedSemaphore } from '../util/weighted-semaphore';
import type { KnownImages } from '../known/known-images';
import type { CrashGuard } from './crash-guard';
import type { ShadowScorer, ShadowTicket } from '../shadow/shadow-scorer';
import { maskSignalForLog } from '../detectors/text/mask';
import type { PipelineObserver } from './pipeline-observer';
import type { StorageBreaker } from './storage-breaker';
import type { VerdictPublisher } from './verdict-publisher';

export interface ModelIdentity {
  readonly name: string;
  readonly version: string;
  readonly sha256: string;
}

/** Where images are decoded (the image pool, or a fake in tests). */
export interface ImageDecoder {
  /** `hooks.onStart` runs once a thread takes the task (when the decode really begins). */
  decode(task: DecodeTask, hooks?: { readonly onStart?: () => Promise<void> }): Promise<DecodeOutcome>;
  /** sha256 of the bytes, off the main thread; the bytes come back (moved, not copied). */
  hash(bytes: Uint8Array): Promise<{ sha256: string; bytes: Uint8Array }>;
}

export interface PipelineOptions {
  readonly store: ObjectStore;
  readonly decoder: ImageDecoder;
  readonly engine: InferenceBackend;
  readonly publisher: VerdictPublisher;
  readonly model: ModelIdentity;
  /** The model's card: how to feed it (preprocessing) and read it (classes, groups, scores). */
  readonly card: ModelCard;
  readonly policy: Policy;
  /** Decode limits and mode from config; the geometry comes from the card. */
  readonly preprocess: DecodeOptions;
  /** Cheap detectors run in the pool, by name, with their options. */
  readonly detectors: Readonly<Record<string, Readonly<Record<string, unknown>>>>;
  /** Frames of an animated image to judge (first, last and evenly between). */
  readonly maxFrames: number;
  readonly requestLimits: RequestLimits;
  readonly maxBytes: number;
  /** Upload bodies held at once; undefined: unbounded. */
  readonly byteBudget?: WeightedSemaphore;
  readonly batchSize: number;
  readonly maxWaitMs: number;
  readonly logger: Logger;
  readonly observer?: PipelineObserver;
  /** Object-store outage detection; see StorageBreaker. */
  readonly storageBreaker?: StorageBreaker;
  /** Pauses this worker's intake for a while (other workers keep theirs); used while storage is down. */
  readonly pauseIntake?: (ms: number) => void;
  /** A fetch succeeded with the breaker open: storage is back, full intake again. */
  readonly storageRecovered?: () => void;
  /** Batches in a row with only non-finite outputs after which `onModelBroken` is called. */
  readonly maxInvalidBatches: number;
  /** The model produces only non-finite outputs: stop taking jobs. */
  readonly onModelBroken?: (reason: string) => void;
  /** Signs each verdict before it is published or stored (REVMOD_SIGNING_KEY). */
  readonly sign?: (verdict: Verdict) => Verdict;
  /**
   * Text detection: the text gate in the pool on every image, OCR (its own pool) on those it passes,
   * concurrently with the batch; unset: off.
   */
  readonly text?: TextDetection;
  /** Known images: exact-duplicate verdict reuse and near-duplicate lists. */
  readonly known?: KnownImages;
  /** Tells poison images (they kill the worker) from their unlucky batch-mates. */
  readonly crashGuard?: CrashGuard;
  /** The challenger scoring in shadow now, if any (it changes without rebuilding the pipeline). */
  readonly shadow?: () => ShadowScorer | undefined;
}

export interface TextDetection {
  readonly detector: TextDetector;
  readonly gate: Partial<TextGateOptions>;
  readonly options: Partial<TextDetectorOptions>;
  /**
   * Longest side of the view OCR reads.
   * @defaultValue the text detector's view (1024)
   */
  readonly ocrMaxSidePx?: number;
}

/** Per-image stage times before the batch (ms). */
interface StageTimes {
  readonly fetchMs: number;
  readonly decodeMs: number;
  readonly detectMs: number;
  /** OCR, where the text gate passed (it overlaps the batch). */
  readonly ocrMs?: number | undefined;
}

/** OCR's outcome for one image; never a rejection, so that a failed batch leaves no stray promise. */
type OcrOutcome =
  | { readonly ok: true; readonly signals: readonly Signal[]; readonly ocrMs: number }
  | { readonly ok: false; readonly error: RevmodError };

/** One frame's tensor waiting for its batch, with its image's pool timings for the batch log line. */
interface BatchItem {
  readonly jobId: string;
  readonly tensor: Float32Array;
  readonly enqueuedAt: number;
  readonly decodeMs: number;
  readonly detectMs: number;
  /** Detectors that fired on the image. */
  readonly fired: readonly string[];
}

/** What the batch gives back for one frame. */
interface FrameResult {
  readonly row: Float32Array;
  readonly batch: { readonly id: string; readonly size: number };
  readonly inferMs: number;
  readonly batchWaitMs: number;
  readonly provider: string;
}

/** A job's state on its way through. */
interface JobBase {
  readonly job: Job<ModerationJobData>;
  readonly token: string | undefined;
  readonly jobId: string;
  readonly data: ModerationJobData;
  readonly attempt: number;
  readonly queueMs: number;
}

const WORKER_ID = `${hostname()}:${process.pid}`;

/** Storage errors that say the store is unreachable or refuses this worker: the breaker counts them. */
const STORAGE_OUTAGE_CODES: ReadonlySet<ErrorCode> = new Set(['STORAGE_UNAVAILABLE', 'STORAGE_TIMEOUT', 'STORAGE_AUTH']);

const round1 = (x: number) => Math.round(x * 10) / 10;

/**
 * The error handed to BullMQ for a retry. Its message becomes the job's failedReason, so it starts
 * with the stable code (`STORAGE_UNAVAILABLE: ...`), as invalid payloads' do: the failed list
 * (dead letters) then says why without parsing prose.
 */
function jobFailure(e: RevmodError): RevmodError {
  return new RevmodError(e.code, `${e.code}: ${e.message}`, { cause: e });
}

/** The signals' evidence keyed by reason (several signals of one reason: a list). */
function evidenceOf(signals: readonly Signal[]): Record<string, unknown> {
  const out: Record<string, unknown[]> = {};
  for (const s of signals) (out[s.reason] ??= []).push(s.evidence);
  return Object.fromEntries(Object.entries(out).map(([k, v]) => [k, v.length === 1 ? v[0] : v]));
}

/**
 * fetch → decode once in the image pool (tensor per frame, cheap detectors) → micro-batch → infer →
 * policy → publish, per job. A permanent problem with one image becomes that image's error verdict
 * (decision review) and never touches its batch-mates; transient ones (storage down, inference
 * thread died) are thrown for BullMQ to retry with backoff. The main thread only moves bytes and
 * tensors: pixels are touched in the pool and the inference thread.
 */
export class ModerationPipeline {
  private readonly batcher: MicroBatcher<BatchItem, FrameResult>;
  private readonly reading: ScoreReading;
  private readonly preprocessOptions: PreprocessOptions;
  private invalidBatchesInARow = 0;

  constructor(private readonly o: PipelineOptions) {
    const { card } = o;
    this.reading = { classes: card.classes, groups: card.groups, scores: card.output.scores };
    this.preprocessOptions = { ...o.preprocess, ...cardInputGeometry(card) };
    validatePreprocessOptions(this.preprocessOptions);
    this.batcher = new MicroBatcher<BatchItem, FrameResult>(
      { maxSize: o.batchSize, maxWaitMs: o.maxWaitMs, maxInFlight: o.engine.maxInFlight },
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
    const shadow: { ticket?: ShadowTicket } = {};
    try {
      return await this.processWith(job, token, shadow);
    } finally {
      // A job that ended before its challenger run (an error verdict, a retry) gives its place back.
      shadow.ticket?.cancel();
    }
  }

  private async processWith(job: Job<ModerationJobData>, token: string | undefined, shadow: { ticket?: ShadowTicket }): Promise<Verdict> {
    const startedAt = Date.now();
    const jobId = job.id ?? '';
    const log = this.o.logger.child({ jobId });
    let data: ModerationJobData;
    try {
      const valid = validateRequest(job.data, this.o.requestLimits);
      checkJobIdentity(jobId, valid);
      const submittedAtMs = typeof job.data.submittedAtMs === 'number' ? job.data.submittedAtMs : job.timestamp;
      data = { ...valid, submittedAtMs };
    } catch (err) {
      const e = toRevmodError(err);
      this.o.observer?.onInvalidJob?.(e.code);
      log.warn({ code: e.code }, `invalid job payload: ${e.message}`);
      // No retry can fix a bad payload; the failed job stays visible for ops.
      throw new UnrecoverableError(`${e.code}: ${e.message}`);
    }
    const base: JobBase = { job, token, jobId, data, attempt: job.attemptsMade + 1, queueMs: Math.max(0, startedAt - data.submittedAtMs) };
    const guard = this.o.crashGuard;
    if (guard && job.stalledCounter > 0) {
      // Taken over from a worker that died: was this job inside a risky stage then?
      const { crashes, stage } = await guard.onResume(jobId);
      if (crashes >= guard.maxCrashes) {
        const e = new RevmodError('PROCESSING_CRASHED', `the worker processing this image died ${crashes} times${stage ? ` (last in ${stage})` : ''}: a poison image or an out-of-memory; it goes to a person`);
        log.error({ code: e.code, key: data.key, crashes, stage }, `poison image: ${e.message}`);
        const verdict = await this.failItem(base, e, { fetchMs: 0, decodeMs: 0 }, undefined, log);
        await guard.forget(jobId);
        return verdict;
      }
    }

    const tFetch = performance.now();
    let reserved = 0;
    let fetched: FetchedObject;
    let decoded: DecodeOutcome;
    let fetchMs: number;
    try {
      try {
        fetched = await this.o.store.fetch(data.bucket, data.key, {
          maxBytes: this.o.maxBytes,
          ...(data.versionId !== undefined ? { versionId: data.versionId } : {}),
          ...(data.etag !== undefined ? { etag: data.etag } : {}),
          ...(this.o.byteBudget ? { reserveBytes: async (n: number) => { await this.o.byteBudget!.acquire(n); reserved = n; } } : {}),
        });
      } catch (err) {
        return await this.failItem(base, err, { fetchMs: msSince(tFetch), decodeMs: 0 }, undefined, log);
      }
      fetchMs = msSince(tFetch);
      if (this.o.storageBreaker?.open) this.o.storageRecovered?.();
      this.o.storageBreaker?.success();
      let bytes: Uint8Array = fetched.bytes;
      let sha256: string | undefined;
      if (this.o.known) {
        // Exact copies first: a verdict (or a person's decision) on these bytes stands, no inference.
        const hashed = await this.o.decoder.hash(bytes);
        bytes = hashed.bytes;
        sha256 = hashed.sha256;
        const reuse = await this.o.known.exact(hashed.sha256, { modelSha256: this.o.model.sha256, policyVersion: this.o.policy.version });
        if (reuse) return await this.reuse(base, reuse, this.contentOf(fetched, hashed.sha256), fetchMs, log);
      }
      const ticket = this.o.shadow?.()?.admit({ preprocess: this.preprocessOptions, normalization: this.o.card.preprocessing });
      if (ticket) shadow.ticket = ticket;
      try {
        decoded = await this.o.decoder.decode({
          bytes, ...(sha256 !== undefined ? { sha256 } : {}), preprocess: this.preprocessOptions, normalization: this.o.card.preprocessing,
          maxFrames: this.o.maxFrames, detectors: this.o.detectors, pdq: this.o.known?.usesPdq ?? false,
          text: this.o.text ? { gate: this.o.text.gate, ocrMaxSidePx: this.o.text.ocrMaxSidePx ?? this.o.text.detector.view.maxSidePx } : undefined,
          shadow: ticket?.input,
        }, guard ? { onStart: () => guard.enter([jobId], 'decode') } : {});
      } catch (err) {
        await guard?.leave([jobId], 'decode');
        return await this.failItem(base, err, { fetchMs, decodeMs: 0 }, this.contentOf(fetched, undefined), log);
      }
      await guard?.leave([jobId], 'decode');
    } finally {
      if (reserved > 0) this.o.byteBudget?.release(reserved);
    }
    const version = this.contentOf(fetched, decoded.sha256);
    if (!decoded.ok) {
      return this.failItem(base, new RevmodError(decoded.code, decoded.message), { fetchMs, decodeMs: 0 }, version, log);
    }
    const decodeMs = round1(decoded.decodeMs);
    // OCR runs beside the batch: its pool and the inference thread work at the same time.
    const ocr = decoded.ocrView && this.o.text ? this.recognise(decoded.ocrView, this.o.text) : undefined;
    const cheap = this.o.known && decoded.pdq ? [...decoded.signals, ...(await this.o.known.similar(decoded.pdq, data.meta))] : decoded.signals;
    const t = { fetchMs, decodeMs, detectMs: round1(decoded.detectMs) };
    if (cheap.some((sig) => this.o.policy.skipClassifierFor.includes(sig.reason))) {
      // The policy trusts these signals without the model (e.g. a listed known-good image); OCR
      // still has its say (a known copy may carry added text).
      const text = await this.ocrResult(base, ocr, log);
      if (text instanceof RevmodError) return this.failItem(base, text, t, version, log, { finalVerdict: true });
      return this.finish(base, this.decideWithoutScores(base, decoded, [...cheap, ...text.signals], version, { ...t, ocrMs: text.ocrMs }), log);
    }

    let frames: FrameResult[];
    try {
      const enqueuedAt = performance.now();
      const fired = cheap.map((sig) => sig.detector);
      frames = await Promise.all(decoded.tensors.map((tensor) => this.batcher.add({ jobId, tensor, enqueuedAt, decodeMs, detectMs: decoded.detectMs, fired })));
    } catch (err) {
      const e = toRevmodError(err);
      this.o.observer?.onRetry?.(e.code);
      log.warn({ code: e.code, attempt: base.attempt }, `batch failed, job will be retried: ${e.message}`);
      throw jobFailure(e);
    }
    const text = await this.ocrResult(base, ocr, log);
    if (text instanceof RevmodError) return this.failItem(base, text, t, version, log, { finalVerdict: true });
    const signals = [...cheap, ...text.signals];
    const verdict = await this.finish(base, this.judge(base, decoded, signals, frames, version, { ...t, ocrMs: text.ocrMs }), log, decoded.pdq);
    // The challenger scores after the verdict is out: off the decision path.
    if (shadow.ticket && decoded.shadow && verdict.error === undefined) shadow.ticket.submit({ verdict, ...decoded.shadow, signals });
    return verdict;
  }

  /** OCR and the text rules on one view, settled (never rejected). */
  private async recognise(view: PixelView, text: TextDetection): Promise<OcrOutcome> {
    const t0 = performance.now();
    try {
      const found = await text.detector.detect(view, text.options);
      const signals = found.map((sig): Signal => ({ detector: text.detector.name, reason: sig.reason, evidence: sig.evidence as unknown as Readonly<Record<string, unknown>> }));
      return { ok: true, signals, ocrMs: round1(msSince(t0)) };
    } catch (err) {
      return { ok: false, error: toRevmodError(err) };
    }
  }

  /** OCR's signals and time, or the error to settle the job with. */
  private async ocrResult(base: JobBase, ocr: Promise<OcrOutcome> | undefined, log: Logger): Promise<{ signals: readonly Signal[]; ocrMs: number | undefined } | RevmodError> {
    if (!ocr) return { signals: [], ocrMs: undefined };
    const outcome = await ocr;
    if (outcome.ok) {
      if (outcome.signals.length > 0) log.debug({ signals: outcome.signals.map(maskSignalForLog) }, 'text signals');
      return outcome;
    }
    const e = outcome.error;
    if (e.retryable && base.attempt < (base.job.opts.attempts ?? 1)) {
      this.o.observer?.onRetry?.(e.code);
      log.warn({ code: e.code, attempt: base.attempt }, `OCR failed, job will be retried: ${e.message}`);
      throw jobFailure(e);
    }
    // Out of attempts: fail closed (a person looks) rather than pass an image whose text went unread.
    return e;
  }

  /** Signs, publishes and (when scored) remembers a verdict, with the upload's PDQ hashes when computed. */
  private async finish(base: JobBase, unsigned: Verdict, log: Logger, pdq?: PdqHashes): Promise<Verdict> {
    const verdict = this.sealed(unsigned);
    await this.o.publisher.publish([verdict]);
    this.o.observer?.onVerdict?.(verdict);
    if (this.o.known && verdict.error === undefined && verdict.reusedFrom === undefined) {
      // Best effort: a lost cache entry only costs a later inference.
      await this.o.known.remember(verdict, pdq).catch((err: Error) => log.warn({ err: err.message }, 'could not remember the verdict for reuse'));
    }
    return verdict;
  }

  /** A verdict repeating an earlier one about the same bytes. */
  private reuse(base: JobBase, reuse: { verdict: Verdict; source: 'verdict' | 'decision' }, version: VerdictContentVersion, fetchMs: number, log: Logger): Promise<Verdict> {
    const earlier = reuse.verdict;
    const { signature: _s, ...rest } = earlier;
    const verdict: Verdict = {
      ...rest,
      schemaVersion: VERDICT_SCHEMA_VERSION, id: base.jobId, jobId: base.jobId, bucket: base.data.bucket, key: base.data.key, version,
      ...(reuse.source === 'decision' ? { reasons: [...new Set(['known_decision', ...earlier.reasons.filter((r) => r !== 'error')])] } : {}),
      reusedFrom: earlier.id,
      timings: this.timings(base.data, base.queueMs, fetchMs, 0, 0, 0),
      batch: null,
      meta: base.data.meta, attempt: base.attempt, worker: WORKER_ID, decidedAt: new Date().toISOString(),
    };
    log.info({ reusedFrom: earlier.id, source: reuse.source }, `verdict reused for identical bytes (${reuse.source})`);
    return this.finish(base, verdict, log);
  }

  /** The policy on signals alone (no scores): for uploads the policy trusts without the model. */
  private decideWithoutScores(base: JobBase, decoded: DecodeSuccess, signals: readonly Signal[], version: VerdictContentVersion, t: StageTimes): Verdict {
    const outcome = this.o.policy.evaluate({ scores: undefined, signals, meta: base.data.meta });
    return {
      schemaVersion: VERDICT_SCHEMA_VERSION, id: base.jobId, jobId: base.jobId, bucket: base.data.bucket, key: base.data.key, version,
      decision: outcome.decision, label: null, scores: null, reasons: outcome.reasons, labels: outcome.labels, evidence: evidenceOf(signals),
      policy: { name: this.o.policy.name, version: this.o.policy.version },
      ...(decoded.pages > 1 ? { frames: { count: decoded.pages, judged: decoded.frames, worst: decoded.frames[0]! } } : {}),
      model: this.modelOf(this.o.engine.provider ?? 'none'),
      timings: this.timings(base.data, base.queueMs, t.fetchMs, t.decodeMs, 0, 0, t.detectMs, t.ocrMs), batch: null,
      meta: base.data.meta, attempt: base.attempt, worker: WORKER_ID, decidedAt: new Date().toISOString(),
    };
  }

  /** The verdict as published and stored: signed when a key is configured. */
  private sealed(verdict: Verdict): Verdict {
    return this.o.sign ? this.o.sign(verdict) : verdict;
  }

  private contentOf(fetched: FetchedObject, sha256: string | undefined): VerdictContentVersion {
    return {
      ...(fetched.etag !== undefined ? { etag: fetched.etag } : {}),
      ...(fetched.versionId !== undefined ? { versionId: fetched.versionId } : {}),
      ...(sha256 !== undefined ? { sha256 } : {}),
    };
  }

  /** Scores every judged frame, takes the worst, and lets the policy decide. */
  private judge(base: JobBase, decoded: DecodeSuccess, signals: readonly Signal[], frames: readonly FrameResult[], version: VerdictContentVersion, t: StageTimes): Verdict {
    const first = frames[0]!;
    const timings = this.timings(base.data, base.queueMs, t.fetchMs, t.decodeMs, first.batchWaitMs, first.inferMs, t.detectMs, t.ocrMs);
    const scored = frames.map((f) => scoreRow(f.row, this.reading));
    if (scored.some((s) => s === undefined)) {
      // Fail closed: a broken model or export (NaN, ±Infinity) must never wave an image through.
      const bad = frames[scored.indexOf(undefined)]!.row;
      const e = new RevmodError('MODEL_OUTPUT_INVALID', `model ${this.o.model.name}@${this.o.model.version} produced non-finite scores [${Array.from(bad).join(', ')}]`);
      return this.errorVerdict(base, e, timings, first.batch, version);
    }
    const { scores, index } = worstFrame(scored as ImageScores[]);
    const outcome = this.o.policy.evaluate({ scores, signals, meta: base.data.meta });
    return {
      schemaVersion: VERDICT_SCHEMA_VERSION, id: base.jobId, jobId: base.jobId, bucket: base.data.bucket, key: base.data.key, version,
      decision: outcome.decision, label: scores.label, scores: scores.classes, groups: scores.groups, violate: scores.violate, topClass: scores.topClass,
      reasons: outcome.reasons, labels: outcome.labels, evidence: evidenceOf(signals),
      policy: { name: this.o.policy.name, version: this.o.policy.version },
      ...(decoded.pages > 1 ? { frames: { count: decoded.pages, judged: decoded.frames, worst: decoded.frames[index]! } } : {}),
      model: this.modelOf(first.provider), timings, batch: first.batch,
      meta: base.data.meta, attempt: base.attempt, worker: WORKER_ID, decidedAt: new Date().toISOString(),
    };
  }

  /** A permanent per-item error becomes an error verdict; a transient one is thrown for a retry. */
  private async failItem(base: JobBase, err: unknown, t: { fetchMs: number; decodeMs: number }, version: VerdictContentVersion | undefined, log: Logger, opts: { readonly finalVerdict?: boolean } = {}): Promise<Verdict> {
    const e = toRevmodError(err);
    const breaker = this.o.storageBreaker;
    if (opts.finalVerdict !== true && breaker && this.o.pauseIntake && STORAGE_OUTAGE_CODES.has(e.code) && breaker.failure()) {
      // Storage looks down from here: pause this worker's intake and hand the job back without
      // spending an attempt (DelayedError). At once, not after the pause: another worker that can
      // reach S3 takes it now (held back for the pause, the jobs a sick worker keeps grabbing cost
      // the fleet ~30 % of its rate in bench:sick-worker); paused workers take nothing meanwhile.
      this.o.observer?.onRetry?.(e.code);
      log.warn({ code: e.code, pauseMs: breaker.pauseMs }, `object store looks down (${breaker.threshold}+ failures in a row); pausing this worker's intake: ${e.message}`);
      this.o.pauseIntake(breaker.pauseMs);
      await base.job.moveToDelayed(Date.now(), base.token);
      throw new DelayedError();
    }
    if (e.retryable && opts.finalVerdict !== true) {
      this.o.observer?.onRetry?.(e.code);
      log.warn({ code: e.code, attempt: base.attempt }, `transient failure, job will be retried: ${e.message}`);
      throw jobFailure(e);
    }
    const verdict = this.sealed(this.errorVerdict(base, e, this.timings(base.data, base.queueMs, t.fetchMs, t.decodeMs, 0, 0), null, version));
    log.info({ code: e.code, key: base.data.key }, `error verdict: ${e.message}`);
    await this.o.publisher.publish([verdict]);
    this.o.observer?.onVerdict?.(verdict);
    return verdict;
  }

  /** A verdict for an image that could not be scored: always review, never pass. */
  errorVerdict(
    item: { jobId: string; data: ModerationJobData; attempt: number },
    e: RevmodError,
    timings: VerdictTimings,
    batch: Verdict['batch'],
    version?: VerdictContentVersion,
  ): Verdict {
    return {
      schemaVersion: VERDICT_SCHEMA_VERSION, id: item.jobId, jobId: item.jobId, bucket: item.data.bucket, key: item.data.key,
      ...(version !== undefined ? { version } : {}),
      decision: 'review', label: null, scores: null, reasons: ['error'], labels: [],
      policy: { name: this.o.policy.name, version: this.o.policy.version },
      model: this.modelOf(this.o.engine.provider ?? 'none'),
      timings, batch,
      error: { code: e.code, message: e.message },
      meta: item.data.meta, attempt: item.attempt, worker: WORKER_ID, decidedAt: new Date().toISOString(),
    };
  }

  private timings(data: ModerationJobData, queueMs: number, fetchMs: number, decodeMs: number, batchWaitMs: number, inferMs: number, detectMs?: number, ocrMs?: number): VerdictTimings {
    return { queueMs, fetchMs, decodeMs, ...(detectMs !== undefined ? { detectMs } : {}), ...(ocrMs !== undefined ? { ocrMs } : {}), batchWaitMs, inferMs, totalMs: Math.max(0, Date.now() - data.submittedAtMs) };
  }

  private async runBatch(items: BatchItem[], ctx: BatchContext): Promise<FrameResult[]> {
    const batchId = randomBytes(6).toString('hex');
    const startedAt = performance.now();
    const jobIds = [...new Set(items.map((i) => i.jobId))];
    await this.o.crashGuard?.enter(jobIds, 'inference');
    let result: BatchResult;
    try {
      result = await this.o.engine.run(items.map((i) => i.tensor));
    } finally {
      await this.o.crashGuard?.leave(jobIds, 'inference');
    }
    const { logits, inferMs } = result;
    const provider = result.provider ?? this.o.engine.provider ?? 'cpu';
    const classes = this.reading.classes.length;
    const batch = { id: batchId, size: items.length };
    let invalid = 0;
    const results = items.map((item, i): FrameResult => {
      const row = logits.subarray(i * classes, (i + 1) * classes);
      if (!row.every((x) => Number.isFinite(x))) invalid += 1;
      return { row, batch, inferMs: round1(inferMs), batchWaitMs: round1(startedAt - item.enqueuedAt), provider };
    });
    this.noteOutputValidity(batchId, invalid, items.length);
    const stats = { id: batchId, size: items.length, fillWaitMs: round1(ctx.fillWaitMs), inferMs: round1(inferMs), provider };
    const mean = (f: (i: BatchItem) => number) => round1(items.reduce((n, i) => n + f(i), 0) / items.length);
    const decodeMs = mean((i) => i.decodeMs);
    const detectMs = mean((i) => i.detectMs);
    const fired: Record<string, number> = {};
    for (const item of items) for (const d of item.fired) fired[d] = (fired[d] ?? 0) + 1;
    const detectors = Object.keys(this.o.detectors);
    this.o.logger.info({ batch: { ...stats, decodeMsMean: decodeMs, detectMsMean: detectMs, detectors, fired, invalidOutputs: invalid } },
      `batch ${batchId}: ${items.length} images, fill ${stats.fillWaitMs} ms, decode ${decodeMs} ms, detectors [${detectors.join(',')}] ${detectMs} ms` +
      `${Object.keys(fired).length > 0 ? ` (fired ${Object.entries(fired).map(([d, n]) => `${d}×${n}`).join(', ')})` : ''}, infer ${stats.inferMs} ms${invalid > 0 ? `, ${invalid} non-finite` : ''}`);
    this.o.observer?.onBatch?.(stats);
    return results;
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

  /** Runs every pending item now (partial batch) and waits for the batches in flight. */
  async drain(): Promise<void> {
    await this.batcher.close();
  }
}
