import { Queue } from 'bullmq';
import type { Redis } from 'ioredis';
import type { RevmodConfig } from '../config';
import { verdictJobOptions, type Verdict } from '@revmod/client';
import { isQcSample, QC_SAMPLE_JOB_NAME, SHADOW_SAMPLE_JOB_NAME } from '../review/sampling';

/**
 * A block that people already settled: their decision on these bytes (`known_decision`) or a
 * block list they made (`known_violation`). It needs no second look, so it skips the review queue.
 */
function decidedBefore(v: Verdict): boolean {
  return v.decision === 'block' && v.reasons.some((r) => r === 'known_decision' || r === 'known_violation');
}

/**
 * Publishes verdicts: every one to the results queue, review/block ones also to the review queue
 * (except blocks that people settled before: see decidedBefore),
 * and a fraction of pass ones (REVMOD_REVIEW_SAMPLE_RATE) there too as blind QC samples.
 * Job id = verdict id, so publishing a verdict again (a retried batch, a crashed worker's job
 * finished elsewhere) adds nothing while the first copy is retained.
 */
export class VerdictPublisher {
  readonly results: Queue<Verdict>;
  readonly review: Queue<Verdict>;

  constructor(private readonly config: RevmodConfig, connection: Redis) {
    const opts = { connection, prefix: config.redis.prefix };
    this.results = new Queue<Verdict>(config.queues.results, opts);
    this.review = new Queue<Verdict>(config.queues.review, opts);
  }

  async publish(verdicts: readonly Verdict[]): Promise<void> {
    if (verdicts.length === 0) return;
    const toJob = (v: Verdict) => ({ name: v.decision, data: v, opts: verdictJobOptions(this.config, v.id) });
    const forReview = verdicts.filter((v) => (v.decision !== 'pass' && !decidedBefore(v)) || isQcSample(v, this.config.review.sampleRate));
    const toReviewJob = (v: Verdict) => ({ ...toJob(v), name: v.decision === 'pass' ? QC_SAMPLE_JOB_NAME : v.decision });
    await Promise.all([
      this.results.addBulk(verdicts.map(toJob)),
      forReview.length > 0 ? this.review.addBulk(forReview.map(toReviewJob)) : Promise.resolve([]),
    ]);
  }

  /**
   * Puts a published verdict on the review queue as a shadow disagreement (filed blind). A no-op
   * when it is there already (a QC sample, a republish): the job id is the verdict id.
   */
  async sendShadowSample(verdict: Verdict): Promise<void> {
    await this.review.add(SHADOW_SAMPLE_JOB_NAME, verdict, verdictJobOptions(this.config, verdict.id));
  }

  async close(): Promise<void> {
    await Promise.all([this.results.close(), this.review.close()]);
  }
}
