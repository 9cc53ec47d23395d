import type { Verdict, VerdictModel } from './types';

/**
 * The decision format's version. Like verdicts, decisions only grow within a major version of this
 * package: consumers ignore fields they do not know.
 */
export const DECISION_SCHEMA_VERSION = 1;

/** What the upload service does with the image: show it (`pass`) or take it down (`block`). */
export type Outcome = 'pass' | 'block';

/**
 * Why a person looked at the image:
 * - `decide`: a `review` verdict, on hold until a person decides;
 * - `audit`: a `block` verdict, already final and acted on, that a person may reverse;
 * - `sample`: a QC sample of an auto-passed image, shown blind (without the model's decision);
 * - `appeal`: a decided image reopened by `appeal()`;
 * - `reversal`: a lead reversing an earlier decision.
 */
export type DecisionKind = 'decide' | 'audit' | 'sample' | 'appeal' | 'reversal';

/** The person behind a decision. */
export interface Reviewer {
  readonly id: string;
  readonly role: 'reviewer' | 'lead';
}

/**
 * One decision by a person, published to the decisions queue and appended to the decision log.
 * `id` is `${jobId}-r${round}`: publishing or replaying the same decision adds nothing.
 */
export interface ReviewDecision {
  /** {@link DECISION_SCHEMA_VERSION} when written by this release. */
  readonly schemaVersion: number;
  readonly id: string;
  readonly jobId: string;
  readonly bucket: string;
  readonly key: string;
  /** sha256 of the judged bytes, when the verdict carried it; null otherwise. */
  readonly sha256: string | null;
  /** 1 for the first decision on this job; each later one (appeal, reversal) adds one. Apply only the highest. */
  readonly round: number;
  readonly kind: DecisionKind;
  /** The outcome to apply. */
  readonly outcome: Outcome;
  /** The outcome in force before this decision: the verdict's for `audit`/`sample`, the last decision's for `appeal`/`reversal`, null for `decide` (the image was on hold). */
  readonly previousOutcome: Outcome | null;
  /** Reason codes from the review taxonomy; at least one when `outcome` is `block`. */
  readonly reasons: readonly string[];
  readonly note?: string;
  readonly reviewer: Reviewer;
  /** The item was escalated to a lead before this decision. */
  readonly escalated: boolean;
  /** For reversals: the id of the decision reversed. */
  readonly reverses?: string;
  /** For appeals: what the appellant said. */
  readonly appeal?: { readonly reason: string; readonly appealedAt: string };
  /** When the item entered the review queue (or was reopened). */
  readonly enqueuedAt: string;
  readonly claimedAt: string;
  readonly decidedAt: string;
  /** The model's decision in the verdict (`review`, `block`, or `pass` for samples). */
  readonly modelDecision: Verdict['decision'];
  /** Whether the person disagreed with the model's lean (null when the model had none, e.g. low confidence or an error). */
  readonly overturned: boolean | null;
  readonly model: VerdictModel;
  readonly meta: Readonly<Record<string, unknown>>;
  /** The verdict the person saw, as it was. */
  readonly verdict: Verdict;
}

/**
 * The state of an image's moderation, as `getDecision(jobId)` returns it.
 * - `status: 'final'`, `source: 'model'`: an auto-decided verdict (pass or block) with no person involved yet.
 * - `status: 'final'`, `source: 'reviewer'`: a person decided; `decision` is the latest.
 * - `status: 'pending'`: a person will decide (a `review` verdict, or an appeal); `outcome` is what is in
 *   force meanwhile (null: keep the image on hold).
 */
export interface DecisionState {
  readonly jobId: string;
  readonly status: 'pending' | 'final';
  readonly outcome: Outcome | null;
  readonly source: 'model' | 'reviewer';
  /** Decisions so far (0 before any person decided). */
  readonly round: number;
  /** The latest decision, without its verdict snapshot. */
  readonly decision?: Omit<ReviewDecision, 'verdict'>;
  readonly updatedAt: string;
}

/** What happened to a review item, as `watchReview()` reports it. */
export type ReviewEventType = 'queued' | 'claimed' | 'released' | 'expired' | 'skipped' | 'escalated' | 'decided' | 'appealed' | 'deleted';

export interface ReviewEvent {
  /** The stream entry id: pass it as `from` to resume after it. */
  readonly streamId: string;
  readonly type: ReviewEventType;
  readonly jobId: string;
  /** Which list the item is in: `decide`, `audit`, `escalated` (or empty once decided). */
  readonly lane: string;
  readonly kind: string;
  /** The user who acted, when a person did. */
  readonly by?: string;
  readonly decisionId?: string;
  readonly at: string;
}

/** What `appeal()` enqueues on the appeals queue for the console to reopen. */
export interface AppealRequest {
  readonly jobId: string;
  readonly reason: string;
  readonly appealedAt: string;
  /** The decision round being contested (0: the model's verdict). */
  readonly round: number;
}
