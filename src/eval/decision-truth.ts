import type { ReviewDecision } from '@revmod/client';
import { NORMAL_GROUP } from '../model/model-card';
import { latestPerJob } from '../review/decision-log';
import type { Reason } from '../review/taxonomy';

/** What people said about one image: a violation (and its category) or not. */
export interface ReviewedTruth {
  readonly violation: boolean;
  /** The category of the first reason given (`normal` when passed, `violate` when the reason has none). */
  readonly category: string;
}

/** The truth a decision states, with reasons mapped to their taxonomy categories. */
export function decisionTruth(d: ReviewDecision, categories: ReadonlyMap<string, string>): ReviewedTruth {
  const violation = d.outcome !== 'pass';
  return { violation, category: violation ? (categories.get(d.reasons[0] ?? '') ?? 'violate') : NORMAL_GROUP };
}

/** The categories of a taxonomy's reasons, by reason code. */
export function categoriesOf(taxonomy: readonly Reason[]): Map<string, string> {
  return new Map(taxonomy.map((r) => [r.code, r.category]));
}

/** People's standing decision per job (its highest round), as truth. */
export function truthByJob(decisions: readonly ReviewDecision[], taxonomy: readonly Reason[]): Map<string, ReviewedTruth> {
  const categories = categoriesOf(taxonomy);
  return new Map([...latestPerJob(decisions)].map(([id, d]) => [id, decisionTruth(d, categories)]));
}
