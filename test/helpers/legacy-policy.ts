// The 2-class policy as it was before the rules policy (frozen here for the equivalence test).
import type { Decision } from '@revmod/client';
import type { PolicyThresholds } from '../../src/policy';

export interface LegacyScores {
  readonly normal: number;
  readonly violate: number;
}

export interface LegacyResult {
  readonly decision: Decision;
  readonly label: 'normal' | 'violate';
  readonly reasons: string[];
}

/** Numerically stable softmax of two logits, as scores over [normal, violate]. */
export function softmax2(normalLogit: number, violateLogit: number): LegacyScores {
  const m = Math.max(normalLogit, violateLogit);
  const en = Math.exp(normalLogit - m);
  const ev = Math.exp(violateLogit - m);
  const sum = en + ev;
  return { normal: en / sum, violate: ev / sum };
}

/** The tutorial's policy made explicit: suspected violations and uncertain images go to people. */
export function legacyDecide(scores: LegacyScores, t: PolicyThresholds): LegacyResult {
  const label: 'normal' | 'violate' = scores.violate > scores.normal ? 'violate' : 'normal';
  if (t.block !== null && scores.violate >= t.block) {
    return { decision: 'block', label, reasons: ['block_threshold'] };
  }
  const reasons: string[] = [];
  if (scores.violate >= t.violate) reasons.push('violate_score');
  if (Math.max(scores.normal, scores.violate) < t.confidence) reasons.push('low_confidence');
  return { decision: reasons.length > 0 ? 'review' : 'pass', label, reasons };
}

