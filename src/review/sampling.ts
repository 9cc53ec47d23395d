import { createHash } from 'node:crypto';
import type { Verdict } from '@revmod/client';

/**
 * Whether an auto-passed verdict is also sent to review as a blind QC sample (A2I-style). The
 * choice is a hash of the verdict id, not a coin toss: a retried batch or a republished verdict is
 * sampled the same way every time, and a given rate samples a stable subset.
 */
export function isQcSample(verdict: Pick<Verdict, 'id' | 'decision' | 'error'>, rate: number): boolean {
  if (verdict.decision !== 'pass' || verdict.error !== undefined) return false;
  return sampledById('revmod-qc-sample', verdict.id, rate);
}

/** A stable choice of `rate` of ids: the same id is always chosen, or never, for a given salt and rate. */
export function sampledById(salt: string, id: string, rate: number): boolean {
  if (!(rate > 0)) return false;
  if (rate >= 1) return true;
  const h = createHash('sha256').update(`${salt}\0`).update(id).digest();
  return h.readUInt32BE(0) / 0x1_0000_0000 < rate;
}

/** The BullMQ job name of a QC sample on the review queue (the console files it as blind). */
export const QC_SAMPLE_JOB_NAME = 'sample';

/**
 * The BullMQ job name of a shadow disagreement sent to review: a passed verdict the challenger
 * would not have passed. Filed as blind like a QC sample, but not a random one: calibration leaves
 * it out (see decisionItems).
 */
export const SHADOW_SAMPLE_JOB_NAME = 'shadow';
