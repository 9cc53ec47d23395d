import type { Decision, Label, VerdictScores } from '@revmod/client';

/** Thresholds of the decision policy (the model card's, optionally overridden by config). */
export interface PolicyThresholds {
  /** violate score ≥ this → review (violation suspected). Default 0.7. */
  readonly violate: number;
  /** max(score) < this → review (low confidence). Default 0.7. */
  readonly confidence: number;
  /** violate score ≥ this → block without waiting for a person; null = never block. Default null. */
  readonly block: number | null;
}

export const DEFAULT_THRESHOLDS: PolicyThresholds = { violate: 0.7, confidence: 0.7, block: null };

export interface PolicyResult {
  readonly decision: Decision;
  readonly label: Label;
  readonly reasons: string[];
}

/** Numerically stable softmax of two logits, as scores over [normal, violate]. */
export function softmax2(normalLogit: number, violateLogit: number): VerdictScores {
  const m = Math.max(normalLogit, violateLogit);
  const en = Math.exp(normalLogit - m);
  const ev = Math.exp(violateLogit - m);
  const sum = en + ev;
  return { normal: en / sum, violate: ev / sum };
}

/** The tutorial's policy made explicit: suspected violations and uncertain images go to people. */
export function decide(scores: VerdictScores, t: PolicyThresholds): PolicyResult {
  const label: Label = scores.violate > scores.normal ? 'violate' : 'normal';
  if (t.block !== null && scores.violate >= t.block) {
    return { decision: 'block', label, reasons: ['block_threshold'] };
  }
  const reasons: string[] = [];
  if (scores.violate >= t.violate) reasons.push('violate_score');
  if (Math.max(scores.normal, scores.violate) < t.confidence) reasons.push('low_confidence');
  return { decision: reasons.length > 0 ? 'review' : 'pass', label, reasons };
}

/**
 * The one threshold validator (card, config and policy file use it): each given threshold is a
 * probability, and block (when set) is not below violate. Fields left undefined are not checked.
 */
export function validateThresholds(t: { readonly violate?: number | undefined; readonly confidence?: number | undefined; readonly block?: number | null | undefined }): string[] {
  const problems: string[] = [];
  const prob = (name: string, x: number | undefined) => {
    if (x !== undefined && !(x >= 0 && x <= 1)) problems.push(`${name} must be within [0, 1], received ${x}`);
  };
  prob('violate', t.violate);
  prob('confidence', t.confidence);
  if (t.block !== null && t.block !== undefined) {
    prob('block', t.block);
    if (t.violate !== undefined && t.block < t.violate) problems.push(`block (${t.block}) must not be below violate (${t.violate})`);
  }
  return problems;
}
