import { readFile } from 'node:fs/promises';
import { decode } from '../pool/decode-task';
import { scoreRow, type ImageScores } from '../policy/scoring';
import type { DecodeOptions } from '../preprocess/preprocess-options';
import { cardInputGeometry } from './model-card';
import { InferenceEngine } from './inference-engine';
import type { ExecutionProviderChoice } from './inference-protocol';
import { loadModel, type LoadedModel } from './load-model';
import { ioContractOf } from './model-io';

export interface ScoreImagesOptions {
  readonly modelPath: string;
  /** The worker's decode settings (limits and resampling mode). */
  readonly decode: DecodeOptions;
  readonly executionProvider: ExecutionProviderChoice;
  readonly intraOpThreads: number;
  /** Images per inference run. */
  readonly batchSize: number;
}

/** One image's scores, or why it has none. */
export type ScoredImage =
  | { readonly file: string; readonly ok: true; readonly sha256: string; readonly scores: ImageScores }
  | { readonly file: string; readonly ok: false; readonly code: string; readonly message: string };

export interface ScoreReport {
  readonly model: { readonly path: string; readonly name: string; readonly version: string; readonly sha256: string; readonly classes: readonly string[] };
  readonly executionProvider: string;
  readonly images: readonly ScoredImage[];
}

/**
 * Scores local image files exactly as a worker would: the pool's decode task (one decode, the
 * card's geometry and normalisation), the inference thread on the ONNX model, the policy's score
 * reading. Only the first frame of an animation is scored. Used by `revmod model score`, which the
 * training script calls for its train–serve parity check, and by `revmod eval` on labelled folders.
 * A file that cannot be read or decoded gets its error code, never fails the others.
 */
export async function scoreImages(files: readonly string[], o: ScoreImagesOptions, loaded?: LoadedModel): Promise<ScoreReport> {
  const model = loaded ?? (await loadModel(o.modelPath));
  const { card } = model;
  const reading = { classes: card.classes, groups: card.groups, scores: card.output.scores };
  const preprocess = { ...o.decode, ...cardInputGeometry(card) };
  const engine = new InferenceEngine({
    modelPath: o.modelPath, executionProvider: o.executionProvider, intraOpThreads: o.intraOpThreads,
    maxBatchSize: o.batchSize, maxInFlight: 1, contract: ioContractOf(card),
  });
  const results: ScoredImage[] = [];
  try {
    const info = await engine.start();
    for (let start = 0; start < files.length; start += o.batchSize) {
      const chunk = files.slice(start, start + o.batchSize);
      const decoded = await Promise.all(chunk.map(async (file) => {
        let bytes: Buffer;
        try {
          bytes = await readFile(file);
        } catch (err) {
          return { file, ok: false as const, code: 'OBJECT_NOT_FOUND', message: `cannot read ${file}: ${(err as Error).message}` };
        }
        const out = await decode({ bytes, preprocess, normalization: card.preprocessing, maxFrames: 1, detectors: {}, pdq: false });
        return out.ok ? { file, ok: true as const, sha256: out.sha256, tensor: out.tensors[0]! } : { file, ok: false as const, code: out.code, message: out.message };
      }));
      const good = decoded.flatMap((d) => (d.ok ? [d] : []));
      const { logits } = good.length > 0 ? await engine.run(good.map((d) => d.tensor)) : { logits: new Float32Array(0) };
      const width = card.classes.length;
      let row = 0;
      for (const d of decoded) {
        if (!d.ok) {
          results.push(d);
          continue;
        }
        const scores = scoreRow(logits.subarray(row * width, (row + 1) * width), reading);
        row += 1;
        results.push(scores
          ? { file: d.file, ok: true, sha256: d.sha256, scores }
          : { file: d.file, ok: false, code: 'MODEL_OUTPUT_INVALID', message: 'the model produced non-finite outputs for this image' });
      }
    }
    return {
      model: { path: o.modelPath, name: card.name, version: card.version, sha256: model.sha256, classes: card.classes },
      executionProvider: info.provider,
      images: results,
    };
  } finally {
    await engine.close();
  }
}
