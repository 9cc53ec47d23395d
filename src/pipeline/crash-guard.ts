import type { Redis } from 'ioredis';

/** The stages where a native crash (libvips, onnxruntime) or an OOM kills the worker process. */
export type RiskyStage = 'decode' | 'inference';

export interface CrashGuardOptions {
  readonly redis: Redis;
  /** Key prefix (the BullMQ prefix). */
  readonly prefix: string;
  /** Crashes inside a risky stage after which a job is judged poison. */
  readonly maxCrashes: number;
  /** How long a marker outlives a worker that never clears it (a crash): longer than a stall takes to be noticed. */
  readonly markerTtlMs: number;
}

/**
 * Tells a poison image from the innocent jobs that died beside it. A job's marker is set in Redis
 * while the job is inside a risky stage and cleared after. When a worker dies, only the jobs whose
 * marker is still there were inside such a stage; the others were only unlucky (fetching, queued).
 * When BullMQ hands a stalled job to another worker, `onResume` counts a crash against it if its
 * marker survived; at `maxCrashes` the job is poison, and the pipeline gives it a
 * PROCESSING_CRASHED verdict instead of trying again.
 */
export class CrashGuard {
  constructor(private readonly o: CrashGuardOptions) {}

  private markerKey(jobId: string): string {
    return `${this.o.prefix}:revmod:risky:${jobId}`;
  }

  private crashesKey(jobId: string): string {
    return `${this.o.prefix}:revmod:crashes:${jobId}`;
  }

  async enter(jobIds: readonly string[], stage: RiskyStage): Promise<void> {
    if (jobIds.length === 0) return;
    const multi = this.o.redis.multi();
    for (const id of jobIds) multi.set(this.markerKey(id), stage, 'PX', this.o.markerTtlMs);
    await multi.exec();
  }

  async leave(jobIds: readonly string[]): Promise<void> {
    if (jobIds.length === 0) return;
    await this.o.redis.del(...jobIds.map((id) => this.markerKey(id)));
  }

  /**
   * For a job taken over after a stall: the crashes counted against it so far (this one included
   * when its marker survived), and the stage it was last in.
   */
  async onResume(jobId: string): Promise<{ crashes: number; stage: RiskyStage | undefined }> {
    const stage = (await this.o.redis.getdel(this.markerKey(jobId))) as RiskyStage | null;
    if (stage === null) {
      const crashes = Number((await this.o.redis.get(this.crashesKey(jobId))) ?? 0);
      return { crashes, stage: undefined };
    }
    const key = this.crashesKey(jobId);
    const [[, crashes]] = (await this.o.redis.multi().incr(key).pexpire(key, this.o.markerTtlMs * 10).exec()) as [[unknown, number], unknown];
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
