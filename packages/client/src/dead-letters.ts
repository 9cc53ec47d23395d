import type { Job, Queue } from 'bullmq';
import { isErrorCode, type ErrorCode } from './errors';
import type { ModerationJobData, Verdict } from './types';

/**
 * The dead-letter view: moderation jobs that failed for good stay in BullMQ's failed list (kept for
 * worker.retainFailedSeconds) with their last error. Two kinds end there: invalid payloads (failed
 * at once, no retry can help) and transient failures that outlasted every attempt (storage down for
 * longer than the backoff schedule, a job that stalled more than maxStalledCount times). Once the
 * cause is fixed, `retryFailed` puts them back in the queue with a fresh attempt budget.
 *
 * ```ts
 * const client = new ModerationClient();
 * for (const d of await listFailed(client.queue)) console.log(d.jobId, d.code, d.failedReason);
 * await retryFailed(client.queue, { code: 'STORAGE_UNAVAILABLE' });
 * ```
 */
export interface DeadLetter {
  readonly jobId: string;
  readonly bucket: string | undefined;
  readonly key: string | undefined;
  /** The last error as BullMQ recorded it; revmod's own failures read `CODE: message`. */
  readonly failedReason: string;
  /** The stable code at the start of failedReason, when there is one. */
  readonly code: ErrorCode | undefined;
  readonly attemptsMade: number;
  /** Epoch ms of the final failure. */
  readonly failedAtMs: number | undefined;
  /** Epoch ms of the submit. */
  readonly submittedAtMs: number;
}

export type ModerationQueue = Queue<ModerationJobData, Verdict>;

function codeOf(reason: string): ErrorCode | undefined {
  const m = /^([A-Z][A-Z_]+): /.exec(reason);
  return m && isErrorCode(m[1]) ? m[1] : undefined;
}

function toDeadLetter(job: Job<ModerationJobData, Verdict>): DeadLetter {
  const data = (job.data ?? {}) as Partial<ModerationJobData>;
  const reason = job.failedReason ?? '';
  return {
    jobId: job.id ?? '',
    bucket: typeof data.bucket === 'string' ? data.bucket : undefined,
    key: typeof data.key === 'string' ? data.key : undefined,
    failedReason: reason,
    code: codeOf(reason),
    attemptsMade: job.attemptsMade,
    failedAtMs: job.finishedOn ?? undefined,
    submittedAtMs: job.timestamp,
  };
}

/** Failed moderation jobs, newest first; `start`/`end` page through them (inclusive, default 0..99). */
export async function listFailed(queue: ModerationQueue, options: { start?: number; end?: number } = {}): Promise<DeadLetter[]> {
  const jobs = await queue.getFailed(options.start ?? 0, options.end ?? 99);
  return jobs.filter((j): j is Job<ModerationJobData, Verdict> => j !== undefined && j !== null).map(toDeadLetter);
}

export interface RetryFailedOptions {
  /** Only these job ids (default: every failed job). */
  readonly jobIds?: readonly string[];
  /** Only failures with this code. */
  readonly code?: ErrorCode;
}

/**
 * Moves failed jobs back to the queue with their attempt count reset (a full retry budget, as
 * after fixing the outage that failed them). Returns the ids retried; ids not in the failed list
 * are skipped. Invalid payloads fail again at once: fix or remove those instead.
 */
export async function retryFailed(queue: ModerationQueue, options: RetryFailedOptions = {}): Promise<string[]> {
  const candidates: Array<Job<ModerationJobData, Verdict>> = [];
  if (options.jobIds !== undefined) {
    for (const id of options.jobIds) {
      const job = await queue.getJob(id);
      if (job) candidates.push(job);
    }
  } else {
    const pageSize = 500;
    for (let start = 0; ; start += pageSize) {
      const page = (await queue.getFailed(start, start + pageSize - 1)).filter((j) => j !== undefined && j !== null);
      candidates.push(...page);
      if (page.length < pageSize) break;
    }
  }
  const retried: string[] = [];
  for (const job of candidates) {
    if (options.code !== undefined && codeOf(job.failedReason ?? '') !== options.code) continue;
    if ((await job.getState()) !== 'failed') continue;
    await job.retry('failed', { resetAttemptsMade: true, resetAttemptsStarted: true });
    retried.push(job.id ?? '');
  }
  return retried;
}
