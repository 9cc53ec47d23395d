/**
 * `revmod model quantize IN OUT --calibrate DIR`: a float32 model and its card in, an int8 QDQ model
 * and its card out, calibrated on sample photos decoded as the worker decodes them, and checked
 * against the float model on those photos before anything is written.
 */
import { readFile } from 'node:fs/promises';
import { basename, resolve } from 'node:path';
import * as ort from 'onnxruntime-node';
import { RevmodError } from '@revmod/client';
import { cardPathFor, parseModelCard, type ModelCard } from '../model/model-card';
import { checkModelIo, ioContractOf } from '../model/model-io';
import { loadModel } from '../model/load-model';
import { exists, writeAtomically } from '../util/files';
import { compareOutputs, type Agreement } from './agreement';
import { calibrateRanges, loadCalibrationImages, stackBatch, type CalibrationMethod } from './calibrate';
import { buildQdqModel, decodeOnnx, encodeOnnx, planQdq, withActivationOutputs, type QdqSummary } from './qdq-graph';

/** Bumped when the quantiser's output changes for the same inputs; recorded in the card. */
export const QUANTISER_REVISION = 1;

export interface QuantizeOptions {
  /** Folder of sample photos (jpg, png, webp, …), ideally like the traffic the model will see. */
  readonly calibrateDir: string;
  /** @defaultValue 'percentile' (held out: 209/210 decisions equal against minmax's 208/210, docs/benchmarks.md) */
  readonly method?: CalibrationMethod;
  /** For 'percentile'. @defaultValue 99.99 */
  readonly percentile?: number;
  /** At most this many photos of the folder (by name). @defaultValue 500 */
  readonly maxImages?: number;
  /** Images per calibration run. @defaultValue 8 */
  readonly batchSize?: number;
  /** Overwrite OUT and its card. @defaultValue false */
  readonly force?: boolean;
  readonly log?: (line: string) => void;
}

export interface QuantizeResult {
  readonly modelPath: string;
  readonly cardPath: string;
  readonly card: ModelCard;
  readonly summary: QdqSummary;
  readonly calibrationImages: number;
  readonly skipped: ReadonlyArray<{ readonly file: string; readonly code: string; readonly message: string }>;
  /** int8 against fp32 on the calibration photos (in-sample: measure held-out photos too). */
  readonly check: Agreement;
  readonly bytesIn: number;
  readonly bytesOut: number;
}

const configInvalid = (message: string) => new RevmodError('CONFIG_INVALID', message);

/** Both models' outputs on the same images, through sessions set up as the worker's. */
async function runBoth(floatBytes: Uint8Array, quantBytes: Uint8Array, card: ModelCard, images: readonly Float32Array[], batchSize: number): Promise<{ fp32: Float32Array; int8: Float32Array }> {
  const options: ort.InferenceSession.SessionOptions = { graphOptimizationLevel: 'all', executionProviders: ['cpu'] };
  const fp = await ort.InferenceSession.create(floatBytes, options);
  let q: ort.InferenceSession | undefined;
  try {
    try {
      q = await ort.InferenceSession.create(quantBytes, options);
      checkModelIo(q.inputMetadata, q.outputMetadata, ioContractOf(card), batchSize);
    } catch (err) {
      throw new Error(`the quantised graph does not load in onnxruntime: ${(err as Error).message}`, { cause: err });
    }
    const run = async (s: ort.InferenceSession): Promise<Float32Array> => {
      const out = new Float32Array(images.length * card.classes.length);
      for (let i = 0; i < images.length; i += batchSize) {
        const r = await s.run({ [card.input.name]: stackBatch(images.slice(i, i + batchSize), card.preprocessing.cropSize) });
        out.set(r[card.output.name]!.data as Float32Array, i * card.classes.length);
      }
      return out;
    };
    return { fp32: await run(fp), int8: await run(q) };
  } finally {
    await fp.release();
    await q?.release();
  }
}

function int8Card(card: ModelCard, quantisation: Record<string, unknown>): ModelCard {
  return parseModelCard({
    ...card,
    name: `${card.name}-int8`,
    version: `${card.version}-int8.${QUANTISER_REVISION}`,
    description: `${card.description} Quantised by revmod to int8 (static QDQ: per-channel symmetric int8 weights, per-tensor uint8 activations calibrated on sample photos); same input, output and preprocessing.`,
    metadata: { ...card.metadata, quantization: quantisation },
  }, 'the int8 card');
}

/**
 * Quantises the model at `inPath` (card beside it) to `outPath` (card beside it).
 * @throws RevmodError MODEL_INVALID for a model that is missing, not ONNX, not float32, already
 * quantised, below opset 13, or without a valid card; CONFIG_INVALID for bad options, an OUT equal
 * to IN, an OUT that exists (without force), or a calibration folder without usable photos.
 */
export async function quantizeModel(inPath: string, outPath: string, options: QuantizeOptions): Promise<QuantizeResult> {
  const method = options.method ?? 'percentile';
  const percentile = options.percentile ?? 99.99;
  const maxImages = options.maxImages ?? 500;
  const batchSize = options.batchSize ?? 8;
  const log = options.log ?? (() => undefined);
  if (method !== 'minmax' && method !== 'percentile') throw configInvalid(`--method: must be minmax or percentile, received ${JSON.stringify(method)}`);
  if (!(percentile > 90 && percentile <= 100)) throw configInvalid(`--percentile: must be in (90, 100], received ${percentile}`);
  if (!Number.isInteger(maxImages) || maxImages < 1) throw configInvalid(`--max-images: must be a positive integer, received ${maxImages}`);
  if (!Number.isInteger(batchSize) || batchSize < 1) throw configInvalid(`batch size: must be a positive integer, received ${batchSize}`);
  if (resolve(inPath) === resolve(outPath) || resolve(cardPathFor(inPath)) === resolve(cardPathFor(outPath))) {
    throw configInvalid(`OUT ${outPath}: is the input model (or shares its card); choose another path`);
  }
  if (!options.force) {
    for (const p of [outPath, cardPathFor(outPath)]) if (await exists(p)) throw configInvalid(`OUT ${outPath}: ${p} exists already (--force to overwrite)`);
  }
  const source = await loadModel(inPath);
  const { card } = source;
  const floatBytes = await readFile(inPath);
  const floatModel = decodeOnnx(floatBytes, inPath);
  const plan = planQdq(floatModel, inPath);
  log(`plan: ${plan.weightedNodes.length} weighted nodes to int8, ${plan.activations.length} activations to calibrate, ${plan.droppedClips.size} Clip(0, max) folded into their quantisation`);

  const images = await loadCalibrationImages(options.calibrateDir, card, maxImages);
  for (const s of images.skipped) log(`skipped ${s.file}: ${s.code}: ${s.message}`);
  log(`calibrating on ${images.tensors.length} photos from ${options.calibrateDir} (${method}${method === 'percentile' ? ` ${percentile}` : ''})`);
  const ranges = await calibrateRanges(withActivationOutputs(floatModel, plan), card.input.name, plan.activations, images.tensors, card.preprocessing.cropSize, { method, percentile, batchSize });

  const quantisation = {
    quantiser: 'revmod src/quantize', revision: QUANTISER_REVISION,
    format: 'QDQ', weights: 'int8, symmetric, per output channel', activations: 'uint8, asymmetric, per tensor', biases: 'int32 (input scale × weight scale)',
    calibration: { method, ...(method === 'percentile' ? { percentile } : {}), images: images.tensors.length, folder: basename(resolve(options.calibrateDir)), preprocessing: 'the worker decode task with this card' },
    source: { name: card.name, version: card.version, file: basename(inPath), sha256: source.sha256 },
  };
  const { model, summary } = buildQdqModel(floatModel, plan, ranges, { quantization: 'revmod static QDQ int8', source_sha256: source.sha256 });
  const quantBytes = encodeOnnx(model);
  const outputs = await runBoth(floatBytes, quantBytes, card, images.tensors, batchSize);
  const check = compareOutputs(card, outputs.fp32, outputs.int8);
  log(`check on the calibration photos: top class equal on ${check.sameTopClass}/${check.images}, decision equal on ${check.sameDecision}/${check.images}, max |Δp| ${check.maxAbsDiffProbability.toFixed(4)}`);
  const outCard = int8Card(card, {
    ...quantisation, ops: summary.ops,
    calibrationCheck: { images: check.images, sameTopClass: check.sameTopClass, sameDecision: check.sameDecision, maxAbsDiffProbability: check.maxAbsDiffProbability, meanAbsDiffProbability: check.meanAbsDiffProbability },
  });
  await writeAtomically(outPath, quantBytes);
  await writeAtomically(cardPathFor(outPath), `${JSON.stringify(outCard, null, 2)}\n`);
  return {
    modelPath: outPath, cardPath: cardPathFor(outPath), card: outCard, summary,
    calibrationImages: images.tensors.length, skipped: images.skipped, check, bytesIn: floatBytes.byteLength, bytesOut: quantBytes.byteLength,
  };
}
