/**
 * Stage bounds: inference alone and preprocessing alone, on the same images and with the same
 * settings as the end-to-end run, plus preprocessing parity with the reference tensors.
 */
import { isExifRotation, readParityManifest, readReferenceTensor, tensorDiff } from '../dev/parity-reference';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { InferenceEngine } from '../../src/model/inference-engine';
import type { ExecutionProviderChoice } from '../../src/model/inference-protocol';
import { cardPathFor, loadModelCard } from '../../src/model/model-card';
import { ioContractOf } from '../../src/model/model-io';
import { preprocessImage, TENSOR_FLOATS_PER_IMAGE, writeNormalizedChw, type PreprocessOptions } from '../../src/preprocess';
import { cycled, type BenchImage, type SizeClass } from './images';
import { machineBusyMs, mean, processCpuMs } from './measure';

export interface InferenceResult {
  readonly batch: number;
  readonly runs: number;
  readonly imagesPerS: number;
  readonly msPerBatch: number;
  /** Process CPU (all threads) per image while only inference ran. */
  readonly cpuMsPerImage: number;
  /** Cores kept busy by other processes meanwhile (a noisy neighbour shows here). */
  readonly coresElsewhere: number;
  readonly provider: string;
}

export interface InferenceBenchOptions {
  readonly modelPath: string;
  readonly executionProvider: ExecutionProviderChoice;
  readonly intraOpThreads: number;
  readonly batchSizes: readonly number[];
  /** Each batch size runs at least this long (after a warm-up). */
  readonly minSeconds: number;
}

/** Inference alone through the worker's InferenceEngine (same thread, same session options). */
export async function benchInference(crops: readonly Uint8Array[], o: InferenceBenchOptions): Promise<InferenceResult[]> {
  const maxBatch = Math.max(...o.batchSizes);
  const engine = new InferenceEngine({
    modelPath: o.modelPath, executionProvider: o.executionProvider, intraOpThreads: o.intraOpThreads, maxBatchSize: maxBatch,
    contract: ioContractOf(await loadModelCard(cardPathFor(o.modelPath))),
  });
  try {
    const info = await engine.start();
    const tensors = Array.from({ length: maxBatch }, (_, i) => {
      const t = new Float32Array(TENSOR_FLOATS_PER_IMAGE);
      writeNormalizedChw(cycled(crops, i), t, 0);
      return t;
    });
    // Each run moves its tensors to the thread: copies keep the originals for the next run.
    const runOnce = async (count: number): Promise<void> => {
      await engine.run(tensors.slice(0, count).map((t) => t.slice()));
    };
    const results: InferenceResult[] = [];
    for (const batch of o.batchSizes) {
      await runOnce(batch); // warm-up (first runs allocate)
      await runOnce(batch);
      let runs = 0;
      const cpu0 = processCpuMs();
      const busy0 = machineBusyMs();
      const t0 = performance.now();
      while (runs < 3 || performance.now() - t0 < o.minSeconds * 1000) {
        await runOnce(batch);
        runs += 1;
      }
      const wall = performance.now() - t0;
      const cpu = processCpuMs() - cpu0;
      const busy = machineBusyMs() - busy0;
      results.push({
        batch, runs, imagesPerS: (runs * batch * 1000) / wall, msPerBatch: wall / runs,
        cpuMsPerImage: cpu / (runs * batch), coresElsewhere: (busy - cpu) / wall, provider: info.provider,
      });
    }
    return results;
  } finally {
    await engine.close();
  }
}

export interface PreprocessResult {
  readonly sizeClass: SizeClass | 'mix';
  readonly mode: PreprocessOptions['mode'];
  readonly inFlight: number;
  readonly images: number;
  readonly imagesPerS: number;
  /** Mean wall time of one image (decode + resize + crop + normalize into the batch tensor). */
  readonly msPerImage: number;
  /** Process CPU per image (libvips and libuv threads included). */
  readonly cpuMsPerImage: number;
  readonly coresElsewhere: number;
}

/**
 * preprocessImage + writeNormalizedChw into a preallocated tensor, as the pipeline does, with
 * `inFlight` images at once, cycling `images` for at least `minSeconds` and one full cycle.
 */
export async function benchPreprocess(
  images: readonly BenchImage[],
  options: PreprocessOptions,
  inFlight: number,
  minSeconds: number,
  label: SizeClass | 'mix',
): Promise<PreprocessResult> {
  const tensors = Array.from({ length: inFlight }, () => new Float32Array(TENSOR_FLOATS_PER_IMAGE));
  for (const img of images) writeNormalizedChw((await preprocessImage(img.bytes, options)).rgb, tensors[0]!, 0); // warm-up
  let next = 0;
  const perImage: number[] = [];
  const cpu0 = processCpuMs();
  const busy0 = machineBusyMs();
  const t0 = performance.now();
  const lane = async (tensor: Float32Array): Promise<void> => {
    while (next < images.length || performance.now() - t0 < minSeconds * 1000) {
      const img = cycled(images, next++);
      const s = performance.now();
      writeNormalizedChw((await preprocessImage(img.bytes, options)).rgb, tensor, 0);
      perImage.push(performance.now() - s);
    }
  };
  await Promise.all(tensors.map(lane));
  const wall = performance.now() - t0;
  const cpu = processCpuMs() - cpu0;
  const busy = machineBusyMs() - busy0;
  return {
    sizeClass: label, mode: options.mode, inFlight, images: perImage.length,
    imagesPerS: (perImage.length * 1000) / wall, msPerImage: mean(perImage), cpuMsPerImage: cpu / perImage.length,
    coresElsewhere: (busy - cpu) / wall,
  };
}

export interface ParityRow {
  readonly image: string;
  readonly torchvision: { mean: number; max: number };
  readonly fast: { mean: number; max: number };
}

/**
 * Mean/max absolute difference (normalized tensor units; one 8-bit level ≈ 0.0174) against the
 * reference tensors of `parityDir`, for the manifest entries without a rotating EXIF orientation
 * (the reference ignores EXIF; revmod stands such photos upright). Undefined when the folder is missing.
 */
export async function measureParity(parityDir: string, imagesDir: string, base: PreprocessOptions): Promise<ParityRow[] | undefined> {
  const manifestPath = join(parityDir, 'MANIFEST.json');
  if (!existsSync(manifestPath)) return undefined;
  const rows: ParityRow[] = [];
  const tensor = new Float32Array(TENSOR_FLOATS_PER_IMAGE);
  for (const entry of readParityManifest(parityDir)) {
    if (isExifRotation(entry.exif_orientation)) continue;
    const imagePath = join(imagesDir, entry.image);
    if (!existsSync(imagePath)) continue;
    const bytes = readFileSync(imagePath);
    const reference = readReferenceTensor(parityDir, entry);
    const diff = async (mode: PreprocessOptions['mode']) => {
      writeNormalizedChw((await preprocessImage(bytes, { ...base, mode })).rgb, tensor, 0);
      return tensorDiff(tensor, reference);
    };
    rows.push({ image: entry.image, torchvision: await diff('torchvision'), fast: await diff('fast') });
  }
  return rows;
}

export interface StageBound {
  readonly cores: number;
  /** Process CPU per image of inference alone at the configured batch size. */
  readonly inferCpuMs: number;
  /** Process CPU per image of preprocessing alone on the end-to-end image mix (2 in flight). */
  readonly prepCpuMs: number;
  /** cores / (inferCpu + prepCpu): every core busy, each image paying both stages' CPU. */
  readonly cpuBound: number;
  readonly inferAlone: number;
  readonly prepAlone: number;
  /**
   * The CPU bound; on a GPU also no more than inference alone. (On CPU, inference alone already uses
   * every core, so its rate is the CPU bound's special case without preprocessing; being a wall-clock
   * rate it would only add a noisy neighbour's effect.)
   */
  readonly bound: number;
}

export function stageBound(cores: number, infer: InferenceResult, prep: PreprocessResult): StageBound {
  const cpuBound = (cores * 1000) / (infer.cpuMsPerImage + prep.cpuMsPerImage);
  return {
    cores, inferCpuMs: infer.cpuMsPerImage, prepCpuMs: prep.cpuMsPerImage, cpuBound,
    inferAlone: infer.imagesPerS, prepAlone: prep.imagesPerS,
    bound: infer.provider === 'cpu' ? cpuBound : Math.min(cpuBound, infer.imagesPerS),
  };
}
