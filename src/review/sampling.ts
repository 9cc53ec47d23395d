import { createHash } from 'node:crypto';
import type { Verdict } from '@revmod/client';

/**
 * Whether an auto-passed verdict is also sent to review as a blind QC sample (A2I-style). The
 * choice is a hash of the verdict id, not a coin toss: a retried batch or a republished verdict is
 * sampled the same way every time, and a given rate samples a stable subset.
 */
export function isQcSample(verdict: Pick<Verdict, 'id' | 'decision' | 'error'>, rate: number): boolean {
  if (verdict.decision !== 'pass' || verdict.error !== undefined || !(rate > 0)) return false;
  if (rate >= 1) return true;
  const h = createHash('sha256').update('revmod-qc-sample\0').update(verdict.id).digest();
  return h.readUInt32BE(0) / 0x1_0000_0000 < rate;
}

/** The BullMQ job name of a QC sample on the review queue (the console files it as blind). */
export const QC_SAMPLE_JOB_NAME = 'sample';
