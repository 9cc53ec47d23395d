import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { parse as parseYaml } from 'yaml';
import { z } from 'zod';
import { canonicalJson, RevmodError, type Decision } from '@revmod/client';
import type { Signal } from '../detectors/detector';
import type { ImageScores } from './scoring';
import { validateThresholds, type PolicyThresholds } from './thresholds';

/**
 * The rules policy: model scores and detector signals in, `pass | review | block` out. Every rule
 * whose condition holds contributes its action; the decision is the most severe one (block >
 * review > pass), and `reasons` are the reasons of the rules that chose it. A policy is a file
 * (JSON or YAML, validated) or the built-in default, which reproduces the tutorial's policy.
 */

const jsonValue = z.union([z.string(), z.number(), z.boolean(), z.null()]);

/** A threshold given as a number or by name: the effective thresholds' `review`, `block` or `confidence`. */
const thresholdRef = z.union([z.number().min(0).max(1), z.enum(['review', 'block', 'confidence'])]);

/** Predicates on one field of a signal's evidence (a dot path). */
const evidencePredicate = z.strictObject({
  /** The value is one of these. */
  in: z.array(jsonValue).optional(),
  /** The value is none of these (an absent value is none of them). */
  notIn: z.array(jsonValue).optional(),
  /** The value is in the list held by this field of the job's meta (e.g. a shop's own hosts). */
  inMeta: z.string().min(1).optional(),
  /** The value is not in that list (or the job's meta has no such list). */
  notInMeta: z.string().min(1).optional(),
  /** The value equals this. */
  equals: jsonValue.optional(),
});

type ConditionSpec = {
  readonly signal?: string | readonly string[] | undefined;
  readonly evidence?: Readonly<Record<string, z.infer<typeof evidencePredicate>>> | undefined;
  readonly score?: string | undefined;
  readonly atLeast?: number | 'review' | 'block' | 'confidence' | undefined;
  readonly below?: number | 'review' | 'block' | 'confidence' | undefined;
  readonly meta?: Readonly<Record<string, z.infer<typeof jsonValue> | ReadonlyArray<z.infer<typeof jsonValue>>>> | undefined;
  readonly not?: ConditionSpec | undefined;
  readonly all?: readonly ConditionSpec[] | undefined;
  readonly any?: readonly ConditionSpec[] | undefined;
};

const condition: z.ZodType<ConditionSpec> = z.lazy(() => z.strictObject({
  /** A signal with this reason (or one of these) is present… */
  signal: z.union([z.string().min(1), z.array(z.string().min(1)).min(1)]).optional(),
  /** …and, when given, its evidence satisfies every predicate. */
  evidence: z.record(z.string().min(1), evidencePredicate).optional(),
  /**
   * A score: `violate` (summed violation groups), `max` (the top group), `category` (any violation
   * group, each against its own category thresholds), or a group's name. Needs `atLeast` or `below`.
   */
  score: z.string().min(1).optional(),
  atLeast: thresholdRef.optional(),
  below: thresholdRef.optional(),
  /** Fields of the job's meta equal these values (an array: any of them). */
  meta: z.record(z.string().min(1), z.union([jsonValue, z.array(jsonValue)])).optional(),
  not: condition.optional(),
  all: z.array(condition).min(1).optional(),
  any: z.array(condition).min(1).optional(),
}).superRefine((c, ctx) => {
  if (Object.keys(c).length === 0) ctx.addIssue({ code: 'custom', message: 'an empty condition: give signal, score, meta, not, all or any' });
  if (c.score !== undefined && c.atLeast === undefined && c.below === undefined) ctx.addIssue({ code: 'custom', path: ['score'], message: 'needs atLeast or below' });
  if ((c.atLeast !== undefined || c.below !== undefined) && c.score === undefined) ctx.addIssue({ code: 'custom', path: ['score'], message: 'atLeast/below need a score' });
  if (c.evidence !== undefined && c.signal === undefined) ctx.addIssue({ code: 'custom', path: ['evidence'], message: 'evidence predicates need a signal' });
}));

const ruleSchema = z.strictObject({
  name: z.string().min(1),
  if: condition,
  then: z.enum(['pass', 'review', 'block']),
  /** The reason recorded when this rule decides; default: the rule's name. */
  reason: z.string().min(1).optional(),
});

const policyFileSchema = z.strictObject({
  /** Format version of the file. */
  version: z.literal(1),
  /** A name for the policy, stamped on verdicts beside its hash. */
  name: z.string().min(1).default('custom'),
  /** Thresholds here override the card's (and are overridden by config). */
  thresholds: z.strictObject({
    violate: z.number().optional(),
    confidence: z.number().optional(),
    block: z.number().nullable().optional(),
    categories: z.record(z.string(), z.strictObject({ review: z.number().optional(), block: z.number().nullable().optional() })).optional(),
  }).optional(),
  rules: z.array(ruleSchema).min(1),
  /**
   * Signals the policy trusts without the model: an upload carrying one is decided on its signals
   * alone, with no inference (e.g. `known_ok`, a listed known-good image). OCR and QR still run.
   */
  skipClassifierFor: z.array(z.string().min(1)).default([]),
});

export type PolicyRule = z.infer<typeof ruleSchema>;
export type PolicyFile = z.input<typeof policyFileSchema>;

/** The default policy: the tutorial's three score rules, then the detectors' signals. */
export const DEFAULT_RULES: readonly PolicyRule[] = [
  { name: 'block_threshold', if: { score: 'violate', atLeast: 'block' }, then: 'block' },
  { name: 'category_block', if: { score: 'category', atLeast: 'block' }, then: 'block' },
  { name: 'violate_score', if: { score: 'violate', atLeast: 'review' }, then: 'review' },
  { name: 'category_score', if: { score: 'category', atLeast: 'review' }, then: 'review' },
  { name: 'low_confidence', if: { score: 'max', below: 'confidence' }, then: 'review' },
  // A copy of a listed violation: the list's action (block, or review for lists that want a look).
  { name: 'known_violation', if: { signal: 'known_violation', evidence: { action: { notIn: ['review'] } } }, then: 'block' },
  { name: 'known_violation_review', if: { signal: 'known_violation', evidence: { action: { equals: 'review' } } }, then: 'review', reason: 'known_violation' },
  { name: 'contact_info', if: { signal: 'contact_info' }, then: 'review' },
  { name: 'banned_text', if: { signal: 'banned_text' }, then: 'review' },
  { name: 'text_heavy', if: { signal: 'text_heavy' }, then: 'review' },
  // A shop's own hosts (meta.allowedQrHosts) are allowed.
  { name: 'qr_code', if: { signal: 'qr_code', evidence: { host: { notInMeta: 'allowedQrHosts' } } }, then: 'review' },
  { name: 'blurry', if: { signal: 'blurry' }, then: 'review' },
];

/** What a policy judges: one image's scores (absent when not scored) and signals, and the job's meta. */
export interface PolicyInput {
  readonly scores: ImageScores | undefined;
  readonly signals: readonly Signal[];
  readonly meta: Readonly<Record<string, unknown>>;
}

export interface PolicyOutcome {
  readonly decision: Decision;
  /** The reasons of the rules that chose the decision. */
  readonly reasons: string[];
  /** Every rule that matched, whatever its action. */
  readonly matched: string[];
  /** Violation categories flagged: groups at or above their review threshold, and signals' reasons. */
  readonly labels: string[];
}

export interface Policy {
  readonly name: string;
  /** sha256 (first 16 hex) of the rules and effective thresholds: stamped on every verdict. */
  readonly version: string;
  readonly thresholds: PolicyThresholds;
  readonly rules: readonly PolicyRule[];
  /** Signal reasons that skip the classifier (see the policy file's `skipClassifierFor`). */
  readonly skipClassifierFor: readonly string[];
  evaluate(input: PolicyInput): PolicyOutcome;
}

const SEVERITY: Readonly<Record<Decision, number>> = { pass: 0, review: 1, block: 2 };

function get(obj: unknown, path: string): unknown {
  return path.split('.').reduce<unknown>((o, k) => (o !== null && typeof o === 'object' ? (o as Record<string, unknown>)[k] : undefined), obj);
}

/**
 * Builds a policy over `groups` (the card's violation groups), with `thresholds` already resolved.
 * @throws RevmodError CONFIG_INVALID naming the rule and field of a rule that cannot apply.
 */
export function compilePolicy(name: string, rules: readonly PolicyRule[], thresholds: PolicyThresholds, violationGroups: readonly string[], skipClassifierFor: readonly string[] = []): Policy {
  const problems = validateThresholds(thresholds);
  if (problems.length > 0) throw new RevmodError('CONFIG_INVALID', `policy ${name}: thresholds: ${problems.join('; ')}`);
  for (const group of Object.keys(thresholds.categories ?? {})) {
    if (!violationGroups.includes(group)) {
      throw new RevmodError('CONFIG_INVALID', `policy ${name}: thresholds.categories.${group}: not a violation group of the model (groups: ${violationGroups.join(', ')})`);
    }
  }
  const scoreNames = new Set(['violate', 'max', 'category', 'normal', ...violationGroups]);
  const checkScores = (c: ConditionSpec, where: string): void => {
    if (c.score !== undefined && !scoreNames.has(c.score)) {
      throw new RevmodError('CONFIG_INVALID', `policy ${name}: ${where}.score: ${JSON.stringify(c.score)} is not a score (violate, max, category or a group: ${[...scoreNames].slice(3).join(', ')})`);
    }
    c.all?.forEach((x, i) => checkScores(x, `${where}.all[${i}]`));
    c.any?.forEach((x, i) => checkScores(x, `${where}.any[${i}]`));
    if (c.not) checkScores(c.not, `${where}.not`);
  };
  rules.forEach((r, i) => checkScores(r.if, `rules[${i}] (${r.name}).if`));

  const categoryReview = (g: string) => thresholds.categories?.[g]?.review ?? thresholds.violate;
  const categoryBlock = (g: string) => {
    const c = thresholds.categories?.[g];
    return c && c.block !== undefined ? c.block : thresholds.block;
  };
  /** A threshold by name or number; undefined when it is off (block null), so the condition fails. */
  const resolve = (ref: number | 'review' | 'block' | 'confidence', group?: string): number | undefined => {
    if (typeof ref === 'number') return ref;
    if (ref === 'confidence') return thresholds.confidence;
    if (ref === 'review') return group ? categoryReview(group) : thresholds.violate;
    const b = group ? categoryBlock(group) : thresholds.block;
    return b ?? undefined;
  };

  const holds = (c: ConditionSpec, input: PolicyInput): boolean => {
    if (c.signal !== undefined) {
      const wanted = typeof c.signal === 'string' ? [c.signal] : c.signal;
      const found = input.signals.some((s) => wanted.includes(s.reason) && Object.entries(c.evidence ?? {}).every(([path, p]) => {
        const v = get(s.evidence, path) as z.infer<typeof jsonValue>;
        if (p.equals !== undefined && v !== p.equals) return false;
        if (p.in !== undefined && !p.in.includes(v)) return false;
        if (p.notIn !== undefined && p.notIn.includes(v)) return false;
        if (p.inMeta !== undefined) {
          const list = get(input.meta, p.inMeta);
          if (!Array.isArray(list) || !list.includes(v)) return false;
        }
        if (p.notInMeta !== undefined) {
          const list = get(input.meta, p.notInMeta);
          if (Array.isArray(list) && list.includes(v)) return false;
        }
        return true;
      }));
      if (!found) return false;
    }
    if (c.score !== undefined) {
      const s = input.scores;
      if (!s) return false;
      const test = (value: number, group?: string): boolean => {
        const lo = c.atLeast !== undefined ? resolve(c.atLeast, group) : undefined;
        const hi = c.below !== undefined ? resolve(c.below, group) : undefined;
        if (c.atLeast !== undefined && (lo === undefined || !(value >= lo))) return false;
        if (c.below !== undefined && (hi === undefined || !(value < hi))) return false;
        return true;
      };
      let ok: boolean;
      if (c.score === 'violate') ok = test(s.violate);
      else if (c.score === 'max') ok = test(Math.max(...Object.values(s.groups)));
      else if (c.score === 'category') {
        // Only groups with a threshold of their own: the others are covered by `violate`.
        ok = Object.entries(s.groups).some(([g, v]) => violationGroups.includes(g) && thresholds.categories?.[g] !== undefined && test(v, g));
      } else ok = test(s.groups[c.score] ?? 0, violationGroups.includes(c.score) ? c.score : undefined);
      if (!ok) return false;
    }
    if (c.meta !== undefined) {
      for (const [field, want] of Object.entries(c.meta)) {
        const v = get(input.meta, field);
        if (Array.isArray(want) ? !want.includes(v as z.infer<typeof jsonValue>) : v !== want) return false;
      }
    }
    if (c.not !== undefined && holds(c.not, input)) return false;
    if (c.all !== undefined && !c.all.every((x) => holds(x, input))) return false;
    if (c.any !== undefined && !c.any.some((x) => holds(x, input))) return false;
    return true;
  };

  const version = createHash('sha256').update(canonicalJson({ name, rules, thresholds, ...(skipClassifierFor.length > 0 ? { skipClassifierFor } : {}) })).digest('hex').slice(0, 16);
  return {
    name, version, thresholds, rules, skipClassifierFor,
    evaluate(input) {
      let decision: Decision = 'pass';
      const hits: Array<{ rule: PolicyRule; action: Decision }> = [];
      for (const rule of rules) {
        if (!holds(rule.if, input)) continue;
        hits.push({ rule, action: rule.then });
        if (SEVERITY[rule.then] > SEVERITY[decision]) decision = rule.then;
      }
      const labels = new Set<string>();
      if (input.scores) {
        for (const [g, v] of Object.entries(input.scores.groups)) if (violationGroups.includes(g) && v >= categoryReview(g)) labels.add(g);
      }
      for (const s of input.signals) labels.add(s.reason);
      return {
        decision,
        reasons: hits.filter((h) => h.action === decision && decision !== 'pass').map((h) => h.rule.reason ?? h.rule.name),
        matched: hits.map((h) => h.rule.name),
        labels: [...labels],
      };
    },
  };
}

/**
 * Reads and validates a policy file (JSON or YAML, by extension). Thresholds in it override the
 * card's; config overrides both (the caller merges).
 * @throws RevmodError CONFIG_INVALID naming the file, the rule and the field.
 */
export async function readPolicyFile(path: string): Promise<z.output<typeof policyFileSchema>> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (err) {
    throw new RevmodError('CONFIG_INVALID', `policy file ${path}: cannot be read (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`);
  }
  let value: unknown;
  try {
    value = /\.ya?ml$/i.test(path) ? parseYaml(text) : JSON.parse(text);
  } catch (err) {
    throw new RevmodError('CONFIG_INVALID', `policy file ${path}: not valid ${/\.ya?ml$/i.test(path) ? 'YAML' : 'JSON'} (${(err as Error).message})`);
  }
  return parsePolicyFile(value, path);
}

export function parsePolicyFile(value: unknown, source: string): z.output<typeof policyFileSchema> {
  const parsed = policyFileSchema.safeParse(value);
  if (parsed.success) return parsed.data;
  const rules = (value as { rules?: Array<{ name?: unknown }> } | null)?.rules;
  const details = parsed.error.issues.map((issue) => {
    const path = issue.path.map(String);
    let where = path.join('.') || '(file)';
    if (path[0] === 'rules' && path[1] !== undefined) {
      const ruleName = rules?.[Number(path[1])]?.name;
      where = `rules[${path[1]}]${typeof ruleName === 'string' ? ` (${ruleName})` : ''}${path.length > 2 ? `.${path.slice(2).join('.')}` : ''}`;
    }
    return `${where}: ${issue.message}`;
  });
  throw new RevmodError('CONFIG_INVALID', `policy file ${source}: ${details.join('; ')}`);
}
