import type { S3Client } from '@aws-sdk/client-s3';
import type { Redis } from 'ioredis';
import type { DecisionLog } from './decision-log';
import { deleteExport, parseTarget } from './dataset-export';

export interface RetentionOptions {
  readonly log: DecisionLog;
  readonly s3: S3Client;
  readonly redis: Redis;
  /** The sorted set where `dataset export` records its locations. */
  readonly exportsKey: string;
  /** 0 keeps the log. */
  readonly decisionLogDays: number;
  /** 0 keeps exports. */
  readonly exportsDays: number;
  readonly nowMs?: number;
  readonly dryRun?: boolean;
}

export interface RetentionReport {
  readonly logObjectsDeleted: number;
  readonly exportsDeleted: readonly string[];
}

const DAY_MS = 86_400_000;

/**
 * Applies the retention of what lives in S3 (Redis keys carry their own expiry): decision-log
 * objects and dataset exports older than their settings. Run it daily (a CronJob), or use bucket
 * lifecycle rules on the log prefix instead.
 */
export async function applyRetention(o: RetentionOptions): Promise<RetentionReport> {
  const now = o.nowMs ?? Date.now();
  let logObjectsDeleted = 0;
  if (o.decisionLogDays > 0) {
    const cutoff = now - o.decisionLogDays * DAY_MS;
    logObjectsDeleted = o.dryRun ? (await o.log.keysBefore(cutoff)).length : await o.log.deleteBefore(cutoff);
  }
  const exportsDeleted: string[] = [];
  if (o.exportsDays > 0) {
    const old = await o.redis.zrangebyscore(o.exportsKey, '-inf', now - o.exportsDays * DAY_MS);
    for (const loc of old) {
      if (!o.dryRun) {
        await deleteExport(parseTarget(loc), o.s3);
        await o.redis.zrem(o.exportsKey, loc);
      }
      exportsDeleted.push(loc);
    }
  }
  return { logObjectsDeleted, exportsDeleted };
}
