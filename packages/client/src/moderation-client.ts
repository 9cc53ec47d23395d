import { Queue } from 'bullmq';
import type { Redis } from 'ioredis';
import { loadClientConfig, type ClientConfig, type ClientConfigInput } from './client-settings';
import { RevmodError } from './errors';
import { jobIdFor } from './job-id';
import { moderationJobOptions } from './job-options';
import { createRedisConnection } from './redis-connection';
import type { ModerationJobData, SubmitRequest, Verdict } from './types';
import { validateRequest } from './validate-request';

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
}

export interface SubmitResult {
  /** Idempotent id derived from bucket/key; also the id of the verdict. */
  readonly jobId: string;
}

/**
 * The producer SDK used by the upload service: validates requests and enqueues moderation jobs.
 *
 * ```ts
 * const client = new ModerationClient();
 * await client.submit({ bucket: 'reviews', key: 'shop-1/123.jpg', meta: { reviewId: 123 } });
 * ```
 */
export class ModerationClient {
  readonly config: ClientConfig;
  readonly queue: Queue<ModerationJobData, Verdict>;
  private readonly ownsConnection: boolean;
  private readonly connection: Redis;

  constructor(options: ModerationClientOptions = {}) {
    this.config = loadClientConfig(options.config);
    this.ownsConnection = options.connection === undefined;
    this.connection = options.connection ?? createRedisConnection(this.config, 'producer');
    this.queue = new Queue<ModerationJobData, Verdict>(this.config.queues.moderation, {
      connection: this.connection,
      prefix: this.config.redis.prefix,
    });
    // Without a listener BullMQ prints every reconnection error to the console.
    this.queue.on('error', options.onError ?? (() => undefined));
  }

  private toJob(request: SubmitRequest, index?: number): { name: string; data: ModerationJobData; jobId: string } {
    let valid: Required<SubmitRequest>;
    try {
      valid = validateRequest(request, {
        allowedBuckets: this.config.requests.allowedBuckets,
        maxMetaBytes: this.config.requests.maxMetaBytes,
      });
    } catch (err) {
      if (err instanceof RevmodError && index !== undefined) {
        throw new RevmodError(err.code, `requests[${index}]: ${err.message}`, { cause: err });
      }
      throw err;
    }
    const jobId = jobIdFor(valid.bucket, valid.key);
    return { name: 'moderate', jobId, data: { ...valid, submittedAtMs: Date.now() } };
  }

  /** Enqueues one image. Submitting the same bucket/key again while its job is pending or retained is a no-op. */
  async submit(request: SubmitRequest): Promise<SubmitResult> {
    const job = this.toJob(request);
    await this.queue.add(job.name, job.data, moderationJobOptions(this.config, job.jobId));
    return { jobId: job.jobId };
  }

  /**
   * Enqueues many images in one round trip. Every request is validated first: if any is invalid,
   * nothing is enqueued and the error names its index.
   */
  async submitBulk(requests: readonly SubmitRequest[]): Promise<SubmitResult[]> {
    const jobs = requests.map((r, i) => this.toJob(r, i));
    await this.queue.addBulk(jobs.map((j) => ({ name: j.name, data: j.data, opts: moderationJobOptions(this.config, j.jobId) })));
    return jobs.map((j) => ({ jobId: j.jobId }));
  }

  /** The verdict stored on a finished moderation job, or undefined while pending (or after retention). */
  async getVerdict(jobId: string): Promise<Verdict | undefined> {
    const job = await this.queue.getJob(jobId);
    const value = job?.returnvalue as Verdict | null | undefined;
    return value ?? undefined;
  }

  async close(): Promise<void> {
    await this.queue.close();
    if (this.ownsConnection) await this.connection.quit().catch(() => this.connection.disconnect());
  }
}
