import { mkdir, readFile } from 'node:fs/promises';
import { dirname, resolve } from 'node:path';
import { RevmodError } from '@revmod/client';
import { exists, writeAtomically } from '../util/files';
import { cardPathFor } from '../model/model-card';
import {
  convertNsfwjs, DEFAULT_NSFWJS_VARIANT, isNsfwjsVariant, locateNsfwjs, NSFWJS_CONVERTER_REVISION, NSFWJS_VARIANT_INFO,
  nsfwjsCardVersion, nsfwjsModelCard, type NsfwjsModelCard, type NsfwjsVariant, parityRecord, readNsfwjsModel,
} from './nsfwjs';
import type * as NsfwjsCheck from './nsfwjs-check';

type ParityReport = NsfwjsCheck.ParityReport;

export interface EnsureNsfwModelOptions {
  /**
   * Convert again even when a model from this converter revision is already there.
   * @defaultValue false
   */
  readonly force?: boolean;
  /**
   * Synthetic images on which a fresh conversion is checked against nsfwjs itself before it is
   * written (nsfwjs takes ~8 s to load and ~1.5 s per image on tfjs' CPU backend); the result goes
   * into the card. 0 skips the check, and the card then records none.
   * @defaultValue 3
   */
  readonly checkImageCount?: number;
  /** Progress lines (conversion, check). Default: silent. */
  readonly log?: (line: string) => void;
}

export interface EnsuredNsfwModel {
  readonly variant: NsfwjsVariant;
  readonly modelPath: string;
  readonly cardPath: string;
  /** Whether this call converted (false: the cached files were kept). */
  readonly created: boolean;
  readonly card: NsfwjsModelCard;
  /** Conversion time (reading the package files included), when this call converted. */
  readonly conversionMs?: number;
  /** The self-check, when this call converted and ran one. */
  readonly parity?: ParityReport;
}

const DEFAULT_CHECK_IMAGES = 3;

/** `models/nsfwjs-mobilenet-v2-mid.onnx` (or `…-v2.onnx`), resolved against the current directory. */
export function defaultNsfwModelPath(variant: NsfwjsVariant = DEFAULT_NSFWJS_VARIANT): string {
  return resolve('models', `${NSFWJS_VARIANT_INFO[variant].cardName}.onnx`);
}

/** The card at `cardPath` if it is a card this converter revision wrote for `variant`. */
async function cachedCard(cardPath: string, variant: NsfwjsVariant): Promise<NsfwjsModelCard | undefined> {
  let card: Partial<NsfwjsModelCard>;
  try {
    card = JSON.parse(await readFile(cardPath, 'utf8')) as Partial<NsfwjsModelCard>;
  } catch {
    return undefined;
  }
  const ours = card.name === NSFWJS_VARIANT_INFO[variant].cardName && typeof card.version === 'string' && card.version.endsWith(`-onnx.${NSFWJS_CONVERTER_REVISION}`);
  return ours ? (card as NsfwjsModelCard) : undefined;
}

/** The installed nsfwjs version, or undefined when it is not installed (a production install). */
function installedNsfwjsVersion(): string | undefined {
  try {
    return locateNsfwjs().version;
  } catch {
    return undefined;
  }
}

/**
 * Makes sure a converted nsfwjs model and its card exist at `outPath` (card beside it), converting
 * once and reusing the files afterwards. A cached model is kept when its card comes from this
 * converter revision and, where nsfwjs is installed, from the installed nsfwjs version; so a
 * production install without nsfwjs can call this and get the files its build stage converted.
 * A fresh conversion is checked against nsfwjs (see `checkImageCount`) and written only if it agrees
 * within 1e-4; the card goes first, then the model, each by atomic rename.
 * @param variant default `mobilenet_v2_mid`.
 * @param outPath default {@link defaultNsfwModelPath}.
 * @throws RevmodError MODEL_IMPORT_UNAVAILABLE when a conversion is needed and nsfwjs is not
 * installed; MODEL_INVALID when the conversion fails or disagrees with nsfwjs.
 */
export async function ensureNsfwModel(
  variant: NsfwjsVariant = DEFAULT_NSFWJS_VARIANT,
  outPath: string = defaultNsfwModelPath(variant),
  options: EnsureNsfwModelOptions = {},
): Promise<EnsuredNsfwModel> {
  if (!isNsfwjsVariant(variant)) throw new RangeError(`variant must be one of ${Object.keys(NSFWJS_VARIANT_INFO).join(', ')}, got ${String(variant)}`);
  const checkImageCount = options.checkImageCount ?? DEFAULT_CHECK_IMAGES;
  if (!Number.isInteger(checkImageCount) || checkImageCount < 0) throw new RangeError(`checkImageCount must be a non-negative integer, got ${checkImageCount}`);
  const log = options.log ?? (() => undefined);
  const modelPath = resolve(outPath);
  const cardPath = cardPathFor(modelPath);

  if (options.force !== true) {
    const card = await cachedCard(cardPath, variant);
    const installed = installedNsfwjsVersion();
    if (card !== undefined && (await exists(modelPath)) && (installed === undefined || card.version === nsfwjsCardVersion(installed))) {
      return { variant, modelPath, cardPath, created: false, card };
    }
  }

  log(`converting nsfwjs ${variant} to ${modelPath}`);
  const started = performance.now();
  const { onnx, summary } = convertNsfwjs(variant, readNsfwjsModel(variant));
  const conversionMs = performance.now() - started;
  log(`converted in ${Math.round(conversionMs)} ms (${(onnx.length / 1e6).toFixed(1)} MB, ${summary.parameters.toLocaleString('en-US')} parameters)`);

  let parity: ParityReport | undefined;
  if (checkImageCount > 0) {
    log(`checking against nsfwjs on ${checkImageCount} synthetic images (nsfwjs on tfjs CPU: ~8 s to load, ~1.5 s per image)`);
    // Loaded here, not at the top: it pulls in onnxruntime, which a process serving cached files never needs.
    const { checkNsfwjsParity, syntheticCheckImages } = require('./nsfwjs-check') as typeof NsfwjsCheck;
    parity = await checkNsfwjsParity({
      variant,
      onnx,
      images: syntheticCheckImages(checkImageCount),
      inputs: `${checkImageCount} seeded synthetic 224×224 RGB images (syntheticCheckImages, seed 1)`,
      nsfwjsVersion: summary.nsfwjsVersion,
    });
    log(`max |Δp| ${parity.maxAbsDiffProbability.toExponential(2)} (tolerance ${parity.tolerance}), max |Δ ln p| ${parity.maxAbsDiffLogProbability.toExponential(2)}`);
    if (!parity.passed) {
      throw new RevmodError('MODEL_INVALID', `nsfwjs ${variant}: the converted model disagrees with nsfwjs by ${parity.maxAbsDiffProbability} (> ${parity.tolerance}); nothing written`);
    }
  }
  const card = nsfwjsModelCard(summary, parity === undefined ? null : parityRecord(parity));

  await mkdir(dirname(modelPath), { recursive: true });
  // Card first: whoever sees the model file can rely on its card being there.
  await writeAtomically(cardPath, `${JSON.stringify(card, null, 2)}\n`);
  await writeAtomically(modelPath, onnx);
  return { variant, modelPath, cardPath, created: true, card, conversionMs, ...(parity === undefined ? {} : { parity }) };
}
