import type { Queue } from 'bullmq';
import type { DecisionState, ReviewDecision } from '@revmod/client';
import type { VerdictCache } from '../known/verdict-cache';
import type { DecisionLog } from './decision-log';
import { latestById } from './decision-log';
import { decisionJobOptions } from './decision-service';
import type { ReviewStore } from './review-store';

export interface ReplayOptions {
  readonly log: DecisionLog;
  readonly queue: Queue<ReviewDecision>;
  readonly store: ReviewStore;
  /** Only decisions decided at or after this (epoch ms); all when undefined. */
  readonly sinceMs?: number;
  readonly retainDecisionsSeconds: number;
  /** Count only. @defaultValue false */
  readonly dryRun?: boolean;
  /** Known images: each image's last decision is kept again for re-uploads of its bytes. */
  readonly known?: VerdictCache;
}

export interface ReplayReport {
  readonly objects: number;
  readonly decisions: number;
  /** Put back on the decisions queue (they were not on it any more). */
  readonly republished: number;
  /** Still on the queue: nothing added. */
  readonly alreadyQueued: number;
  /** Final states (getDecision) restored. */
  readonly statesRestored: number;
  /** Decisions kept again for re-uploads of the same bytes (with known images on; those within their TTL). */
  readonly knownDecisions?: number;
}

/**
 * Re-publishes the decision log to the decisions queue, oldest first, and restores each job's final
 * state for getDecision. Decision ids are the job ids on the queue, so a replay adds only what Redis
 * lost: after a FLUSHALL, everything; otherwise, nothing.
 */
export async function replayDecisions(o: ReplayOptions): Promise<ReplayReport> {
  let objects = 0;
  const all: ReviewDecision[] = [];
  for await (const obj of o.log.objects(o.sinceMs)) {
    objects += 1;
    all.push(...obj.decisions);
  }
  const decisions = [...latestById(all).values()].sort((a, b) => Date.parse(a.decidedAt) - Date.parse(b.decidedAt));
  let republished = 0;
  let alreadyQueued = 0;
  let statesRestored = 0;
  let knownDecisions = 0;
  const latestRound = new Map<string, ReviewDecision>();
  for (const d of decisions) {
    const prev = latestRound.get(d.jobId);
    if (!prev || d.round > prev.round) latestRound.set(d.jobId, d);
    if (await o.queue.getJob(d.id)) {
      alreadyQueued += 1;
      continue;
    }
    republished += 1;
    if (!o.dryRun) await o.queue.add(d.outcome, d, decisionJobOptions(d.id, o.retainDecisionsSeconds));
  }
  for (const d of latestRound.values()) {
    const { verdict: _snapshot, ...summary } = d;
    const state: DecisionState = { jobId: d.jobId, status: 'final', outcome: d.outcome, source: 'reviewer', round: d.round, decision: summary, updatedAt: d.decidedAt };
    if (!o.dryRun && await o.store.restoreState(state)) statesRestored += 1;
    if (o.known && !o.dryRun && d.sha256 && await o.known.recordDecision(d.sha256, d.verdict, d)) knownDecisions += 1;
  }
  return { objects, decisions: decisions.length, republished, alreadyQueued, statesRestored, ...(o.known ? { knownDecisions } : {}) };
}
