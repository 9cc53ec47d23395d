import { readFile } from 'node:fs/promises';
import { z } from 'zod';
import { RevmodError } from '@revmod/client';
import { DEFAULT_THRESHOLDS, validateThresholds } from '../policy';
import { CROP_SIZE, DEFAULT_SCALE, IMAGENET_MEAN, IMAGENET_STD, RESIZE_SHORT_SIDE } from '../preprocess/constants';
import type { InputGeometry } from '../preprocess/preprocess-options';
import { inputGeometryProblems, normalizationProblems, type OptionProblem } from '../preprocess/validate-options';

/**
 * The default class list, and the only one a card may leave `groups` out for: index 0 normal,
 * index 1 violate.
 */
export const MODEL_CLASSES = ['normal', 'violate'] as const;

/** The group that means "nothing wrong"; every other group is a violation category. */
export const NORMAL_GROUP = 'normal';

/** Groups of the default class list. */
const DEFAULT_GROUPS: Readonly<Record<string, string>> = { normal: NORMAL_GROUP, violate: 'violate' };

/** torchvision's val transform: Resize(256) → CenterCrop(224) → ToTensor → Normalize(ImageNet). */
export const DEFAULT_PREPROCESSING = {
  resize: 'crop',
  resizeShortSide: RESIZE_SHORT_SIDE,
  cropSize: CROP_SIZE,
  mean: [...IMAGENET_MEAN],
  std: [...IMAGENET_STD],
  scale: DEFAULT_SCALE,
  colorSpace: 'RGB',
  autoOrient: true,
} as const;

const dim = z.union([z.number().int().positive(), z.string().min(1)]);
const shape = z.array(dim).min(1);
const triple = z.tuple([z.number(), z.number(), z.number()]);

/** Problems found by a validator elsewhere, reported at their field. */
function report(ctx: z.RefinementCtx, problems: readonly OptionProblem[]): void {
  for (const p of problems) ctx.addIssue({ code: 'custom', path: [...p.path], message: p.message });
}

const thresholdsSchema = z
  .strictObject({
    /** violate score at or above which an image goes to review. */
    violate: z.number().default(DEFAULT_THRESHOLDS.violate),
    /** max(score) below which an image goes to review as low confidence. */
    confidence: z.number().default(DEFAULT_THRESHOLDS.confidence),
    /** violate score at or above which an image is blocked outright; null = never block. */
    block: z.number().nullable().default(DEFAULT_THRESHOLDS.block),
    /** Per violation group: its own review and block thresholds on that group's probability. */
    categories: z.record(z.string(), z.strictObject({ review: z.number().optional(), block: z.number().nullable().optional() })).optional(),
  })
  .superRefine((t, ctx) => {
    // The policy's own rules, so that card, config and policy cannot disagree.
    for (const message of validateThresholds(t)) ctx.addIssue({ code: 'custom', message });
  });

// Types and defaults here; the rules live in preprocess/validate-options.ts, which preprocessImage
// and the normaliser apply too.
const preprocessingSchema = z
  .strictObject({
    resize: z.enum(['crop', 'squash']).default(DEFAULT_PREPROCESSING.resize),
    /** 'crop' only; defaults to 256 there. */
    resizeShortSide: z.number().optional(),
    cropSize: z.number().default(DEFAULT_PREPROCESSING.cropSize),
    mean: triple.default([...IMAGENET_MEAN]),
    std: triple.default([...IMAGENET_STD]),
    scale: z.number().default(DEFAULT_PREPROCESSING.scale),
    colorSpace: z.literal('RGB').default(DEFAULT_PREPROCESSING.colorSpace),
    autoOrient: z.boolean().default(DEFAULT_PREPROCESSING.autoOrient),
  })
  .superRefine((p, ctx) => report(ctx, [...inputGeometryProblems(p), ...normalizationProblems(p)]))
  .transform(({ resizeShortSide, ...rest }) =>
    rest.resize === 'crop'
      ? { ...rest, resize: 'crop' as const, resizeShortSide: resizeShortSide ?? RESIZE_SHORT_SIDE }
      : { ...rest, resize: 'squash' as const },
  );

const outputSchema = z.strictObject({
  name: z.string().min(1),
  shape,
  /** 'logits': revmod applies softmax; 'probabilities': the model already did. */
  scores: z.enum(['logits', 'probabilities']).default('logits'),
});

function isDefaultClassList(classes: readonly string[]): boolean {
  return classes.length === MODEL_CLASSES.length && classes.every((c, i) => c === MODEL_CLASSES[i]);
}

function checkClassesAndGroups(classes: readonly string[], groups: Readonly<Record<string, string>> | undefined, ctx: z.RefinementCtx): void {
  const seen = new Set<string>();
  classes.forEach((c, i) => {
    if (seen.has(c)) ctx.addIssue({ code: 'custom', path: ['classes', i], message: `'${c}' is listed twice; class names must be distinct` });
    seen.add(c);
  });
  if (groups === undefined) {
    if (!isDefaultClassList(classes)) {
      ctx.addIssue({
        code: 'custom',
        path: ['groups'],
        message: `required for classes other than ["normal","violate"]: map each class to 'normal' or a violation category`,
      });
    }
    return;
  }
  for (const c of seen) {
    if (!Object.hasOwn(groups, c)) ctx.addIssue({ code: 'custom', path: ['groups', c], message: `missing: class '${c}' needs a group` });
  }
  for (const key of Object.keys(groups)) {
    if (!seen.has(key)) ctx.addIssue({ code: 'custom', path: ['groups', key], message: `'${key}' is not one of the classes` });
  }
  const values = classes.map((c) => groups[c]).filter((g): g is string => g !== undefined);
  if (!values.includes(NORMAL_GROUP)) ctx.addIssue({ code: 'custom', path: ['groups'], message: `no class is in group '${NORMAL_GROUP}'` });
  if (!values.some((g) => g !== NORMAL_GROUP)) ctx.addIssue({ code: 'custom', path: ['groups'], message: 'no class is in a violation group' });
}

/**
 * The model card: a JSON file beside the model (`x.onnx` → `x.card.json`, see {@link cardPathFor})
 * that says what the model is and how to feed and read it. Unknown keys are rejected (a misspelt
 * field must not silently fall back to its default); free-form extras go under `metadata`.
 * The model's sha256 is not stored: it is computed from the file when loaded.
 */
export const modelCardSchema = z
  .strictObject({
    name: z.string().min(1),
    version: z.string().min(1),
    description: z.string(),
    /** false for seeded random weights: scores mean nothing. */
    trained: z.boolean(),
    /** The model's output classes, in output order. */
    classes: z.array(z.string().min(1)).min(2),
    /** class → 'normal' or a violation category; may be left out for ["normal","violate"] only. */
    groups: z.record(z.string(), z.string().min(1)).optional(),
    input: z.strictObject({ name: z.string().min(1), shape }),
    output: outputSchema,
    thresholds: thresholdsSchema.prefault({}),
    preprocessing: preprocessingSchema.prefault({}),
    metadata: z.record(z.string(), z.unknown()).optional(),
  })
  .superRefine((card, ctx) => {
    checkClassesAndGroups(card.classes, card.groups, ctx);
    const groups = new Set(Object.values(card.groups ?? DEFAULT_GROUPS));
    for (const g of Object.keys(card.thresholds.categories ?? {})) {
      if (g === NORMAL_GROUP || !groups.has(g)) ctx.addIssue({ code: 'custom', path: ['thresholds', 'categories', g], message: `'${g}' is not a violation group of this card` });
    }
    const crop = card.preprocessing.cropSize;
    const [, channels, height, width, ...rest] = card.input.shape;
    if (card.input.shape.length !== 4 || channels !== 3 || height !== crop || width !== crop || rest.length > 0) {
      ctx.addIssue({ code: 'custom', path: ['input', 'shape'], message: `must be [N, 3, ${crop}, ${crop}] (cropSize ${crop})` });
    }
    const [inBatch] = card.input.shape;
    const [outBatch] = card.output.shape;
    if (card.output.shape.length !== 2 || card.output.shape[1] !== card.classes.length) {
      ctx.addIssue({ code: 'custom', path: ['output', 'shape'], message: `must be [N, ${card.classes.length}] (one score per class)` });
    } else if (typeof inBatch === 'number' && typeof outBatch === 'number' && inBatch !== outBatch) {
      ctx.addIssue({ code: 'custom', path: ['output', 'shape', 0], message: `must equal input.shape[0] (${inBatch})` });
    }
  })
  .transform(({ groups, ...card }) => ({ ...card, groups: groups ?? { ...DEFAULT_GROUPS } }));

/** A validated card, defaults filled in (`groups` always present). */
export type ModelCard = z.output<typeof modelCardSchema>;
/** A card as written in JSON: groups (for the default classes), thresholds and preprocessing may be left out. */
export type ModelCardInput = z.input<typeof modelCardSchema>;

/** The card's input geometry, as `preprocessImage` takes it. */
export function cardInputGeometry(card: ModelCard): InputGeometry {
  const p = card.preprocessing;
  return p.resize === 'crop'
    ? { resize: 'crop', resizeShortSide: p.resizeShortSide, cropSize: p.cropSize, autoOrient: p.autoOrient }
    : { resize: 'squash', cropSize: p.cropSize, autoOrient: p.autoOrient };
}

/** `models/x.onnx` → `models/x.card.json` (any other name gets `.card.json` appended). */
export function cardPathFor(modelPath: string): string {
  return modelPath.endsWith('.onnx') ? `${modelPath.slice(0, -'.onnx'.length)}.card.json` : `${modelPath}.card.json`;
}

/**
 * Validates a parsed card.
 * @param source the file (or other origin) named in error messages.
 * @throws RevmodError MODEL_INVALID naming the source and every offending field.
 */
export function parseModelCard(value: unknown, source: string): ModelCard {
  const result = modelCardSchema.safeParse(value);
  if (result.success) return result.data;
  const fieldOf = (path: readonly PropertyKey[]) => (path.length > 0 ? path.map(String).join('.') : '(card)');
  const details = result.error.issues.flatMap((issue) =>
    issue.code === 'unrecognized_keys'
      ? issue.keys.map((key) => `${fieldOf([...issue.path, key])}: unknown field (misspelt? extras go under metadata)`)
      : [`${fieldOf(issue.path)}: ${issue.message}`],
  );
  throw new RevmodError('MODEL_INVALID', `model card ${source}: ${details.join('; ')}`, { cause: result.error });
}

/**
 * Reads and validates a model card file.
 * @throws RevmodError MODEL_INVALID when the file is missing, not JSON, or fails validation; the
 * message names the file and the field.
 */
export async function loadModelCard(path: string): Promise<ModelCard> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (err) {
    throw new RevmodError('MODEL_INVALID', `model card ${path}: cannot be read (${(err as Error).message})`, { cause: err });
  }
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (err) {
    throw new RevmodError('MODEL_INVALID', `model card ${path}: not valid JSON (${(err as Error).message})`, { cause: err });
  }
  return parseModelCard(value, path);
}
