/** Thresholds of the decision policy: the model card's, optionally overridden by config. */
export interface PolicyThresholds {
  /** violate score (the summed probability of the violation groups) ≥ this → review. Default 0.7. */
  readonly violate: number;
  /** the top group's probability < this → review (low confidence). Default 0.7. */
  readonly confidence: number;
  /** violate score ≥ this → block without waiting for a person; null = never block. Default null. */
  readonly block: number | null;
  /**
   * Per violation group (category): its own review and block thresholds on that group's
   * probability. A category left out, or a field left out, falls back to `violate` / `block`.
   */
  readonly categories?: Readonly<Record<string, CategoryThresholds>> | undefined;
}

export interface CategoryThresholds {
  readonly review?: number | undefined;
  readonly block?: number | null | undefined;
}

export const DEFAULT_THRESHOLDS: PolicyThresholds = { violate: 0.7, confidence: 0.7, block: null };

/**
 * Sensitivity presets (as Misskey offers): how readily suspected violations go to review. Each sets
 * the review threshold of `violate` and of every category; `medium` is the tutorial's 0.7.
 */
export const SENSITIVITY_PRESETS = {
  'very-low': 0.9,
  low: 0.8,
  medium: 0.7,
  high: 0.5,
  'very-high': 0.3,
} as const satisfies Record<string, number>;
export type Sensitivity = keyof typeof SENSITIVITY_PRESETS;

/**
 * The one threshold validator (card, config and policy file use it): each given threshold is a
 * probability, and a block threshold (when set) is not below its review threshold. Fields left
 * undefined are not checked.
 */
export function validateThresholds(t: {
  readonly violate?: number | undefined;
  readonly confidence?: number | undefined;
  readonly block?: number | null | undefined;
  readonly categories?: Readonly<Record<string, CategoryThresholds>> | undefined;
}): string[] {
  const problems: string[] = [];
  const prob = (name: string, x: number | undefined) => {
    if (x !== undefined && !(x >= 0 && x <= 1)) problems.push(`${name} must be within [0, 1], received ${x}`);
  };
  const ordered = (name: string, review: number | undefined, block: number | null | undefined) => {
    if (block !== null && block !== undefined && review !== undefined && block < review) problems.push(`${name}block (${block}) must not be below ${name ? `${name}review` : 'violate'} (${review})`);
  };
  prob('violate', t.violate);
  prob('confidence', t.confidence);
  if (t.block !== null && t.block !== undefined) prob('block', t.block);
  ordered('', t.violate, t.block);
  for (const [group, c] of Object.entries(t.categories ?? {})) {
    prob(`categories.${group}.review`, c.review);
    if (c.block !== null && c.block !== undefined) prob(`categories.${group}.block`, c.block);
    ordered(`categories.${group}.`, c.review ?? t.violate, c.block);
  }
  return problems;
}
