/**
 * Thresholds from people's decisions. People only see what the model sent them (review and block
 * verdicts) plus a QC sample of what it passed, so the decisions are a biased sample of the
 * traffic: counted as they are, they overstate both the review rate and the recall of any lower
 * threshold. Each decision is weighed by the inverse of the rate at which its kind of image was
 * sampled (1 for sent-to-review, 1 / QC rate for passes), which makes the weighted sums unbiased
 * estimates of the population's; a stratified bootstrap gives their confidence intervals.
 */
import { NORMAL_GROUP } from '../model/model-card';
import { SeededRandom } from '../util/seeded-random';
import { pointAt, type LabelledScore, type SweepPoint } from './model-metrics';

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
