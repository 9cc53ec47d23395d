import { createHash } from 'node:crypto';

/**
 * Idempotent job id for an object: the same bucket/key always maps to the same id, so submitting it
 * twice while the first job is pending or retained creates one job. Hex only: BullMQ ids may not
 * contain ':' and S3 keys may.
 */
export function jobIdFor(bucket: string, key: string): string {
  return createHash('sha256').update(bucket).update('\0').update(key).digest('hex').slice(0, 40);
}
