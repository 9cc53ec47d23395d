import type { JobsOptions } from 'bullmq';
import type { RevmodConfig } from '../config';

/** Options of every moderation job: retries with exponential backoff, retention for dedupe and dead letters. */
export function moderationJobOptions(config: Pick<RevmodConfig, 'worker'>, jobId: string): JobsOptions {
  const w = config.worker;
  return {
    jobId,
    attempts: w.attempts,
    backoff: { type: 'exponential', delay: w.backoffMs },
    removeOnComplete: { age: w.retainCompletedSeconds },
    removeOnFail: { age: w.retainFailedSeconds },
  };
}

/** Verdict jobs keep their id (= verdict id) while retained, which makes republishing a no-op. */
export function verdictJobOptions(config: Pick<RevmodConfig, 'worker'>, verdictId: string): JobsOptions {
  return {
    jobId: verdictId,
    attempts: 3,
    backoff: { type: 'exponential', delay: 1_000 },
    removeOnComplete: { age: config.worker.retainCompletedSeconds },
    removeOnFail: { age: config.worker.retainFailedSeconds },
  };
}
