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

/** Verdict jobs keep their id (= verdict id) while retained, which makes republishing a no-op. */
export function verdictJobOptions(config: Pick<ClientConfig, 'jobs'>, verdictId: string): JobsOptions {
  return {
    jobId: verdictId,
    attempts: 3,
    backoff: { type: 'exponential', delay: 1_000 },
    removeOnComplete: { age: config.jobs.retainCompletedSeconds },
    removeOnFail: { age: config.jobs.retainFailedSeconds },
  };
}
