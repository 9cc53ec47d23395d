import { randomBytes } from 'node:crypto';
import { Queue, type JobsOptions } from 'bullmq';
import type { Redis } from 'ioredis';
import { loadClientConfig, type ClientConfig, type ClientConfigInput } from './client-settings';
import { RevmodError } from './errors';
import { jobIdFor } from './job-id';
import { moderationJobOptions } from './job-options';
import { createRedisConnection } from './redis-connection';
import type { ModerationJobData, SubmitRequest, Verdict } from './types';
import { validateRequest, type ValidRequest } from './validate-request';
import { acceptedKeys, verifyVerdict } from './verdict-signature';

/**
 * The part of an @aws-sdk/client-s3 S3Client the SDK uses (HeadObject), so that the AWS SDK stays
 * an optional peer dependency: an upload service that passes versions from its S3 events needs none.
 */
export interface S3ClientLike {
  send(command: unknown): Promise<unknown>;
}

export interface ModerationClientOptions {
  /** Config overrides; the rest comes from the environment and defaults (see README). */
  readonly config?: ClientConfigInput;
  /** An existing ioredis connection to share; by default the client opens (and closes) its own. */
  readonly connection?: Redis;
  /**
   * Connection errors (Redis down, reconnecting). Submits wait and retry meanwhile; a submit that
   * cannot complete still rejects. Default: ignored (attach your logger here).
   */
  readonly onError?: (err: Error) => void;
  /**
   * An S3 client: a submit that gives no `etag`/`versionId` looks the version up with HeadObject,
   * so that its job is pinned to it (README "Content versions"). Without one, such jobs are
   * deduplicated only while pending. Needs `@aws-sdk/client-s3` installed.
   */
  readonly s3?: S3ClientLike;
}

export interface SubmitResult {
  /** The job's id, also the id of its verdict (see jobIdFor). */
  readonly jobId: string;
}

interface PreparedJob {
  readonly name: string;
  readonly data: ModerationJobData;
  readonly opts: JobsOptions;
}

/**
 * The producer SDK used by the upload service: validates requests and enqueues moderation jobs.
 *
 * ```ts
 * const client = new ModerationClient();
 * await client.submit({ bucket: 'reviews', key: 'shop-1/123.jpg', etag: event.s3.object.eTag, meta: { reviewId: 123 } });
 * ```
 */
export class ModerationClient {
  readonly config: ClientConfig;
  readonly queue: Queue<ModerationJobData, Verdict>;
  private readonly ownsConnection: boolean;
  private readonly connection: Redis;
  private readonly s3: S3ClientLike | undefined;

  constructor(options: ModerationClientOptions = {}) {
    this.config = loadClientConfig(options.config);
    this.ownsConnection = options.connection === undefined;
    this.connection = options.connection ?? createRedisConnection(this.config, 'producer');
    this.s3 = options.s3;
    this.queue = new Queue<ModerationJobData, Verdict>(this.config.queues.moderation, {
      connection: this.connection,
      prefix: this.config.redis.prefix,
    });
    // Without a listener BullMQ prints every reconnection error to the console.
    this.queue.on('error', options.onError ?? (() => undefined));
  }

  private validate(request: SubmitRequest, index?: number): ValidRequest {
    try {
      return validateRequest(request, { allowedBuckets: this.config.requests.allowedBuckets, maxMetaBytes: this.config.requests.maxMetaBytes });
    } catch (err) {
      if (err instanceof RevmodError && index !== undefined) {
        throw new RevmodError(err.code, `requests[${index}]: ${err.message}`, { cause: err });
      }
      throw err;
    }
  }

  /** The version of an object, from HeadObject. */
  private async headVersion(bucket: string, key: string): Promise<{ etag?: string; versionId?: string }> {
    let HeadObjectCommand: new (input: { Bucket: string; Key: string }) => unknown;
    try {
      // eslint-disable-next-line @typescript-eslint/no-require-imports
      ({ HeadObjectCommand } = require('@aws-sdk/client-s3') as { HeadObjectCommand: typeof HeadObjectCommand });
    } catch {
      throw new RevmodError('CONFIG_INVALID', 'ModerationClient was given an s3 client, but @aws-sdk/client-s3 is not installed: install it, or pass etag/versionId with each submit');
    }
    let head: { ETag?: string; VersionId?: string };
    try {
      head = (await this.s3!.send(new HeadObjectCommand({ Bucket: bucket, Key: key }))) as typeof head;
    } catch (err) {
      const e = err as { name?: string; $metadata?: { httpStatusCode?: number }; message?: string };
      if (e.name === 'NotFound' || e.name === 'NoSuchKey' || e.$metadata?.httpStatusCode === 404) {
        throw new RevmodError('OBJECT_NOT_FOUND', `no object at s3://${bucket}/${key} (HeadObject)`, { cause: err });
      }
      throw new RevmodError('STORAGE_UNAVAILABLE', `HeadObject s3://${bucket}/${key} failed: ${e.name ?? 'Error'}: ${e.message ?? ''}`, { cause: err });
    }
    const etag = head.ETag?.replace(/^W\//, '').replace(/^"|"$/g, '');
    return { ...(etag ? { etag } : {}), ...(head.VersionId ? { versionId: head.VersionId } : {}) };
  }

  private async prepare(valid: ValidRequest): Promise<PreparedJob> {
    let version: { etag?: string; versionId?: string } = {
      ...(valid.etag !== undefined ? { etag: valid.etag } : {}),
      ...(valid.versionId !== undefined ? { versionId: valid.versionId } : {}),
    };
    if (version.etag === undefined && version.versionId === undefined && this.s3) version = await this.headVersion(valid.bucket, valid.key);
    const data: ModerationJobData = { bucket: valid.bucket, key: valid.key, ...version, meta: valid.meta, submittedAtMs: Date.now() };
    if (version.etag !== undefined || version.versionId !== undefined) {
      // Pinned to a version: one job per version while pending or retained.
      return { name: 'moderate', data, opts: moderationJobOptions(this.config, jobIdFor(valid.bucket, valid.key, version)) };
    }
    // Unversioned: the bytes at the key may change, so a verdict is never reused: deduplicated only
    // while pending (BullMQ returns the pending job's id), a fresh job after that.
    const keyId = jobIdFor(valid.bucket, valid.key);
    const jobId = `${keyId}-${Date.now().toString(36)}${randomBytes(3).toString('hex')}`;
    return { name: 'moderate', data, opts: { ...moderationJobOptions(this.config, jobId), deduplication: { id: keyId } } };
  }

  /**
   * Enqueues one image. The same object version submitted again while its job is pending or
   * retained is a no-op that returns the same id.
   */
  async submit(request: SubmitRequest): Promise<SubmitResult> {
    const job = await this.prepare(this.validate(request));
    const added = await this.queue.add(job.name, job.data, job.opts);
    return { jobId: added.id ?? job.opts.jobId! };
  }

  /**
   * Enqueues many images in one round trip. Every request is validated first: if any is invalid,
   * nothing is enqueued and the error names its index.
   */
  async submitBulk(requests: readonly SubmitRequest[]): Promise<SubmitResult[]> {
    const valid = requests.map((r, i) => this.validate(r, i));
    const jobs = await Promise.all(valid.map((v) => this.prepare(v)));
    const added = await this.queue.addBulk(jobs.map((j) => ({ name: j.name, data: j.data, opts: j.opts })));
    return added.map((a, i) => ({ jobId: a.id ?? jobs[i]!.opts.jobId! }));
  }

  /**
   * The verdict stored on a finished moderation job, or undefined while pending (or after
   * retention). With a signing key configured, a verdict whose signature fails is refused
   * (VERDICT_SIGNATURE_INVALID).
   */
  async getVerdict(jobId: string): Promise<Verdict | undefined> {
    const job = await this.queue.getJob(jobId);
    const value = (job?.returnvalue as Verdict | null | undefined) ?? undefined;
    const keys = acceptedKeys(this.config.signing);
    if (value !== undefined && keys.length > 0) verifyVerdict(value, keys);
    return value;
  }

  async close(): Promise<void> {
    await this.queue.close();
    if (this.ownsConnection) await this.connection.quit().catch(() => this.connection.disconnect());
  }
}
