import { randomBytes } from 'node:crypto';
import type { Redis } from 'ioredis';

/** The stages where a native crash (libvips, onnxruntime) or an OOM kills the worker process. */
export type RiskyStage = 'decode' | 'inference';

export interface CrashGuardOptions {
  readonly redis: Redis;
  /** Key prefix (the BullMQ prefix). */
  readonly prefix: string;
  /** Crashes inside a risky stage after which a job is judged poison. */
  readonly maxCrashes: number;
  /**
   * How long a marker (and a crash count) outlives a worker that never clears it (a crash): longer
   * than the dead worker's jobs may wait to be taken over, behind a whole backlog.
   */
  readonly markerTtlMs: number;
  /** This process's id in its markers; @defaultValue random, one per guard (a process has one). */
  readonly incarnation?: string;
}

/**
 * Tells a poison image from the innocent jobs that died beside it. A job's marker is set in Redis
 * while the job is inside a risky stage and cleared after; it names the stage and this process.
 * When a worker dies, only the jobs whose marker is still there were inside such a stage; the
 * others were only unlucky (fetching, queued). When BullMQ hands a stalled job to another worker,
 * `onResume` counts a crash against it if its marker survived; at `maxCrashes` the job is poison,
 * and the pipeline gives it a PROCESSING_CRASHED verdict instead of trying again.
 *
 * A death with an image inside decode is blamed on the decode alone: inference only sees 224²
 * tensors, while libvips parses the uploads, and the jobs of a batch in inference beside a poison
 * travel with it from takeover to takeover (they die with it every time). So a job in inference is
 * counted only for a death with no image in decode (an onnxruntime crash, an OOM there): each
 * process keeps the set of its jobs inside decode in Redis, which its death leaves behind.
 */
export class CrashGuard {
  private readonly incarnation: string;

  constructor(private readonly o: CrashGuardOptions) {
    this.incarnation = o.incarnation ?? randomBytes(8).toString('hex');
  }

  private markerKey(jobId: string): string {
    return `${this.o.prefix}:revmod:risky:${jobId}`;
  }

  private crashesKey(jobId: string): string {
    return `${this.o.prefix}:revmod:crashes:${jobId}`;
  }

  private decodingKey(incarnation: string): string {
    return `${this.o.prefix}:revmod:decoding:${incarnation}`;
  }

  async enter(jobIds: readonly string[], stage: RiskyStage): Promise<void> {
    if (jobIds.length === 0) return;
    const multi = this.o.redis.multi();
    for (const id of jobIds) multi.set(this.markerKey(id), `${stage}|${this.incarnation}`, 'PX', this.o.markerTtlMs);
    if (stage === 'decode') multi.sadd(this.decodingKey(this.incarnation), ...jobIds).pexpire(this.decodingKey(this.incarnation), this.o.markerTtlMs);
    await multi.exec();
  }

  async leave(jobIds: readonly string[], stage: RiskyStage): Promise<void> {
    if (jobIds.length === 0) return;
    const multi = this.o.redis.multi().del(...jobIds.map((id) => this.markerKey(id)));
    if (stage === 'decode') multi.srem(this.decodingKey(this.incarnation), ...jobIds);
    await multi.exec();
  }

  /**
   * For a job taken over after a stall: the crashes counted against it so far (this one included
   * when its marker survived and the death is its stage's), and the stage it was last in.
   */
  async onResume(jobId: string): Promise<{ crashes: number; stage: RiskyStage | undefined }> {
    const marker = await this.o.redis.getdel(this.markerKey(jobId));
    const [stage, incarnation] = (marker ?? '').split('|') as [RiskyStage | '', string | undefined];
    const key = this.crashesKey(jobId);
    const spared = stage === 'inference' && incarnation !== undefined && (await this.o.redis.scard(this.decodingKey(incarnation))) > 0;
    if (stage === '' || spared) {
      const crashes = Number((await this.o.redis.get(key)) ?? 0);
      return { crashes, stage: undefined };
    }
    const [[, crashes]] = (await this.o.redis.multi().incr(key).pexpire(key, this.o.markerTtlMs).exec()) as [[unknown, number], unknown];
    return { crashes, stage };
  }

  get maxCrashes(): number {
    return this.o.maxCrashes;
  }

  /** Forgets a job's count once it has its verdict. */
  async forget(jobId: string): Promise<void> {
    await this.o.redis.del(this.crashesKey(jobId));
  }
}
