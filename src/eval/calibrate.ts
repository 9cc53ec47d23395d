/**
 * Thresholds from people's decisions. People only see what the model sent them (review and block
 * verdicts) plus a QC sample of what it passed, so the decisions are a biased sample of the
 * traffic: counted as they are, they overstate both the review rate and the recall of any lower
 * threshold. Each decision is weighed by the inverse of the rate at which its kind of image was
 * sampled (1 for sent-to-review, 1 / QC rate for passes), which makes the weighted sums unbiased
 * estimates of the population's; a stratified bootstrap gives their confidence intervals.
 */
import type { Decision } from '@revmod/client';
import { NORMAL_GROUP } from '../model/model-card';
import { compilePolicy, DEFAULT_RULES, type PolicyThresholds } from '../policy';
import { SeededRandom } from '../util/seeded-random';
import { pointAt, topGroup, type LabelledScore, type SweepPoint } from './model-metrics';

export type CalibrationTarget = { readonly kind: 'review-rate'; readonly value: number } | { readonly kind: 'precision'; readonly value: number };

export interface CalibrationOptions {
  readonly target: CalibrationTarget;
  /** Candidate thresholds are multiples of this within (0, 1). @defaultValue 0.005 */
  readonly step?: number;
  /** Bootstrap replicates for the intervals. @defaultValue 300 */
  readonly replicates?: number;
  /** Two-sided coverage of the intervals. @defaultValue 0.95 */
  readonly confidence?: number;
  readonly seed?: number;
}

export interface Interval {
  readonly low: number;
  readonly high: number;
}

export interface Calibration {
  readonly target: CalibrationTarget;
  /** The chosen review threshold on the violate score, or null when no candidate meets the target. */
  readonly threshold: number | null;
  /** Weighted estimates at the threshold. */
  readonly estimate: SweepPoint | null;
  /** Percentile bootstrap intervals, at `confidence`. */
  readonly intervals: {
    readonly threshold: Interval | null;
    readonly reviewRate: Interval | null;
    readonly recall: Interval | null;
    readonly precision: Interval | null;
    readonly missedRate: Interval | null;
  };
  readonly confidence: number;
  readonly replicates: number;
  /** Decisions used, and the population they stand for (sum of weights). */
  readonly images: number;
  readonly weightedImages: number;
  readonly violations: number;
}

function candidates(step: number): number[] {
  const out: number[] = [];
  for (let i = 1; i * step < 1 - 1e-9; i++) out.push(Math.round(i * step * 1e6) / 1e6);
  return out;
}

/**
 * The threshold that meets the target: for a review rate, the lowest threshold whose estimated
 * review rate is at most the target (the most recall the reviewers' time buys); for a precision,
 * the lowest threshold whose estimated precision reaches it. Null when none does.
 */
export function chooseThreshold(items: readonly LabelledScore[], target: CalibrationTarget, step = 0.005): number | null {
  // Sorted once, with suffix sums: each candidate is then a binary search, not a pass (bootstrap runs this hundreds of times).
  const sorted = [...items].sort((a, b) => a.violate - b.violate);
  const n = sorted.length;
  const weightFrom = new Float64Array(n + 1);
  const hitFrom = new Float64Array(n + 1);
  for (let i = n - 1; i >= 0; i--) {
    const it = sorted[i]!;
    weightFrom[i] = weightFrom[i + 1]! + it.weight;
    hitFrom[i] = hitFrom[i + 1]! + (it.truth !== NORMAL_GROUP ? it.weight : 0);
  }
  const total = weightFrom[0]!;
  if (total <= 0) return null;
  for (const t of candidates(step)) {
    let lo = 0, hi = n;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (sorted[mid]!.violate >= t) hi = mid;
      else lo = mid + 1;
    }
    const flagged = weightFrom[lo]!;
    const ok = target.kind === 'review-rate' ? flagged / total <= target.value + 1e-12 : flagged > 0 && hitFrom[lo]! / flagged >= target.value - 1e-12;
    if (ok) return t;
  }
  return null;
}

/** Resamples each stratum (same weight = same sampling rate) with replacement, keeping its size. */
function stratifiedResample<T extends { readonly weight: number }>(strata: readonly (readonly T[])[], rng: SeededRandom): T[] {
  const out: T[] = [];
  for (const s of strata) for (let i = 0; i < s.length; i++) out.push(s[Math.floor(rng.next() * s.length)]!);
  return out;
}

function percentile(sorted: readonly number[], q: number): number {
  const i = Math.min(sorted.length - 1, Math.max(0, Math.round(q * (sorted.length - 1))));
  return sorted[i]!;
}

function interval(values: readonly number[], confidence: number): Interval | null {
  if (values.length === 0) return null;
  const sorted = [...values].sort((a, b) => a - b);
  const tail = (1 - confidence) / 2;
  return { low: percentile(sorted, tail), high: percentile(sorted, 1 - tail) };
}

interface BootstrapOptions {
  readonly replicates: number;
  readonly confidence: number;
  readonly seed: number;
}

/**
 * The stratified bootstrap every estimate here shares: `measure` on each replicate, then the
 * percentile interval of each value it named (null values, e.g. no threshold met the target in
 * that replicate, are left out of that value's interval).
 */
function bootstrap<T extends { readonly weight: number }, K extends string>(items: readonly T[], o: BootstrapOptions, keys: readonly K[], measure: (sample: readonly T[]) => Readonly<Record<K, number | null>>): Record<K, Interval | null> {
  const byWeight = new Map<number, T[]>();
  for (const it of items) (byWeight.get(it.weight) ?? byWeight.set(it.weight, []).get(it.weight)!).push(it);
  const strata = [...byWeight.values()];
  const rng = new SeededRandom(o.seed);
  const values = new Map(keys.map((k) => [k, [] as number[]]));
  for (let b = 0; b < o.replicates && items.length > 0; b++) {
    const m = measure(stratifiedResample(strata, rng));
    for (const k of keys) {
      const v = m[k];
      if (v !== null) values.get(k)!.push(v);
    }
  }
  return Object.fromEntries(keys.map((k) => [k, interval(values.get(k)!, o.confidence)])) as Record<K, Interval | null>;
}

const round = (x: number) => Math.round(x * 1e6) / 1e6;
const weightOf = (items: readonly { readonly weight: number }[]) => items.reduce((s, it) => s + it.weight, 0);

/** Picks the threshold for the target from weighted decisions, with bootstrap intervals. */
export function calibrate(items: readonly LabelledScore[], o: CalibrationOptions): Calibration {
  const step = o.step ?? 0.005;
  const replicates = o.replicates ?? 300;
  const confidence = o.confidence ?? 0.95;
  const threshold = chooseThreshold(items, o.target, step);
  const intervals = bootstrap(items, { replicates, confidence, seed: o.seed ?? 1 }, ['threshold', 'reviewRate', 'recall', 'precision', 'missedRate'], (sample) => {
    const p = threshold === null ? null : pointAt(sample, threshold);
    return { threshold: chooseThreshold(sample, o.target, step), reviewRate: p?.reviewRate ?? null, recall: p?.recall ?? null, precision: p?.precision ?? null, missedRate: p?.missedRate ?? null };
  });
  return {
    target: o.target,
    threshold,
    estimate: threshold === null ? null : pointAt(items, threshold),
    intervals,
    confidence, replicates,
    images: items.length,
    weightedImages: round(weightOf(items)),
    violations: items.filter((it) => it.truth !== NORMAL_GROUP).length,
  };
}

export interface BlockCalibrationOptions extends Omit<CalibrationOptions, 'target'> {
  /** Share of the images at or above the block threshold that people should judge violations. */
  readonly precision: number;
}

export interface BlockCalibration {
  readonly targetPrecision: number;
  /** The lowest candidate whose weighted precision reaches the target; null when none does. */
  readonly threshold: number | null;
  /**
   * Weighted estimates at the threshold: the share of all images blocked with no person, the share
   * of those that are violations, and the share of all violations blocked.
   */
  readonly estimate: { readonly blockRate: number; readonly precision: number; readonly recall: number } | null;
  readonly intervals: { readonly threshold: Interval | null; readonly blockRate: Interval | null; readonly precision: Interval | null; readonly recall: Interval | null };
  readonly confidence: number;
  readonly replicates: number;
  /** The labelled images at or above the threshold (the precision rests on these), and the population they stand for. */
  readonly atOrAbove: { readonly images: number; readonly weightedImages: number } | null;
}

/**
 * The block threshold (violate score at or above which an image is blocked with no person): the
 * lowest candidate whose weighted precision reaches the target, with bootstrap intervals. The same
 * choice as a precision target for review, reported as what it means for blocking.
 */
export function calibrateBlock(items: readonly LabelledScore[], o: BlockCalibrationOptions): BlockCalibration {
  const cal = calibrate(items, { ...o, target: { kind: 'precision', value: o.precision } });
  const t = cal.threshold;
  const above = t === null ? [] : items.filter((it) => it.violate >= t);
  return {
    targetPrecision: o.precision,
    threshold: t,
    estimate: cal.estimate && { blockRate: cal.estimate.reviewRate, precision: cal.estimate.precision, recall: cal.estimate.recall },
    intervals: { threshold: cal.intervals.threshold, blockRate: cal.intervals.reviewRate, precision: cal.intervals.precision, recall: cal.intervals.recall },
    confidence: cal.confidence, replicates: cal.replicates,
    atOrAbove: t === null ? null : { images: above.length, weightedImages: round(weightOf(above)) },
  };
}

/** The card group a true label stands for: a group itself, or a class of the card (its group); undefined when neither. */
export function truthGroup(truth: string, groups: Readonly<Record<string, string>>): string | undefined {
  if (truth === NORMAL_GROUP || Object.values(groups).includes(truth)) return truth;
  return Object.hasOwn(groups, truth) ? groups[truth] : undefined;
}

/**
 * The review threshold of a category: the highest candidate at which the weighted share of the
 * category's violations (items whose truth is `group`) with a `group` score at or above it reaches
 * `recall`. Null when the category has no violations or no candidate reaches it.
 */
export function chooseCategoryThreshold(items: readonly LabelledScore[], group: string, recall: number, step = 0.005): number | null {
  const own = items.filter((it) => it.truth === group).map((it) => ({ score: it.groups[group] ?? 0, weight: it.weight })).sort((a, b) => b.score - a.score);
  const total = weightOf(own);
  if (total <= 0) return null;
  // Candidates from the top: the first that reaches the recall is the highest (recall only grows as the threshold falls).
  const ts = candidates(step).reverse();
  let i = 0, caught = 0;
  for (const t of ts) {
    while (i < own.length && own[i]!.score >= t) caught += own[i++]!.weight;
    if (caught / total >= recall - 1e-12) return t;
  }
  return null;
}

export interface CategoryCalibrationOptions {
  /** Share of each category's violations whose group score should be at or above its review threshold. */
  readonly recall: number;
  /** The card's class → group map: its violation groups are calibrated, and truths given as class names count for their group. */
  readonly groups: Readonly<Record<string, string>>;
  /** A category whose violations' effective sample size is below this keeps the card's threshold. @defaultValue 5 */
  readonly minEffectiveSamples?: number;
  readonly step?: number;
  readonly replicates?: number;
  readonly confidence?: number;
  readonly seed?: number;
}

export interface CategorySamples {
  /** Labelled violations of the category, the population they stand for, and their Kish effective size ((Σw)² / Σw²). */
  readonly images: number;
  readonly weightedImages: number;
  readonly effective: number;
}

export type CategoryCalibration = { readonly group: string; readonly samples: CategorySamples } & (
  | {
      readonly chosen: true;
      readonly threshold: number;
      /** Weighted estimates at the threshold: the category's recall, and the share of all images whose group score is at or above it. */
      readonly estimate: { readonly recall: number; readonly flaggedRate: number };
      readonly intervals: { readonly threshold: Interval | null; readonly recall: Interval | null; readonly flaggedRate: Interval | null };
    }
  | { readonly chosen: false; readonly why: string }
);

export interface CategoriesCalibration {
  readonly targetRecall: number;
  readonly minEffectiveSamples: number;
  readonly confidence: number;
  readonly replicates: number;
  /** One per violation group of the card, chosen or kept (with why). */
  readonly byGroup: readonly CategoryCalibration[];
  /** Labelled violations whose truth is no group or class of the card: they count in no category's recall. */
  readonly unassigned: { readonly images: number; readonly weightedImages: number; readonly truths: Readonly<Record<string, number>> };
}

/** Weighted recall of a category at `t`, and the weighted share of all images whose group score is at or above `t`. */
function categoryPoint(items: readonly LabelledScore[], group: string, t: number): { recall: number; flaggedRate: number } {
  let all = 0, flagged = 0, own = 0, caught = 0;
  for (const it of items) {
    const up = (it.groups[group] ?? 0) >= t;
    all += it.weight;
    if (up) flagged += it.weight;
    if (it.truth === group) {
      own += it.weight;
      if (up) caught += it.weight;
    }
  }
  return { recall: round(own > 0 ? caught / own : 1), flaggedRate: round(all > 0 ? flagged / all : 0) };
}

/**
 * A review threshold per violation group of the card for a target recall of each category, from
 * weighted labels, with bootstrap intervals; categories with too few labelled violations keep the
 * card's threshold.
 */
export function calibrateCategories(items: readonly LabelledScore[], o: CategoryCalibrationOptions): CategoriesCalibration {
  const step = o.step ?? 0.005;
  const replicates = o.replicates ?? 300;
  const confidence = o.confidence ?? 0.95;
  const minEffectiveSamples = o.minEffectiveSamples ?? 5;
  const violationGroups = [...new Set(Object.values(o.groups))].filter((g) => g !== NORMAL_GROUP).sort();
  const unassigned = { images: 0, weightedImages: 0, truths: {} as Record<string, number> };
  const mapped = items.map((it) => {
    const g = truthGroup(it.truth, o.groups);
    if (g === undefined) {
      unassigned.images++;
      unassigned.weightedImages += it.weight;
      unassigned.truths[it.truth] = (unassigned.truths[it.truth] ?? 0) + 1;
    }
    return g === undefined || g === it.truth ? it : { ...it, truth: g };
  });
  const chosen = new Map<string, number>();
  const kept = new Map<string, string>();
  const samples = new Map<string, CategorySamples>();
  for (const g of violationGroups) {
    const w = mapped.filter((it) => it.truth === g).map((it) => it.weight);
    const sum = w.reduce((s, x) => s + x, 0);
    const effective = sum > 0 ? (sum * sum) / w.reduce((s, x) => s + x * x, 0) : 0;
    samples.set(g, { images: w.length, weightedImages: round(sum), effective: round(effective) });
    if (effective < minEffectiveSamples) {
      kept.set(g, `${w.length} labelled violations, effective sample size ${round(effective)} < ${minEffectiveSamples}`);
      continue;
    }
    const t = chooseCategoryThreshold(mapped, g, o.recall, step);
    if (t === null) kept.set(g, `no candidate threshold reaches recall ${o.recall} (recall at ${step} is ${categoryPoint(mapped, g, step).recall})`);
    else chosen.set(g, t);
  }
  const keys = [...chosen.keys()].flatMap((g) => [`${g}.threshold`, `${g}.recall`, `${g}.flaggedRate`]);
  const intervals = bootstrap(mapped, { replicates: chosen.size > 0 ? replicates : 0, confidence, seed: o.seed ?? 1 }, keys, (sample) => {
    const m: Record<string, number | null> = {};
    for (const [g, t] of chosen) {
      const p = categoryPoint(sample, g, t);
      m[`${g}.threshold`] = chooseCategoryThreshold(sample, g, o.recall, step);
      m[`${g}.recall`] = p.recall;
      m[`${g}.flaggedRate`] = p.flaggedRate;
    }
    return m;
  });
  return {
    targetRecall: o.recall, minEffectiveSamples, confidence, replicates,
    byGroup: violationGroups.map((g): CategoryCalibration => {
      const t = chosen.get(g);
      if (t === undefined) return { group: g, samples: samples.get(g)!, chosen: false, why: kept.get(g)! };
      return {
        group: g, samples: samples.get(g)!, chosen: true, threshold: t, estimate: categoryPoint(mapped, g, t),
        intervals: { threshold: intervals[`${g}.threshold`] ?? null, recall: intervals[`${g}.recall`] ?? null, flaggedRate: intervals[`${g}.flaggedRate`] ?? null },
      };
    }),
    unassigned: { ...unassigned, weightedImages: round(unassigned.weightedImages) },
  };
}

export interface PolicyEstimate {
  /**
   * Weighted shares of all images the default policy's score rules send to review, block, or
   * either; the share of violations they send to either; the share of blocked images that are
   * violations (null when none is blocked).
   */
  readonly estimate: { readonly reviewRate: number; readonly blockRate: number; readonly flaggedRate: number; readonly recall: number; readonly blockPrecision: number | null };
  readonly intervals: { readonly reviewRate: Interval | null; readonly blockRate: Interval | null; readonly flaggedRate: Interval | null; readonly recall: Interval | null; readonly blockPrecision: Interval | null };
}

type Decided = { readonly weight: number; readonly decision: Decision; readonly violation: boolean };

function policyPoint(items: readonly Decided[]): PolicyEstimate['estimate'] {
  let all = 0, review = 0, block = 0, violations = 0, caught = 0, blockedViolations = 0;
  for (const it of items) {
    all += it.weight;
    if (it.decision === 'review') review += it.weight;
    if (it.decision === 'block') block += it.weight;
    if (it.violation) {
      violations += it.weight;
      if (it.decision !== 'pass') caught += it.weight;
      if (it.decision === 'block') blockedViolations += it.weight;
    }
  }
  const share = (a: number, b: number, empty: number) => round(b > 0 ? a / b : empty);
  return {
    reviewRate: share(review, all, 0), blockRate: share(block, all, 0), flaggedRate: share(review + block, all, 0),
    recall: share(caught, violations, 1), blockPrecision: block > 0 ? round(blockedViolations / block) : null,
  };
}

/**
 * What the default policy's score rules (block, category block, violate, category, low confidence)
 * would decide with `thresholds` on these images, weighted, with bootstrap intervals: the review
 * and block rates that every threshold chosen here adds up to. Signals are not in the labels, so
 * their rules are not counted.
 * @throws RevmodError CONFIG_INVALID when the thresholds are invalid (see validateThresholds).
 */
export function estimatePolicy(items: readonly LabelledScore[], thresholds: PolicyThresholds, violationGroups: readonly string[], o: { readonly replicates?: number; readonly confidence?: number; readonly seed?: number } = {}): PolicyEstimate {
  const policy = compilePolicy('calibration', DEFAULT_RULES, thresholds, violationGroups);
  // Each image's decision depends on it alone: decided once, then resampled.
  const decided: Decided[] = items.map((it) => {
    const label = topGroup(it.groups);
    // The rules read groups and violate only; classes are not in the labels.
    const decision = policy.evaluate({ scores: { classes: {}, groups: it.groups, violate: it.violate, label, topClass: label }, signals: [], meta: {} }).decision;
    return { weight: it.weight, decision, violation: it.truth !== NORMAL_GROUP };
  });
  const intervals = bootstrap(decided, { replicates: o.replicates ?? 300, confidence: o.confidence ?? 0.95, seed: o.seed ?? 1 },
    ['reviewRate', 'blockRate', 'flaggedRate', 'recall', 'blockPrecision'], policyPoint);
  return { estimate: policyPoint(decided), intervals };
}
