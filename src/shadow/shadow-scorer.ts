import type { Logger } from 'pino';
import type { Verdict } from '@revmod/client';
import type { Signal } from '../detectors/detector';
import type { InferenceBackend } from '../model/inference-backend';
import { MicroBatcher } from '../model/micro-batcher';
import { cardInputGeometry, type ModelCard } from '../model/model-card';
import type { ModelIdentity } from '../pipeline/moderation-pipeline';
import type { PipelineObserver, ShadowOutcome } from '../pipeline/pipeline-observer';
import { scoreRow, worstFrame, type ImageScores, type Policy, type ScoreReading } from '../policy';
import type { ShadowBuild, ShadowInput } from '../pool/decode-task';
import type { DecodeOptions, NormalizationSpec, PreprocessOptions } from '../preprocess';
import { sampledById } from '../review/sampling';
import type { ShadowBudget } from './shadow-budget';
import type { ShadowLog, ShadowRecord, ShadowSide } from './shadow-log';

/** Options of {@link ShadowScorer}. */
export interface ShadowScorerOptions {
  /** The challenger's inference; the scorer closes it with itself. */
  readonly engine: InferenceBackend & { close(): Promise<void> };
  readonly model: ModelIdentity;
  readonly card: ModelCard;
  /** The policy the challenger would decide with (its card's thresholds, the worker's rules). */
  readonly policy: Policy;
  /** The worker's decode limits; the geometry comes from the challenger's card. */
  readonly decode: DecodeOptions;
  readonly budget: ShadowBudget;
  readonly log: ShadowLog;
  readonly batchSize: number;
  readonly maxWaitMs: number;
  /**
   * Images waiting for or in a challenger run at most; more are not shadowed (a slow challenger
   * never piles up memory).
   * @defaultValue 2 × batchSize
   */
  readonly maxPendingImages?: number;
  /** Share of sampleable disagreements sent to review (REVMOD_SHADOW_REVIEW_RATE). */
  readonly reviewRate: number;
  /** Puts a verdict on the review queue as a shadow sample. */
  readonly sendToReview: (verdict: Verdict) => Promise<void>;
  readonly logger: Logger;
  readonly observer?: PipelineObserver;
}

/** An image the champion judged, with the challenger's tensors. */
export interface ShadowItem {
  /** The champion's verdict, as published. */
  readonly verdict: Verdict;
  readonly tensors: readonly Float32Array[];
  readonly build: ShadowBuild;
  readonly buildMs: number;
  /** The detectors' signals the champion's policy saw (the challenger's sees the same). */
  readonly signals: readonly Signal[];
}

const sameJson = (a: unknown, b: unknown): boolean => JSON.stringify(a) === JSON.stringify(b);

/** A place for one image in the challenger's budget and backlog: submit it, or cancel it. */
export interface ShadowTicket {
  /** What the pool must build for the challenger beside this champion. */
  readonly input: ShadowInput;
  /** Scores the image in the background (never throws, never awaited by the job). */
  submit(item: ShadowItem): void;
  /** The image will not be scored (its job ended otherwise): the reservation is given back. Idempotent. */
  cancel(): void;
}

/**
 * Scores images with a challenger model off the decision path: after the champion's verdict is
 * published, the challenger's tensors (the champion's, copied, when the two cards preprocess
 * alike) are batched and inferred in its own thread, its policy decides, and the two are compared
 * on decisions and top groups. Within a share of time (ShadowBudget), with a bounded backlog;
 * nothing here can fail or delay a job.
 */
export class ShadowScorer {
  readonly name: string;
  private readonly batcher: MicroBatcher<Float32Array, { row: Float32Array; ms: number }>;
  private inputMemo: { readonly preprocess: PreprocessOptions; readonly normalization: NormalizationSpec; readonly input: ShadowInput } | undefined;
  /** Estimated cost of one image (build and inference, ms), learnt as images complete. */
  private estimateMs = 50;
  private readonly reading: ScoreReading;
  readonly preprocess: PreprocessOptions;
  private readonly maxPending: number;
  private pendingImages = 0;
  private closed = false;
  private closing: Promise<void> | undefined;
  private buffered: ShadowRecord[] = [];
  private flushing: Promise<void> | undefined;
  private failuresLogged = 0;
  /** Images compared, and of them those whose decision differed. */
  compared = 0;
  disagreed = 0;

  constructor(private readonly o: ShadowScorerOptions) {
    this.name = `${o.model.name}@${o.model.version}`;
    this.reading = { classes: o.card.classes, groups: o.card.groups, scores: o.card.output.scores };
    this.preprocess = { ...o.decode, ...cardInputGeometry(o.card) };
    this.maxPending = o.maxPendingImages ?? 2 * o.batchSize;
    this.batcher = new MicroBatcher<Float32Array, { row: Float32Array; ms: number }>(
      { maxSize: o.batchSize, maxWaitMs: o.maxWaitMs, maxInFlight: 1 },
      async (tensors) => {
        const result = await o.engine.run(tensors);
        o.observer?.onShadowCost?.('infer', result.inferMs, this.name);
        const classes = this.reading.classes.length;
        // Each tensor's share of the run, settled against its image's reservation.
        return tensors.map((_, i) => ({ row: result.logits.slice(i * classes, (i + 1) * classes), ms: result.inferMs / tensors.length }));
      },
    );
  }

  /** What the pool must build for this challenger, beside a champion that takes `champion`. */
  inputFor(champion: { readonly preprocess: PreprocessOptions; readonly normalization: NormalizationSpec }): ShadowInput {
    // A pipeline passes the same two objects for every image: compare them once.
    const memo = this.inputMemo;
    if (memo && memo.preprocess === champion.preprocess && memo.normalization === champion.normalization) return memo.input;
    const normalization = this.o.card.preprocessing;
    const input: ShadowInput = !sameJson(champion.preprocess, this.preprocess) ? { build: 'decode', preprocess: this.preprocess, normalization }
      : sameJson(champion.normalization, normalization) ? { build: 'copy' } : { build: 'renormalize', normalization };
    this.inputMemo = { ...champion, input };
    return input;
  }

  /**
   * A place for the next image, or undefined (the refusal is counted). Its estimated cost is
   * charged now; the ticket must be submitted or cancelled.
   */
  admit(champion: { readonly preprocess: PreprocessOptions; readonly normalization: NormalizationSpec }): ShadowTicket | undefined {
    if (this.closed) return undefined;
    if (this.pendingImages >= this.maxPending) {
      this.o.observer?.onShadowSkipped?.('backlog', this.name);
      return undefined;
    }
    if (!this.o.budget.admits()) {
      this.o.observer?.onShadowSkipped?.('budget', this.name);
      return undefined;
    }
    const reservedMs = this.estimateMs;
    this.o.budget.charge(reservedMs);
    this.pendingImages += 1;
    let settled = false;
    const settle = (actualMs: number | undefined) => {
      if (settled) return false;
      settled = true;
      this.pendingImages -= 1;
      if (actualMs === undefined) {
        this.o.budget.refund(reservedMs);
      } else {
        if (actualMs > reservedMs) this.o.budget.charge(actualMs - reservedMs);
        else this.o.budget.refund(reservedMs - actualMs);
        this.estimateMs += 0.2 * (actualMs - this.estimateMs);
      }
      return true;
    };
    let submitted = false;
    return {
      input: this.inputFor(champion),
      submit: (item) => {
        if (submitted || settled) return;
        submitted = true;
        this.run(item, settle);
      },
      // After submit the run settles the place itself, at its real cost.
      cancel: () => { if (!submitted) settle(undefined); },
    };
  }

  /** Scores one image in the background; never throws, never awaited by the job. */
  private run(item: ShadowItem, settle: (actualMs: number | undefined) => boolean): void {
    this.o.observer?.onShadowCost?.('build', item.buildMs, this.name);
    if (this.closed || item.tensors.length === 0) {
      settle(item.buildMs);
      return;
    }
    void Promise.all(item.tensors.map((t) => this.batcher.add(t))).then(
      (rows) => {
        settle(item.buildMs + rows.reduce((n, r) => n + r.ms, 0));
        this.compare(item, rows.map((r) => r.row));
      },
      (err: Error) => {
        settle(item.buildMs);
        this.o.observer?.onShadowSkipped?.('failed', this.name);
        // One line per failure burst is enough: the champion is unaffected.
        if (this.failuresLogged++ % 100 === 0) this.o.logger.warn({ challenger: this.name, err: err.message }, `shadow scoring with ${this.name} failed; the champion is unaffected`);
      },
    );
  }

  private compare(item: ShadowItem, rows: readonly Float32Array[]): void {
    const v = item.verdict;
    const scored = rows.map((r) => scoreRow(r, this.reading));
    if (scored.some((s) => s === undefined) || v.violate == null || v.label == null) {
      this.o.observer?.onShadowSkipped?.('failed', this.name);
      return;
    }
    const { scores } = worstFrame(scored as ImageScores[]);
    const outcome = this.o.policy.evaluate({ scores, signals: item.signals, meta: v.meta });
    const champion: ShadowSide = { model: `${v.model.name}@${v.model.version}`, decision: v.decision, label: v.label, violate: v.violate, groups: v.groups ?? {}, reasons: v.reasons };
    const challenger: ShadowSide = { model: this.name, decision: outcome.decision, label: scores.label, violate: scores.violate, groups: scores.groups, reasons: outcome.reasons };
    const kind: ShadowOutcome['outcome'] = champion.decision !== challenger.decision ? 'decision_differs' : champion.label !== challenger.label ? 'label_differs' : 'agree';
    // People settle what only the challenger would have stopped; what the champion stopped they see anyway.
    const sampled = kind === 'decision_differs' && champion.decision === 'pass' && v.error === undefined && sampledById('revmod-shadow-sample', v.id, this.o.reviewRate);
    if (sampled) {
      this.o.sendToReview(v).catch((err: Error) => this.o.logger.warn({ jobId: v.id, err: err.message }, 'could not send a shadow disagreement to review'));
    }
    this.compared += 1;
    if (kind === 'decision_differs') this.disagreed += 1;
    this.o.observer?.onShadow?.({ champion: champion.model, challenger: this.name, outcome: kind, build: item.build, sampled });
    this.record({ jobId: v.jobId, bucket: v.bucket, key: v.key, at: new Date().toISOString(), champion, challenger, build: item.build, sampled });
  }

  /** Appends records in groups: one Redis round trip per burst, not per image. */
  private record(r: ShadowRecord): void {
    this.buffered.push(r);
    this.flushing ??= new Promise<void>((resolve) => setImmediate(resolve)).then(async () => {
      const records = this.buffered;
      this.buffered = [];
      this.flushing = undefined;
      await this.o.log.append(records).catch((err: Error) => this.o.logger.warn({ err: err.message, records: records.length }, 'could not append to the shadow log'));
    });
  }

  /** Images waiting for or in a challenger run. */
  get pending(): number {
    return this.pendingImages;
  }

  /** Finishes the images taken, writes their records and closes the challenger's engine (idempotent). */
  close(): Promise<void> {
    this.closing ??= (async () => {
      this.closed = true;
      await this.batcher.close().catch(() => undefined);
      while (this.pendingImages > 0) await new Promise((r) => setTimeout(r, 5));
      while (this.flushing) await this.flushing;
      await this.o.engine.close();
    })();
    return this.closing;
  }
}
