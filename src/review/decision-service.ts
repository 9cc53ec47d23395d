import type { Queue } from 'bullmq';
import type { Logger } from 'pino';
import {
  decisionIdFor, DECISION_SCHEMA_VERSION, RevmodError,
  type DecisionKind, type DecisionState, type Outcome, type ReviewDecision,
} from '@revmod/client';
import { hasRole, type Identity } from '../identity';
import type { VerdictCache } from '../known/verdict-cache';
import type { DecisionLog } from './decision-log';
import type { ReviewMetrics } from './review-metrics';
import type { DecisionSummary, ReviewItem, ReviewStore } from './review-store';
import type { Reason } from './taxonomy';
import { modelLean, verdictForLog } from './verdict-view';
import type { ShadowLog } from '../shadow/shadow-log';

/** What a reviewer submits. */
export interface DecisionInput {
  readonly outcome: Outcome;
  readonly reasons?: readonly string[];
  readonly note?: string;
}

/** Longest note on a decision or an escalation, in characters. */
export const MAX_NOTE_CHARS = 500;

/** Options of {@link DecisionService}. */
export interface DecisionServiceOptions {
  readonly store: ReviewStore;
  readonly log: DecisionLog;
  readonly queue: Queue<ReviewDecision>;
  readonly taxonomy: readonly Reason[];
  /** Consumed decisions stay on the queue this long (replays within it add nothing). */
  readonly retainDecisionsSeconds: number;
  readonly keepOcrText: boolean;
  readonly metrics?: ReviewMetrics;
  /** Known images: each final decision is recorded by the image's sha256, so re-uploads get it without a second look. */
  readonly known?: VerdictCache;
  /** The shadow comparisons by job: a decided image a challenger scored is counted in the metrics. */
  readonly shadow?: Pick<ShadowLog, 'get'>;
  readonly logger: Logger;
}

export interface DecisionResult {
  readonly decision: DecisionSummary;
  /** True when this was a retry of a decision already recorded with the same claim. */
  readonly repeated: boolean;
}

/** BullMQ options of a decision job: its id is the decision id, so a republish adds nothing. */
export function decisionJobOptions(decisionId: string, retainSeconds: number) {
  return {
    jobId: decisionId,
    // Exponential from 1 s over 20 attempts: about 12 days of retries before a decision dead-letters.
    attempts: 20,
    backoff: { type: 'exponential' as const, delay: 1_000 },
    removeOnComplete: { age: retainSeconds },
    removeOnFail: { age: retainSeconds },
  };
}

function checkNote(note: unknown, what: string): string | undefined {
  if (note === undefined || note === null || note === '') return undefined;
  if (typeof note !== 'string') throw new RevmodError('DECISION_INVALID', `${what} must be a string, received ${JSON.stringify(note)}`);
  if (note.length > MAX_NOTE_CHARS) throw new RevmodError('DECISION_INVALID', `${what} must be at most ${MAX_NOTE_CHARS} characters, received ${note.length}`);
  return note.trim() || undefined;
}

/**
 * Turns a reviewer's submission into a recorded decision, in an order that makes an acknowledged
 * decision durable: check the claim (and hold its lease) → append to the S3 log → record it in
 * Redis with an outbox entry → publish to the decisions queue → acknowledge. A failure before the
 * log write refuses the decision; one after it is finished by the outbox (or by `decisions replay`).
 */
export class DecisionService {
  private readonly codes: ReadonlySet<string>;

  constructor(private readonly o: DecisionServiceOptions) {
    this.codes = new Set(o.taxonomy.map((r) => r.code));
  }

  /** Validates a submission: outcome, known reasons (one at least to block), the note's length. */
  validate(input: unknown): DecisionInput {
    const i = (typeof input === 'object' && input !== null ? input : {}) as Record<string, unknown>;
    if (i.outcome !== 'pass' && i.outcome !== 'block') throw new RevmodError('DECISION_INVALID', `outcome must be "pass" or "block", received ${JSON.stringify(i.outcome)}`);
    const reasons = i.reasons ?? [];
    if (!Array.isArray(reasons) || reasons.some((r) => typeof r !== 'string' || !this.codes.has(r))) {
      throw new RevmodError('DECISION_INVALID', `reasons must be codes of the taxonomy (${[...this.codes].join(', ')}), received ${JSON.stringify(reasons)}`);
    }
    if (i.outcome === 'block' && reasons.length === 0) throw new RevmodError('DECISION_INVALID', 'a rejection needs a reason, received none');
    const note = checkNote(i.note, 'note');
    return { outcome: i.outcome, reasons: [...new Set(reasons as string[])], ...(note ? { note } : {}) };
  }

  validateNote(note: unknown): string {
    return checkNote(note, 'note') ?? '';
  }

  private build(identity: Identity, item: ReviewItem, input: DecisionInput, nowMs: number): ReviewDecision {
    const claim = item.claim!;
    const reversal = claim.reversal;
    const kind: DecisionKind = reversal ? 'reversal' : item.appeal ? 'appeal' : item.kind;
    if (reversal && input.outcome === item.outcome) {
      throw new RevmodError('DECISION_INVALID', `a reversal must change the outcome, and ${item.id} is already ${item.outcome}`);
    }
    if (item.lane === 'escalated' && !hasRole(identity, 'lead')) throw new RevmodError('FORBIDDEN', 'escalated items are decided by leads');
    const round = item.round + 1;
    const lean = modelLean(item.verdict);
    const verdict = verdictForLog(item.verdict, this.o.keepOcrText);
    return {
      schemaVersion: DECISION_SCHEMA_VERSION,
      id: decisionIdFor(item.id, round),
      jobId: item.id,
      bucket: item.bucket,
      key: item.key,
      sha256: item.sha256,
      round,
      kind,
      outcome: input.outcome,
      previousOutcome: item.outcome,
      reasons: input.reasons ?? [],
      ...(input.note ? { note: input.note } : {}),
      reviewer: { id: identity.id, role: hasRole(identity, 'lead') ? 'lead' : 'reviewer' },
      escalated: item.escalation !== undefined,
      ...(reversal && item.last ? { reverses: item.last.id } : {}),
      ...(item.appeal ? { appeal: item.appeal } : {}),
      enqueuedAt: new Date(item.enqueuedAtMs).toISOString(),
      claimedAt: new Date(claim.claimedAtMs).toISOString(),
      decidedAt: new Date(Math.max(nowMs, Date.now())).toISOString(),
      modelDecision: item.verdict.decision,
      overturned: lean === null ? null : lean !== input.outcome,
      model: item.verdict.model,
      meta: item.verdict.meta,
      verdict,
    };
  }

  async decide(identity: Identity, id: string, token: string, rawInput: unknown): Promise<DecisionResult> {
    const input = this.validate(rawInput);
    const begin = await this.o.store.beginDecision(identity.id, id, token);
    if (begin.status === 'done') {
      const same = begin.last.outcome === input.outcome && [...begin.last.reasons].sort().join() === [...(input.reasons ?? [])].sort().join();
      if (!same) throw new RevmodError('DECISION_CONFLICT', `this claim already decided ${id} as ${begin.last.outcome} (${begin.last.reasons.join(', ') || 'no reason'}); the first decision stands`);
      return { decision: begin.last, repeated: true };
    }
    let decision: ReviewDecision;
    try {
      decision = this.build(identity, begin.item, input, begin.nowMs);
      await this.o.log.append(decision);
    } catch (err) {
      await this.o.store.abortDecision(identity.id, id, token).catch(() => undefined);
      if ((err as RevmodError).code === 'DECISION_LOG_UNAVAILABLE') {
        this.o.metrics?.onLogFailure();
        this.o.logger.error({ err, jobId: id }, 'decision refused: the decision log could not be written');
      }
      throw err;
    }
    const { verdict: _snapshot, ...summary } = decision;
    const state: DecisionState = { jobId: id, status: 'final', outcome: decision.outcome, source: 'reviewer', round: decision.round, decision: summary, updatedAt: decision.decidedAt };
    await this.o.store.commitDecision(identity.id, token, decision, state);
    this.o.metrics?.onDecision(decision);
    if (this.o.shadow && this.o.metrics) {
      const metrics = this.o.metrics;
      // Best effort, off the reviewer's path: a miss only loses one count.
      void this.o.shadow.get(decision.jobId).then((r) => { if (r) metrics.onShadowDecided(r, decision); }, () => undefined);
    }
    await this.remember(begin.item, decision);
    // Durable and recorded: the reviewer need not wait for the queue; a failed publish stays in the outbox.
    void this.publish(decision).catch((err) => this.o.logger.warn({ err, decisionId: decision.id }, 'decision recorded; publishing it is left to the outbox'));
    return { decision: summary, repeated: false };
  }

  /**
   * Records the decision for the image's bytes: a re-upload of them gets this outcome and these
   * reasons (and `reusedFrom` the reviewed verdict). Best effort: the decision itself is durable in
   * the log already; a lost record only costs a later second look.
   */
  private async remember(item: ReviewItem, decision: ReviewDecision): Promise<void> {
    if (!this.o.known || item.sha256 === null) return;
    await this.o.known.recordDecision(item.sha256, item.verdict, decision)
      .catch((err: Error) => this.o.logger.warn({ err: err.message, jobId: item.id }, 'decision recorded; keeping it for re-uploads of the same bytes failed'));
  }

  private async publish(decision: ReviewDecision): Promise<void> {
    await this.o.queue.add(decision.outcome, decision, decisionJobOptions(decision.id, this.o.retainDecisionsSeconds));
    await this.o.store.ackOutbox(decision.id);
  }

  /** Publishes whatever the outbox still holds (a publish that failed, a console that stopped meanwhile). */
  async drainOutbox(): Promise<number> {
    const pending = await this.o.store.outbox();
    for (const d of pending) await this.publish(d);
    return pending.length;
  }
}
