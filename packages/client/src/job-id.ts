import { createHash } from 'node:crypto';
import { RevmodError } from './errors';

/** What a job's identity is made of: the object, and its version when one was given. */
export interface ObjectVersionRef {
  readonly bucket: string;
  readonly key: string;
  readonly etag?: string | undefined;
  readonly versionId?: string | undefined;
}

const hex = (parts: readonly string[]): string => {
  const h = createHash('sha256');
  parts.forEach((p, i) => { if (i > 0) h.update('\0'); h.update(p); });
  return h.digest('hex').slice(0, 40);
};

/**
 * The job id of an object at a version: the same object version always maps to the same id, so
 * submitting it twice while its job is pending or retained creates one job, and a new version at
 * the same key is a new job. Without a version the id is that of the key alone (see
 * `jobIdFor`'s use in ModerationClient: such jobs are deduplicated only while pending). Hex only:
 * BullMQ ids may not contain ':' and S3 keys may.
 */
export function jobIdFor(bucket: string, key: string, version?: { readonly etag?: string | undefined; readonly versionId?: string | undefined }): string {
  if (version?.versionId !== undefined) return hex([bucket, key, `v:${version.versionId}`]);
  if (version?.etag !== undefined) return hex([bucket, key, `e:${version.etag}`]);
  return hex([bucket, key]);
}

/**
 * Whether a job's id is the one its payload derives: `jobIdFor(...)` for a versioned job, or that of
 * the key plus `-` and a suffix for an unversioned one. The worker refuses any other: a job id
 * chosen to collide with another object's verdict.
 */
export function jobIdMatches(jobId: string, ref: ObjectVersionRef): boolean {
  const derived = jobIdFor(ref.bucket, ref.key, ref);
  if (ref.etag !== undefined || ref.versionId !== undefined) return jobId === derived;
  return jobId === derived || (jobId.startsWith(`${derived}-`) && /^[0-9a-z]{1,32}$/.test(jobId.slice(derived.length + 1)));
}

/** Throws INVALID_JOB when the job id is not the one its payload derives. */
export function checkJobIdentity(jobId: string, ref: ObjectVersionRef): void {
  if (!jobIdMatches(jobId, ref)) {
    throw new RevmodError('INVALID_JOB', `job id ${JSON.stringify(jobId)} is not the id its payload derives (${jobIdFor(ref.bucket, ref.key, ref)}): jobs are enqueued through the SDK`);
  }
}
