import type { JobsOptions } from 'bullmq';
import type { ClientConfig } from './client-settings';

/** Options of every moderation job: retries with exponential backoff, retention for dedupe and dead letters. */
export function moderationJobOptions(config: Pick<ClientConfig, 'jobs'>, jobId: string): JobsOptions {
  const w = config.jobs;
  return {
    jobId,
    attempts: w.attempts,
    backoff: { type: 'exponential', delay: w.backoffMs },
    removeOnComplete: { age: w.retainCompletedSeconds },
    removeOnFail: { age: w.retainFailedSeconds },
  };
}

/**
 * The backoff type of verdict jobs: exponential from `verdictBackoffMs`, capped at
 * `verdictMaxBackoffMs`. consumeVerdicts registers it; a consumer built on BullMQ directly must
 * register `verdictBackoffStrategy` as its Worker's `settings.backoffStrategy`.
 */
export const VERDICT_BACKOFF_TYPE = 'revmod-capped-exponential';

/** The delay before delivery number `attemptsMade + 1` of a verdict. */
export function verdictBackoffDelayMs(config: Pick<ClientConfig, 'jobs'>, attemptsMade: number): number {
  const { verdictBackoffMs, verdictMaxBackoffMs } = config.jobs;
  return Math.min(verdictMaxBackoffMs, verdictBackoffMs * 2 ** Math.max(0, Math.min(attemptsMade - 1, 30)));
}

/** A BullMQ Worker `settings.backoffStrategy` for verdict jobs. */
export function verdictBackoffStrategy(config: Pick<ClientConfig, 'jobs'>): (attemptsMade: number, type?: string) => number {
  return (attemptsMade, type) => (type === VERDICT_BACKOFF_TYPE ? verdictBackoffDelayMs(config, attemptsMade) : -1);
}

/**
 * Verdict jobs keep their id (= verdict id) while retained, which makes republishing a no-op. A
 * consumer that fails (its database down) gets the verdict again for hours, not seconds.
 */
export function verdictJobOptions(config: Pick<ClientConfig, 'jobs'>, verdictId: string): JobsOptions {
  return {
    jobId: verdictId,
    attempts: config.jobs.verdictAttempts,
    backoff: { type: VERDICT_BACKOFF_TYPE },
    removeOnComplete: { age: config.jobs.retainCompletedSeconds },
    removeOnFail: { age: config.jobs.retainFailedSeconds },
  };
}
