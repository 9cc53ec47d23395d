import { NORMAL_GROUP } from '../model/model-card';

/**
 * One judged image with its true label: what the model said (its group probabilities and violate
 * score) and what it really is. `weight` is how many images of the population it stands for: 1
 * for a labelled set, 1 / sampling rate for a QC sample of auto-passed images (people only see
 * what the model sent them, plus that sample).
 */
export interface LabelledScore {
  readonly id: string;
  /** The true group: 'normal' or a violation category ('violate' when the label has no category). */
  readonly truth: string;
  /** The model's summed violation probability. */
  readonly violate: number;
  /** The model's probability per group. */
  readonly groups: Readonly<Record<string, number>>;
  readonly weight: number;
}

export interface ClassMetrics {
  readonly precision: number;
  readonly recall: number;
  readonly f1: number;
  /** Weighted count of images of this class. */
  readonly support: number;
}

/** Review and miss rates at one violate threshold (images at or above it go to review or block). */
export interface SweepPoint {
  readonly threshold: number;
  /** Share of all images at or above the threshold. */
  readonly reviewRate: number;
  /** Share of the violations below the threshold (passed unseen). */
  readonly missedRate: number;
  /** Weighted count of violations below the threshold. */
  readonly missed: number;
  readonly precision: number;
  readonly recall: number;
}

export interface ModelEvaluation {
  readonly images: number;
  /** Sum of the weights: the population the sample stands for. */
  readonly weightedImages: number;
  /** The groups seen, normal first. */
  readonly labels: readonly string[];
  /** Per group, the prediction being the top group. */
  readonly perClass: Readonly<Record<string, ClassMetrics>>;
  /** Weighted; rows the true group, columns the top group. */
  readonly confusion: { readonly labels: readonly string[]; readonly matrix: readonly (readonly number[])[] };
  /** Per violation category of the truth: the share flagged at the threshold (violate ≥ it), weighted. */
  readonly perCategory: Readonly<Record<string, { readonly recall: number; readonly support: number }>>;
  /** Violation or not at the given threshold. */
  readonly atThreshold: SweepPoint & { readonly f1: number };
  readonly sweep: readonly SweepPoint[];
}

const ratio = (a: number, b: number, empty: number) => (b > 0 ? a / b : empty);
const f1Of = (p: number, r: number) => (p + r > 0 ? (2 * p * r) / (p + r) : 0);
const round = (x: number) => Math.round(x * 1e6) / 1e6;

/** The top group of an image (ties to the first listed). */
export function topGroup(groups: Readonly<Record<string, number>>): string {
  let best = NORMAL_GROUP;
  for (const [g, p] of Object.entries(groups)) if (p > (groups[best] ?? -1)) best = g;
  return best;
}

/** Review rate, misses, precision and recall when violate ≥ threshold is flagged; weighted. */
export function pointAt(items: readonly LabelledScore[], threshold: number): SweepPoint {
  let all = 0, flagged = 0, positives = 0, hit = 0;
  for (const it of items) {
    const isViolation = it.truth !== NORMAL_GROUP;
    const up = it.violate >= threshold;
    all += it.weight;
    if (up) flagged += it.weight;
    if (isViolation) positives += it.weight;
    if (isViolation && up) hit += it.weight;
  }
  const recall = ratio(hit, positives, 1);
  return {
    threshold: round(threshold), reviewRate: round(ratio(flagged, all, 0)), missedRate: round(1 - recall), missed: round(positives - hit),
    precision: round(ratio(hit, flagged, 1)), recall: round(recall),
  };
}

/** Thresholds 0, 1/steps, …, 1. */
export function sweepThresholds(steps = 100): number[] {
  return Array.from({ length: steps + 1 }, (_, i) => i / steps);
}

/**
 * Precision, recall and F1 per group and a confusion matrix (the prediction is the top group), and
 * the threshold sweep of the violate score; every count weighted.
 */
export function evaluateScores(items: readonly LabelledScore[], threshold: number, steps = 100): ModelEvaluation {
  const seen = new Set<string>([NORMAL_GROUP]);
  for (const it of items) {
    seen.add(it.truth);
    for (const g of Object.keys(it.groups)) seen.add(g);
  }
  const labels = [NORMAL_GROUP, ...[...seen].filter((g) => g !== NORMAL_GROUP).sort()];
  const index = new Map(labels.map((g, i) => [g, i]));
  const matrix = labels.map(() => labels.map(() => 0));
  for (const it of items) matrix[index.get(it.truth)!]![index.get(topGroup(it.groups))!]! += it.weight;
  const perClass: Record<string, ClassMetrics> = {};
  labels.forEach((g, i) => {
    const tp = matrix[i]![i]!;
    const predicted = matrix.reduce((s, row) => s + row[i]!, 0);
    const support = matrix[i]!.reduce((s, x) => s + x, 0);
    const precision = ratio(tp, predicted, 0);
    const recall = ratio(tp, support, 0);
    perClass[g] = { precision: round(precision), recall: round(recall), f1: round(f1Of(precision, recall)), support: round(support) };
  });
  const at = pointAt(items, threshold);
  const perCategory: Record<string, { recall: number; support: number }> = {};
  for (const g of labels.filter((l) => l !== NORMAL_GROUP)) {
    const of = items.filter((it) => it.truth === g);
    const support = of.reduce((s, it) => s + it.weight, 0);
    if (support === 0) continue;
    perCategory[g] = { recall: round(of.reduce((s, it) => s + (it.violate >= threshold ? it.weight : 0), 0) / support), support: round(support) };
  }
  return {
    images: items.length,
    weightedImages: round(items.reduce((s, it) => s + it.weight, 0)),
    labels,
    perClass,
    confusion: { labels, matrix: matrix.map((row) => row.map(round)) },
    perCategory,
    atThreshold: { ...at, f1: round(f1Of(at.precision, at.recall)) },
    sweep: sweepThresholds(steps).map((t) => pointAt(items, t)),
  };
}
