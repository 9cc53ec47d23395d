import { randomBytes } from 'node:crypto';
import { access, mkdir, rename, unlink, writeFile } from 'node:fs/promises';
import { basename, dirname, resolve } from 'node:path';
import { cardPathFor, type ModelCard, type ModelCardInput, MODEL_CLASSES, parseModelCard } from '../../src/model/model-card';
import { buildProbeOnnx, PROBE_GAIN, PROBE_PARAM_COUNT } from './probe-graph';
import { buildResNet18Onnx, resnet18ParamCount } from './resnet18-graph';

export type ModelKind = 'resnet18' | 'probe';

export interface EnsureModelOptions {
  readonly kind: ModelKind;
  /** Where the ONNX goes; the card goes beside it. Default {@link defaultModelPath}. */
  readonly path?: string;
  /** Weight seed (resnet18 only). Default 0. */
  readonly seed?: number;
  /** Rewrite both files even if they exist. Default false. */
  readonly force?: boolean;
}

export interface EnsuredModel {
  readonly modelPath: string;
  readonly cardPath: string;
  /** Whether this call wrote the model or its card. */
  readonly created: boolean;
}

const DEFAULT_SEED = 0;

/**
 * `models/revmod-resnet18-seed<seed>.onnx` or `models/revmod-probe.onnx`, resolved against the
 * current directory (the project root under npm scripts and jest).
 */
export function defaultModelPath(kind: ModelKind, seed = DEFAULT_SEED): string {
  return resolve('models', kind === 'resnet18' ? `revmod-resnet18-seed${seed}.onnx` : 'revmod-probe.onnx');
}

/** Trainable parameter count of a generated model. */
export function modelParamCount(kind: ModelKind): number {
  return kind === 'resnet18' ? resnet18ParamCount() : PROBE_PARAM_COUNT;
}

const INPUT = { name: 'input', shape: ['N', 3, 224, 224] };
const OUTPUT = { name: 'logits', shape: ['N', MODEL_CLASSES.length] };

/** The card written beside a generated model (validated, defaults filled in). */
export function generatedModelCard(kind: ModelKind, seed = DEFAULT_SEED): ModelCard {
  const card: ModelCardInput =
    kind === 'resnet18'
      ? {
          name: `revmod-resnet18-seed${seed}`,
          version: `0.0.0-seed${seed}`,
          description:
            `UNTRAINED. torchvision resnet18 topology with seeded random weights (seed ${seed}), for wiring, ` +
            'load and throughput tests only. Its scores are nearly input-independent (about the same for every ' +
            'image), so its decisions mean nothing. For moderation, bring your own fine-tuned model and card ' +
            '(see README "Model contract").',
          trained: false,
          classes: [...MODEL_CLASSES],
          input: INPUT,
          output: OUTPUT,
          metadata: { architecture: 'resnet18', seed, parameters: resnet18ParamCount(), generator: 'models/make-model.ts' },
        }
      : {
          name: 'revmod-probe',
          version: '1.0.0',
          description:
            'Test probe, not a classifier: the score follows the image colour. ' +
            `logit_violate - logit_normal = ${PROBE_GAIN.toFixed(4)} * (mean red - mean blue), channels in 0..1, ` +
            'so solid red scores violate 0.99, solid blue normal 0.99 and any grey 0.5.',
          trained: false,
          classes: [...MODEL_CLASSES],
          input: INPUT,
          output: OUTPUT,
          metadata: { architecture: 'probe', gain: PROBE_GAIN, generator: 'models/make-model.ts' },
        };
  return parseModelCard(card, `generated ${kind} card`);
}

async function exists(path: string): Promise<boolean> {
  try {
    await access(path);
    return true;
  } catch {
    return false;
  }
}

/** Writes via a unique temp file and rename, so concurrent writers and readers never see a partial file. */
async function writeAtomically(path: string, data: Buffer | string): Promise<void> {
  const tmp = resolve(dirname(path), `.${basename(path)}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`);
  try {
    await writeFile(tmp, data);
    await rename(tmp, path);
  } catch (err) {
    await unlink(tmp).catch(() => undefined);
    throw err;
  }
}

/**
 * Makes sure a generated model and its card exist, writing whichever is missing (both with `force`).
 * Safe when several processes race: each writes its own temp file and renames it into place, and
 * generation is deterministic, so the last rename wins with identical content.
 * @param options.path default {@link defaultModelPath}; options.seed default 0; options.force default false.
 */
export async function ensureModel(options: EnsureModelOptions): Promise<EnsuredModel> {
  const seed = options.seed ?? DEFAULT_SEED;
  if (!Number.isInteger(seed) || seed < 0 || seed > 0xffffffff) {
    throw new RangeError(`seed must be an integer in 0..2^32-1, got ${seed}`);
  }
  const modelPath = resolve(options.path ?? defaultModelPath(options.kind, seed));
  const cardPath = cardPathFor(modelPath);
  const force = options.force ?? false;
  await mkdir(dirname(modelPath), { recursive: true });

  let created = false;
  // Card first: whoever sees the model file can rely on its card being there.
  if (force || !(await exists(cardPath))) {
    await writeAtomically(cardPath, `${JSON.stringify(generatedModelCard(options.kind, seed), null, 2)}\n`);
    created = true;
  }
  if (force || !(await exists(modelPath))) {
    await writeAtomically(modelPath, options.kind === 'resnet18' ? buildResNet18Onnx({ seed }) : buildProbeOnnx());
    created = true;
  }
  return { modelPath, cardPath, created };
}
