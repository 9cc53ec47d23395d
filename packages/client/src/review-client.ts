import { Queue } from 'bullmq';
import type { Redis } from 'ioredis';
import { loadClientConfig, type ClientConfig, type ClientConfigInput } from './client-settings';
import { RevmodError } from './errors';
import { createRedisConnection } from './redis-connection';
import { decisionStateKey } from './review-keys';
import type { AppealRequest, DecisionState } from './review-types';
import type { ModerationJobData, Verdict } from './types';

export interface ReviewClientOptions {
  readonly config?: ClientConfigInput;
  /** An existing ioredis connection to share; by default the client opens (and closes) its own. */
  readonly connection?: Redis;
  /** Connection errors while Redis is unreachable. @defaultValue ignored */
  readonly onError?: (err: Error) => void;
}

/** Longest appeal reason accepted, in characters. */
export const MAX_APPEAL_REASON_CHARS = 1_000;

const JOB_ID = /^[A-Za-z0-9_-]{1,128}$/;

/** The state implied by a verdict alone, before any person looked at it. */
export function stateFromVerdict(verdict: Verdict): DecisionState {
  const base = { jobId: verdict.jobId, source: 'model' as const, round: 0, updatedAt: verdict.decidedAt };
  return verdict.decision === 'review'
    ? { ...base, status: 'pending', outcome: null }
    : { ...base, status: 'final', outcome: verdict.decision };
}

/**
 * What the upload service asks about people's decisions: the final state of an image, and appeals.
 *
 * ```ts
 * const review = new ReviewClient();
 * const state = await review.getDecision(jobId);       // { status: 'final', outcome: 'block', source: 'reviewer', … }
 * await review.appeal(jobId, 'the buyer says this is the product, not an ad');
 * ```
 */
export class ReviewClient {
  readonly config: ClientConfig;
  private readonly connection: Redis;
  private readonly ownsConnection: boolean;
  private readonly moderation: Queue<ModerationJobData, Verdict>;
  private readonly results: Queue<Verdict>;
  private readonly appeals: Queue<AppealRequest>;

  constructor(options: ReviewClientOptions = {}) {
    this.config = loadClientConfig(options.config);
    this.ownsConnection = options.connection === undefined;
    this.connection = options.connection ?? createRedisConnection(this.config, 'producer');
    const opts = { connection: this.connection, prefix: this.config.redis.prefix };
    this.moderation = new Queue(this.config.queues.moderation, opts);
    this.results = new Queue(this.config.queues.results, opts);
    this.appeals = new Queue(this.config.queues.appeals, opts);
    const onError = options.onError ?? (() => undefined);
    for (const q of [this.moderation, this.results, this.appeals]) q.on('error', onError);
  }

  private checkJobId(jobId: unknown): string {
    if (typeof jobId !== 'string' || !JOB_ID.test(jobId)) {
      throw new RevmodError('INVALID_JOB', `jobId must be a job id (letters, digits, - and _), received ${JSON.stringify(jobId)}`);
    }
    return jobId;
  }

  /** The verdict of a job, from the moderation job or the results queue, while retained. */
  private async verdictOf(jobId: string): Promise<Verdict | undefined> {
    const job = await this.moderation.getJob(jobId);
    const fromJob = job?.returnvalue as Verdict | null | undefined;
    if (fromJob) return fromJob;
    return (await this.results.getJob(jobId))?.data ?? undefined;
  }

  /**
   * The final state of a job: decided by a person, decided by the model alone, or pending review.
   * Undefined when nothing is known about the job (never submitted, still being moderated, or past
   * retention).
   */
  async getDecision(jobId: string): Promise<DecisionState | undefined> {
    const id = this.checkJobId(jobId);
    const stored = await this.connection.get(decisionStateKey(this.config.redis.prefix, id));
    if (stored !== null) return JSON.parse(stored) as DecisionState;
    const verdict = await this.verdictOf(id);
    return verdict ? stateFromVerdict(verdict) : undefined;
  }

  /**
   * Reopens a decided image so that a person looks at it again (a shop or a buyer contests the
   * outcome). It returns to the review queue marked as an appeal; the outcome in force stays until
   * it is decided. Appealing the same decision again adds nothing. Throws ITEM_NOT_FOUND for an
   * unknown job, DECISION_INVALID for an empty or overlong reason, or while the job is still pending.
   */
  async appeal(jobId: string, reason: string): Promise<{ readonly appealId: string }> {
    const id = this.checkJobId(jobId);
    if (typeof reason !== 'string' || reason.trim() === '') {
      throw new RevmodError('DECISION_INVALID', `reason must be a non-empty string, received ${JSON.stringify(reason)}`);
    }
    if (reason.length > MAX_APPEAL_REASON_CHARS) {
      throw new RevmodError('DECISION_INVALID', `reason must be at most ${MAX_APPEAL_REASON_CHARS} characters, received ${reason.length}`);
    }
    const state = await this.getDecision(id);
    if (!state) throw new RevmodError('ITEM_NOT_FOUND', `no verdict or decision is known for job ${id}: nothing to appeal`);
    if (state.status === 'pending') throw new RevmodError('DECISION_INVALID', `job ${id} is still pending review: there is no decision to appeal yet`);
    const appealId = `appeal-${id}-r${state.round}`;
    const request: AppealRequest = { jobId: id, reason: reason.trim(), appealedAt: new Date().toISOString(), round: state.round };
    await this.appeals.add('appeal', request, {
      jobId: appealId,
      attempts: this.config.jobs.attempts,
      backoff: { type: 'exponential', delay: this.config.jobs.backoffMs },
      removeOnComplete: { age: this.config.jobs.retainCompletedSeconds },
      removeOnFail: { age: this.config.jobs.retainFailedSeconds },
    });
    return { appealId };
  }

  async close(): Promise<void> {
    await Promise.all([this.moderation.close(), this.results.close(), this.appeals.close()]);
    if (this.ownsConnection) await this.connection.quit().catch(() => this.connection.disconnect());
  }
}
