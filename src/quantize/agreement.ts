import { NORMAL_GROUP, type ModelCard } from '../model/model-card';
import { compilePolicy, DEFAULT_RULES, scoreRow } from '../policy';

/** How far a quantised model's scores are from the float model's, image by image. */
export interface Agreement {
  readonly images: number;
  /** Images whose top class is the same. */
  readonly sameTopClass: number;
  /** Images whose default-policy decision (pass / review / block, card thresholds) is the same. */
  readonly sameDecision: number;
  /** Largest |p_int8 − p_fp32| over every class of every image. */
  readonly maxAbsDiffProbability: number;
  readonly meanAbsDiffProbability: number;
  /** Images whose decision differs: index, both decisions, both violate scores. */
  readonly differences: ReadonlyArray<{ readonly index: number; readonly fp32: string; readonly int8: string; readonly violateFp32: number; readonly violateInt8: number }>;
}

/**
 * Compares two models' outputs for the same images (`[n, classes]` row-major logits or
 * probabilities, as the card says), through the card's scoring and the default policy.
 */
export function compareOutputs(card: ModelCard, reference: ArrayLike<number>, candidate: ArrayLike<number>): Agreement {
  const c = card.classes.length;
  const n = reference.length / c;
  if (candidate.length !== reference.length) throw new Error(`outputs differ in length: ${reference.length} and ${candidate.length}`);
  const groups = [...new Set(Object.values(card.groups))].filter((g) => g !== NORMAL_GROUP);
  const policy = compilePolicy('default', DEFAULT_RULES, card.thresholds, groups);
  const reading = { classes: card.classes, groups: card.groups, scores: card.output.scores };
  let sameTopClass = 0;
  let sameDecision = 0;
  let maxAbs = 0;
  let sumAbs = 0;
  const differences: Array<Agreement['differences'][number]> = [];
  for (let i = 0; i < n; i++) {
    const a = scoreRow(Array.prototype.slice.call(reference, i * c, (i + 1) * c) as number[], reading);
    const b = scoreRow(Array.prototype.slice.call(candidate, i * c, (i + 1) * c) as number[], reading);
    if (!a || !b) throw new Error(`image ${i}: non-finite scores (${a ? 'int8' : 'fp32'} model)`);
    for (const k of card.classes) {
      const d = Math.abs(a.classes[k]! - b.classes[k]!);
      maxAbs = Math.max(maxAbs, d);
      sumAbs += d;
    }
    if (a.topClass === b.topClass) sameTopClass += 1;
    const da = policy.evaluate({ scores: a, signals: [], meta: {} }).decision;
    const db = policy.evaluate({ scores: b, signals: [], meta: {} }).decision;
    if (da === db) sameDecision += 1;
    else differences.push({ index: i, fp32: da, int8: db, violateFp32: a.violate, violateInt8: b.violate });
  }
  return { images: n, sameTopClass, sameDecision, maxAbsDiffProbability: maxAbs, meanAbsDiffProbability: n > 0 ? sumAbs / (n * c) : 0, differences };
}
