/**
 * Imports nsfwjs' trained MobileNetV2 NSFW classifiers (npm `nsfwjs`, MIT) as ONNX under revmod's
 * model contract: NCHW float input `input` [N, 3, 224, 224] holding pixels × 1/255, output `logits`
 * [N, 5] over Drawing, Hentai, Neutral, Porn, Sexy. The topology and the uint8-quantised weights
 * are read from the installed package's files; nothing is downloaded. nsfwjs is a development
 * dependency: conversion happens at build time, and serving needs only the ONNX file and its card.
 */
import { createHash } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { runInNewContext } from 'node:vm';
import { RevmodError, isRevmodError } from '@revmod/client';
import { ONNX_OPSET } from '../onnx/graph-builder';
import { convertTfjsLayersModel, tfjsLayersModelSchema } from './keras-layers-to-onnx';
import { type NchwOnnxWriter } from './nchw-onnx-writer';
import { convertTfjsGraphModel, tfjsGraphModelSchema } from './tfjs-graph-to-onnx';
import { decodeWeights, elementCount, type Weight, weightsManifestSchema, WeightStore } from './tfjs-weights';

export const NSFWJS_VARIANTS = ['mobilenet_v2_mid', 'mobilenet_v2'] as const;
export type NsfwjsVariant = (typeof NSFWJS_VARIANTS)[number];
/** The variant the demo and the import command use when none is named: it is the one that flags fewest normal photos. */
export const DEFAULT_NSFWJS_VARIANT: NsfwjsVariant = 'mobilenet_v2_mid';

/** nsfwjs' output order. */
export const NSFWJS_CLASSES = ['Drawing', 'Hentai', 'Neutral', 'Porn', 'Sexy'] as const;
/** Each class's moderation group: `normal`, or the violation category it counts towards. */
export const NSFWJS_GROUPS = { Drawing: 'normal', Neutral: 'normal', Hentai: 'porn', Porn: 'porn', Sexy: 'sexy' } as const;

/**
 * Bumped whenever the converter's output changes for the same nsfwjs files; it is the `-onnx.N`
 * suffix of the card's version, and a cached model with another revision is converted again.
 */
export const NSFWJS_CONVERTER_REVISION = 1;

const IMAGE_SIZE = 224;
/** The nsfwjs version these variants were written against. */
export const NSFWJS_EXPECTED_VERSION = '4.4.0';
const INSTALL_HINT = `npm install --save-dev --save-exact nsfwjs@${NSFWJS_EXPECTED_VERSION}, or npm ci without --omit=dev`;

interface VariantInfo {
  /** Folder under the package's dist/models. */
  readonly dir: string;
  readonly format: 'graph' | 'layers';
  /** The name nsfwjs.load() takes. */
  readonly nsfwjsName: string;
  readonly cardName: string;
  readonly summary: string;
}

export const NSFWJS_VARIANT_INFO: Readonly<Record<NsfwjsVariant, VariantInfo>> = {
  mobilenet_v2_mid: {
    dir: 'mobilenet_v2_mid',
    format: 'graph',
    nsfwjsName: 'MobileNetV2Mid',
    cardName: 'nsfwjs-mobilenet-v2-mid',
    summary: "nsfwjs' MobileNetV2 (width 1.4, TF-Hub feature vector + dense head) tfjs graph model, published as its 93 % model",
  },
  mobilenet_v2: {
    dir: 'mobilenet_v2',
    format: 'layers',
    nsfwjsName: 'MobileNetV2',
    cardName: 'nsfwjs-mobilenet-v2',
    summary: "nsfwjs' MobileNetV2 (width 1.0, Keras, dense head 256-128-5) tfjs layers model, nsfwjs' default",
  },
};

export function isNsfwjsVariant(value: unknown): value is NsfwjsVariant {
  return typeof value === 'string' && (NSFWJS_VARIANTS as readonly string[]).includes(value);
}

export interface NsfwjsPackage {
  /** The package directory. */
  readonly root: string;
  readonly version: string;
}

/**
 * Finds the installed nsfwjs package.
 * @param resolveFrom directory to resolve from. Default: this module's own resolution.
 * @throws RevmodError MODEL_IMPORT_UNAVAILABLE when nsfwjs is not installed.
 */
export function locateNsfwjs(resolveFrom?: string): NsfwjsPackage {
  let entry: string;
  try {
    entry = resolveFrom === undefined ? require.resolve('nsfwjs') : require.resolve('nsfwjs', { paths: [resolveFrom] });
  } catch (err) {
    throw new RevmodError('MODEL_IMPORT_UNAVAILABLE', `nsfwjs is a development dependency: install it to import: ${INSTALL_HINT}`, { cause: err });
  }
  // The CommonJS entry is <root>/dist/cjs/index.js; the package does not export its package.json.
  const root = resolve(dirname(entry), '..', '..');
  let pkg: { name?: unknown; version?: unknown };
  try {
    pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as typeof pkg;
  } catch (err) {
    throw new RevmodError('MODEL_INVALID', `nsfwjs at ${root}: package.json cannot be read (${(err as Error).message})`, { cause: err });
  }
  if (pkg.name !== 'nsfwjs' || typeof pkg.version !== 'string') throw new RevmodError('MODEL_INVALID', `${root} is not the nsfwjs package`);
  return { root, version: pkg.version };
}

/**
 * Evaluates one of nsfwjs' bundled model files (a UMD wrapper around a JSON object or a base64
 * string) in a throwaway context: unlike require(), nothing stays cached in the process, and the
 * files cannot touch this realm's globals.
 */
function evaluateBundle(path: string): unknown {
  const sandbox = { module: { exports: {} as unknown }, exports: {} };
  sandbox.module.exports = sandbox.exports;
  runInNewContext(readFileSync(path, 'utf8'), sandbox, { filename: path, timeout: 30_000 });
  return sandbox.module.exports;
}

export interface NsfwjsSourceModel {
  readonly variant: NsfwjsVariant;
  readonly package: NsfwjsPackage;
  /** model.json content (validated against the schema of its format when converted). */
  readonly modelJson: unknown;
  readonly weights: Weight[];
  /** sha256 over the model file and its shards, in order: identifies exactly what was converted. */
  readonly sourceSha256: string;
  readonly parameters: number;
}

/**
 * Reads a variant's topology and dequantised weights from the installed package.
 * @throws RevmodError MODEL_IMPORT_UNAVAILABLE without nsfwjs; MODEL_INVALID when its files are
 * missing or malformed.
 */
export function readNsfwjsModel(variant: NsfwjsVariant, pkg: NsfwjsPackage = locateNsfwjs()): NsfwjsSourceModel {
  const dir = join(pkg.root, 'dist', 'models', NSFWJS_VARIANT_INFO[variant].dir);
  const hash = createHash('sha256');
  const load = (file: string): unknown => {
    const path = join(dir, `${file}.min.js`);
    if (!existsSync(path)) throw new RevmodError('MODEL_INVALID', `nsfwjs ${pkg.version}: ${path} is missing (variant ${variant})`);
    hash.update(readFileSync(path));
    try {
      return evaluateBundle(path);
    } catch (err) {
      throw new RevmodError('MODEL_INVALID', `nsfwjs ${pkg.version}: ${path} cannot be evaluated (${(err as Error).message})`, { cause: err });
    }
  };
  const modelJson = load('model') as { weightsManifest?: unknown };
  const manifest = weightsManifestSchema.safeParse(modelJson?.weightsManifest);
  if (!manifest.success) throw new RevmodError('MODEL_INVALID', `nsfwjs ${pkg.version} ${variant}: weightsManifest is malformed (${manifest.error.issues[0]?.message ?? ''})`);
  const weights: Weight[] = [];
  for (const group of manifest.data) {
    const shards = group.paths.map((p) => {
      const data = load(p);
      if (typeof data !== 'string') throw new RevmodError('MODEL_INVALID', `nsfwjs ${pkg.version} ${variant}: shard ${p} does not hold base64 weight data`);
      return Buffer.from(data, 'base64');
    });
    weights.push(...decodeWeights(group.weights, Buffer.concat(shards), `nsfwjs ${pkg.version} ${variant}`));
  }
  return {
    variant,
    package: pkg,
    modelJson,
    weights,
    sourceSha256: hash.digest('hex'),
    parameters: weights.reduce((n, w) => n + elementCount(w.shape), 0),
  };
}

export interface ConversionSummary {
  readonly variant: NsfwjsVariant;
  readonly nsfwjsVersion: string;
  readonly sourceSha256: string;
  readonly parameters: number;
  /** Source ops (graph model) or layers (layers model) converted, by type. */
  readonly ops: Readonly<Record<string, number>>;
  readonly foldedBatchNorms: number;
}

export interface ConvertedNsfwjs {
  /** The serialized ONNX model. */
  readonly onnx: Buffer;
  readonly summary: ConversionSummary;
}

/** The card's `version`: the nsfwjs version with the converter revision, e.g. `4.4.0-onnx.1`. */
export function nsfwjsCardVersion(nsfwjsVersion: string): string {
  return `${nsfwjsVersion}-onnx.${NSFWJS_CONVERTER_REVISION}`;
}

/**
 * Converts a variant to ONNX (opset {@link ONNX_OPSET}); pure CPU work on the weights, about a second.
 * @throws RevmodError MODEL_IMPORT_UNAVAILABLE without nsfwjs; MODEL_INVALID when the model holds
 * something the converter does not handle (the message names the op or layer).
 */
export function convertNsfwjs(variant: NsfwjsVariant, source: NsfwjsSourceModel = readNsfwjsModel(variant)): ConvertedNsfwjs {
  const info = NSFWJS_VARIANT_INFO[variant];
  const origin = `nsfwjs ${source.package.version} ${variant}`;
  const store = new WeightStore(source.weights, origin);
  let writer: NchwOnnxWriter;
  let ops: Readonly<Record<string, number>>;
  let foldedBatchNorms = 0;
  try {
    if (info.format === 'graph') {
      const model = tfjsGraphModelSchema.parse(source.modelJson);
      ({ writer, ops } = convertTfjsGraphModel(model, store, info.cardName));
    } else {
      const model = tfjsLayersModelSchema.parse(source.modelJson);
      ({ writer, ops, foldedBatchNorms } = convertTfjsLayersModel(model, store, info.cardName));
    }
  } catch (err) {
    if (isRevmodError(err)) throw err;
    throw new RevmodError('MODEL_INVALID', `${origin}: cannot convert (${(err as Error).message})`, { cause: err });
  }
  const unused = store.unused();
  if (unused.length > 0) throw new RevmodError('MODEL_INVALID', `${origin}: ${unused.length} weights were not used by the conversion (${unused.slice(0, 3).join(', ')}…)`);
  const onnx = writer.builder.toBuffer({
    producerName: 'revmod model import-nsfwjs',
    producerVersion: nsfwjsCardVersion(source.package.version),
    docString: `${info.summary}; nsfwjs@${source.package.version} (MIT), converted to ONNX with the final softmax removed`,
    metadata: { source: `nsfwjs@${source.package.version} dist/models/${info.dir}`, licence: 'MIT', sourceSha256: source.sourceSha256, trained: 'true' },
  });
  return {
    onnx,
    summary: { variant, nsfwjsVersion: source.package.version, sourceSha256: source.sourceSha256, parameters: source.parameters, ops, foldedBatchNorms },
  };
}

/** What a parity check against nsfwjs itself measured (see nsfwjs-check.ts). */
export interface ParityRecord {
  readonly reference: string;
  readonly images: number;
  readonly inputs: string;
  /** The bound checked: max |p_onnx − p_nsfwjs| over images and classes. */
  readonly maxAbsDiffProbability: number;
  /** max |ln p_onnx − ln p_nsfwjs| (classes with p ≥ 1e-6): reported, not bounded. */
  readonly maxAbsDiffLogProbability: number;
  readonly tolerance: number;
}

/** The record of a parity report (which may carry more, such as per-image rows) that goes into the card. */
export function parityRecord(report: ParityRecord): ParityRecord {
  const { reference, images, inputs, maxAbsDiffProbability, maxAbsDiffLogProbability, tolerance } = report;
  return { reference, images, inputs, maxAbsDiffProbability, maxAbsDiffLogProbability, tolerance };
}

/**
 * A card as revmod's multi-class card format spells it. Written as plain JSON: `trained`, `groups`,
 * `output.scores` and `preprocessing.resize`/`scale` are the multi-class fields.
 */
export interface NsfwjsModelCard {
  readonly name: string;
  readonly version: string;
  readonly description: string;
  readonly trained: true;
  readonly classes: readonly string[];
  readonly groups: Readonly<Record<string, string>>;
  readonly input: { readonly name: 'input'; readonly shape: readonly ['N', 3, number, number] };
  readonly output: { readonly name: 'logits'; readonly shape: readonly ['N', number]; readonly scores: 'logits' };
  readonly preprocessing: {
    readonly resize: 'squash';
    readonly cropSize: number;
    readonly scale: number;
    readonly mean: readonly [number, number, number];
    readonly std: readonly [number, number, number];
    readonly colorSpace: 'RGB';
    readonly autoOrient: true;
  };
  readonly thresholds: { readonly violate: number; readonly confidence: number; readonly block: number | null };
  readonly metadata: Readonly<Record<string, unknown>>;
}

/** The card for a converted variant; `parity` is the check run on this very file, or null if none was. */
export function nsfwjsModelCard(summary: ConversionSummary, parity: ParityRecord | null): NsfwjsModelCard {
  const info = NSFWJS_VARIANT_INFO[summary.variant];
  return {
    name: info.cardName,
    version: nsfwjsCardVersion(summary.nsfwjsVersion),
    description:
      `${info.summary}, from the npm package nsfwjs@${summary.nsfwjsVersion} (MIT licence, github.com/infinitered/nsfwjs), ` +
      'converted to ONNX by revmod: uint8 weights dequantised as tfjs does, NHWC weights transposed to NCHW, TF SAME padding ' +
      'made explicit, ReLU6 as Clip(0, 6), batch norms folded, the final softmax dropped (the output is logits). ' +
      'Trained on NSFW imagery of five classes; Drawing and Neutral are normal, Hentai and Porn porn, Sexy sexy.',
    trained: true,
    classes: [...NSFWJS_CLASSES],
    groups: { ...NSFWJS_GROUPS },
    input: { name: 'input', shape: ['N', 3, IMAGE_SIZE, IMAGE_SIZE] },
    output: { name: 'logits', shape: ['N', NSFWJS_CLASSES.length], scores: 'logits' },
    // nsfwjs divides pixels by 255 and squashes (bilinear, no crop) to 224×224; no mean/std.
    preprocessing: { resize: 'squash', cropSize: IMAGE_SIZE, scale: 1 / 255, mean: [0, 0, 0], std: [1, 1, 1], colorSpace: 'RGB', autoOrient: true },
    thresholds: { violate: 0.7, confidence: 0.7, block: null },
    metadata: {
      source: `nsfwjs@${summary.nsfwjsVersion} dist/models/${info.dir} (${info.format} model), https://github.com/infinitered/nsfwjs`,
      licence: 'MIT',
      variant: summary.variant,
      parameters: summary.parameters,
      conversion: {
        converter: 'revmod src/model-import/nsfwjs.ts',
        revision: NSFWJS_CONVERTER_REVISION,
        opset: ONNX_OPSET,
        sourceSha256: summary.sourceSha256,
        sourceOps: summary.ops,
        foldedBatchNorms: summary.foldedBatchNorms,
        droppedFinalSoftmax: true,
        parityCheck: parity,
      },
    },
  };
}
