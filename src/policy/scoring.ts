import { NORMAL_GROUP } from '../model/model-card';

/** How to read one image's row of model outputs. */
export interface ScoreReading {
  /** The card's classes, in output order. */
  readonly classes: readonly string[];
  /** class → group ('normal' or a violation category). */
  readonly groups: Readonly<Record<string, string>>;
  /** Whether the row holds logits (softmax applied here) or probabilities. */
  readonly scores: 'logits' | 'probabilities';
}

/** One image's scores, by class and by group. */
export interface ImageScores {
  /** Probability per class. */
  readonly classes: Readonly<Record<string, number>>;
  /** Probability per group: the sum of its classes'. */
  readonly groups: Readonly<Record<string, number>>;
  /** The summed probability of the violation groups (1 − normal). */
  readonly violate: number;
  /** The top group, and the top class beside it. */
  readonly label: string;
  readonly topClass: string;
}

/** Numerically stable softmax. */
export function softmax(row: ArrayLike<number>): number[] {
  let max = -Infinity;
  for (let i = 0; i < row.length; i++) max = Math.max(max, row[i]!);
  const exps = Array.from({ length: row.length }, (_, i) => Math.exp(row[i]! - max));
  const sum = exps.reduce((a, b) => a + b, 0);
  return exps.map((e) => e / sum);
}

/**
 * Reads one image's outputs. Returns undefined when any output is not finite (NaN, ±Infinity):
 * the caller must fail closed, never pass such an image.
 */
export function scoreRow(row: ArrayLike<number>, reading: ScoreReading): ImageScores | undefined {
  for (let i = 0; i < row.length; i++) if (!Number.isFinite(row[i]!)) return undefined;
  const p = reading.scores === 'logits' ? softmax(row) : Array.from(row);
  const classes: Record<string, number> = {};
  const groups: Record<string, number> = {};
  let topClass = reading.classes[0]!;
  reading.classes.forEach((c, i) => {
    classes[c] = p[i]!;
    const g = reading.groups[c]!;
    groups[g] = (groups[g] ?? 0) + p[i]!;
    if (p[i]! > classes[topClass]!) topClass = c;
  });
  let label = NORMAL_GROUP;
  for (const [g, v] of Object.entries(groups)) if (v > (groups[label] ?? -1)) label = g;
  let violate = 0;
  for (const [g, v] of Object.entries(groups)) if (g !== NORMAL_GROUP) violate += v;
  return { classes, groups, violate, label, topClass };
}

/** The worst of several frames' scores: the one with the highest violate score. */
export function worstFrame(frames: readonly ImageScores[]): { scores: ImageScores; index: number } {
  let index = 0;
  frames.forEach((f, i) => { if (f.violate > frames[index]!.violate) index = i; });
  return { scores: frames[index]!, index };
}
