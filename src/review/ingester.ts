import { Queue, UnrecoverableError, Worker } from 'bullmq';
import type { Redis } from 'ioredis';
import type { Logger } from 'pino';
import type { AppealRequest, ModerationJobData, Verdict } from '@revmod/client';
import type { RevmodConfig } from '../config';
import type { ReviewMetrics } from './review-metrics';
import { kindOfVerdict, type ReviewStore } from './review-store';
import { QC_SAMPLE_JOB_NAME, SHADOW_SAMPLE_JOB_NAME } from './sampling';

/** Options of {@link startIngest}. */
export interface IngestOptions {
  readonly config: Pick<RevmodConfig, 'redis' | 'queues'>;
  /** A connection with `maxRetriesPerRequest: null` (BullMQ workers block on it). */
  readonly connection: Redis;
  readonly store: ReviewStore;
  readonly logger: Logger;
  readonly metrics?: ReviewMetrics;
  /** @defaultValue 8 */
  readonly concurrency?: number;
}

export interface Ingest {
  close(): Promise<void>;
}

/**
 * The console's consumers: the review queue (verdicts become review items; the console is its only
 * consumer) and the appeals queue (appeal() requests reopen decided items). Both are idempotent, so
 * several console replicas may run them side by side.
 */
export function startIngest(o: IngestOptions): Ingest {
  const opts = { connection: o.connection, prefix: o.config.redis.prefix, concurrency: o.concurrency ?? 8 };
  const review = new Worker<Verdict>(o.config.queues.review, async (job) => {
    const verdict = job.data;
    const kind = job.name === QC_SAMPLE_JOB_NAME || job.name === SHADOW_SAMPLE_JOB_NAME ? 'sample' : kindOfVerdict(verdict);
    if (await o.store.ingest(verdict, kind)) o.metrics?.onIngest(kind);
  }, opts);

  // Appeals of images never reviewed need their verdict: from the moderation job or the results queue.
  const moderation = new Queue<ModerationJobData, Verdict>(o.config.queues.moderation, { connection: o.connection, prefix: o.config.redis.prefix });
  const results = new Queue<Verdict>(o.config.queues.results, { connection: o.connection, prefix: o.config.redis.prefix });
  const appeals = new Worker<AppealRequest>(o.config.queues.appeals, async (job) => {
    const a = job.data;
    const known = await o.store.get(a.jobId);
    const verdict = known ? undefined : ((await moderation.getJob(a.jobId))?.returnvalue ?? (await results.getJob(a.jobId))?.data ?? undefined);
    const result = await o.store.appeal(a.jobId, { reason: a.reason, appealedAt: a.appealedAt }, a.round, verdict ?? undefined);
    o.metrics?.onAppeal(result.toLowerCase() === 'item_not_found' ? 'not_found' : result.toLowerCase());
    o.logger.info({ jobId: a.jobId, result }, 'appeal received');
    if (result === 'ITEM_NOT_FOUND') throw new UnrecoverableError(`no review item or verdict is known for job ${a.jobId} (past retention?)`);
    return result;
  }, opts);

  for (const w of [review, appeals]) w.on('error', (err) => o.logger.warn({ err: err.message }, 'review ingest: Redis error (retrying)'));
  for (const q of [moderation, results]) q.on('error', () => undefined);
  return {
    async close() {
      await Promise.all([review.close(), appeals.close(), moderation.close(), results.close()]);
    },
  };
}
