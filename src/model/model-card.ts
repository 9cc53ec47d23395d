import { readFile } from 'node:fs/promises';
import { z } from 'zod';
import { RevmodError } from '@revmod/client';
import { DEFAULT_THRESHOLDS } from '../policy';
import { CROP_SIZE, IMAGENET_MEAN, IMAGENET_STD, RESIZE_SHORT_SIDE } from '../preprocess/constants';

/**
 * The classes every model must output, in this order: index 0 = normal, 1 = violate. The card must
 * list exactly these: the policy reads scores by index, so a model with other or reordered classes
 * would be misread silently; such a model needs a new contract, not a card.
 */
export const MODEL_CLASSES = ['normal', 'violate'] as const;


/** torchvision's val transform: Resize(256) → CenterCrop(224) → ToTensor → Normalize(ImageNet). */
export const DEFAULT_PREPROCESSING = {
  resizeShortSide: RESIZE_SHORT_SIDE,
  cropSize: CROP_SIZE,
  mean: [...IMAGENET_MEAN],
  std: [...IMAGENET_STD],
  colorSpace: 'RGB',
  autoOrient: true,
} as const;

const probability = z.number().min(0).max(1);
const dim = z.union([z.number().int().positive(), z.string().min(1)]);
const tensorSpec = z.strictObject({ name: z.string().min(1), shape: z.array(dim).min(1) });
const triple = (item: z.ZodNumber) => z.tuple([item, item, item]);

const thresholdsSchema = z
  .strictObject({
    /** violate score at or above which an image goes to review. */
    violate: probability.default(DEFAULT_THRESHOLDS.violate),
    /** max(score) below which an image goes to review as low confidence. */
    confidence: probability.default(DEFAULT_THRESHOLDS.confidence),
    /** violate score at or above which an image is blocked outright; null = never block. */
    block: probability.nullable().default(DEFAULT_THRESHOLDS.block),
  })
  .superRefine((t, ctx) => {
    if (t.block !== null && t.block < t.violate) {
      ctx.addIssue({ code: 'custom', path: ['block'], message: `must be null or ≥ violate (${t.violate})` });
    }
  });

const preprocessingSchema = z
  .strictObject({
    resizeShortSide: z.number().int().positive().default(DEFAULT_PREPROCESSING.resizeShortSide),
    cropSize: z.number().int().positive().default(DEFAULT_PREPROCESSING.cropSize),
    mean: triple(z.number()).default([...IMAGENET_MEAN]),
    std: triple(z.number().positive()).default([...IMAGENET_STD]),
    colorSpace: z.literal('RGB').default('RGB'),
    autoOrient: z.boolean().default(true),
  })
  .superRefine((p, ctx) => {
    if (p.resizeShortSide < p.cropSize) {
      ctx.addIssue({ code: 'custom', path: ['resizeShortSide'], message: `must be ≥ cropSize (${p.cropSize})` });
    }
  });

/**
 * The model card: a JSON file beside the model (`x.onnx` → `x.card.json`, see {@link cardPathFor})
 * that says what the model is and how to feed and read it. Unknown keys are rejected (a misspelt
 * threshold must not silently fall back to its default); free-form extras go under `metadata`.
 * The model's sha256 is not stored: it is computed from the file when loaded.
 */
export const modelCardSchema = z
  .strictObject({
    name: z.string().min(1),
    version: z.string().min(1),
    description: z.string(),
    /** false for seeded random weights: scores mean nothing. */
    trained: z.boolean(),
    classes: z.tuple([z.literal(MODEL_CLASSES[0]), z.literal(MODEL_CLASSES[1])]),
    input: tensorSpec,
    output: tensorSpec,
    thresholds: thresholdsSchema.prefault({}),
    preprocessing: preprocessingSchema.prefault({}),
    metadata: z.record(z.string(), z.unknown()).optional(),
  })
  .superRefine((card, ctx) => {
    const crop = card.preprocessing.cropSize;
    const [, channels, height, width, ...rest] = card.input.shape;
    if (card.input.shape.length !== 4 || channels !== 3 || height !== crop || width !== crop || rest.length > 0) {
      ctx.addIssue({ code: 'custom', path: ['input', 'shape'], message: `must be [N, 3, ${crop}, ${crop}] (cropSize ${crop})` });
    }
    if (card.output.shape.length !== 2 || card.output.shape[1] !== card.classes.length) {
      ctx.addIssue({ code: 'custom', path: ['output', 'shape'], message: `must be [N, ${card.classes.length}]` });
    }
  });

/** A validated card, defaults filled in. */
export type ModelCard = z.output<typeof modelCardSchema>;
/** A card as written in JSON: thresholds and preprocessing (and their fields) may be left out. */
export type ModelCardInput = z.input<typeof modelCardSchema>;

/** `models/x.onnx` → `models/x.card.json` (any other name gets `.card.json` appended). */
export function cardPathFor(modelPath: string): string {
  return modelPath.endsWith('.onnx') ? `${modelPath.slice(0, -'.onnx'.length)}.card.json` : `${modelPath}.card.json`;
}

/**
 * Validates a parsed card.
 * @param source the file (or other origin) named in error messages.
 * @throws RevmodError MODEL_INVALID naming the source and the first offending field.
 */
export function parseModelCard(value: unknown, source: string): ModelCard {
  const result = modelCardSchema.safeParse(value);
  if (result.success) return result.data;
  const details = result.error.issues.map((issue) => {
    const field = issue.path.length > 0 ? issue.path.map(String).join('.') : '(card)';
    return `${field}: ${issue.message}`;
  });
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
