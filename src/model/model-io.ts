import { CHANNELS } from '../preprocess/constants';
import type { ModelCard } from './model-card';

/** Metadata of one model input or output, as onnxruntime reports it. */
export interface IoMetadata {
  readonly name: string;
  readonly isTensor: boolean;
  readonly type?: string;
  readonly shape?: ReadonlyArray<number | string>;
}

/** What the card promises about the model's tensors; checked against the ONNX file at load. */
export interface ModelIoContract {
  /** card `input.name`. */
  readonly inputName: string;
  /** card `output.name`. */
  readonly outputName: string;
  /** card `preprocessing.cropSize`: the input is [N, 3, cropSize, cropSize]. */
  readonly cropSize: number;
  /** Number of card `classes`: the output is [N, classCount]. */
  readonly classCount: number;
  /** card `input.shape[0]` when it is a number: the card fixes the batch axis. */
  readonly fixedBatch?: number | undefined;
}

export interface ModelIo {
  readonly inputName: string;
  readonly outputName: string;
  /** Images per run: Infinity for a dynamic batch axis, else the fixed size (smaller batches are padded to it). */
  readonly maxBatch: number;
}

export function ioContractOf(card: ModelCard): ModelIoContract {
  return {
    inputName: card.input.name,
    outputName: card.output.name,
    cropSize: card.preprocessing.cropSize,
    classCount: card.classes.length,
    fixedBatch: typeof card.input.shape[0] === 'number' ? card.input.shape[0] : undefined,
  };
}

const fmt = (m: IoMetadata) => `${m.name}: ${m.type ?? '?'}[${(m.shape ?? []).join(',')}]`;
const names = (ms: readonly IoMetadata[]) => ms.map((m) => `'${m.name}'`).join(', ');

/**
 * Checks the ONNX model against the card: one float32 input named as the card's `input.name`,
 * [N, 3, cropSize, cropSize]; an output named as the card's `output.name`, float32 [N, classes].
 * A fixed batch axis (in the model, or a number in the card's input.shape) must hold `batchSize`
 * images: a larger batch.size is refused, not split, since it is a configuration mistake; smaller
 * batches are padded to it by the inference thread. Returns the names to use,
 * or throws an Error listing every problem.
 */
export function checkModelIo(
  inputs: readonly IoMetadata[],
  outputs: readonly IoMetadata[],
  contract: ModelIoContract,
  batchSize: number,
): ModelIo {
  const problems: string[] = [];
  const { cropSize: crop, classCount } = contract;
  const input = inputs.find((m) => m.name === contract.inputName);
  const output = outputs.find((m) => m.name === contract.outputName);
  if (inputs.length !== 1) problems.push(`expected exactly 1 input, found ${inputs.length} (${inputs.map(fmt).join('; ')})`);
  if (input === undefined) problems.push(`the card's input.name '${contract.inputName}' is not an input of the model (inputs: ${names(inputs)})`);
  if (output === undefined) {
    problems.push(`the card's output.name '${contract.outputName}' is not an output of the model (outputs: ${names(outputs)})`);
  }
  const dimOk = (d: number | string | undefined, want: number) => d === want || typeof d === 'string' || d === -1;
  const first = input?.shape?.[0];
  const modelBatch = typeof first === 'number' && first > 0 ? first : undefined;
  const fixed = modelBatch ?? contract.fixedBatch;
  if (input) {
    const s = input.shape ?? [];
    if (input.isTensor && input.type !== undefined && input.type !== 'float32') problems.push(`input ${input.name} must be float32, found ${input.type}`);
    if (s.length > 0 && (s.length !== 4 || s[1] !== CHANNELS || !dimOk(s[2], crop) || !dimOk(s[3], crop))) {
      problems.push(`input must be [N,3,${crop},${crop}] (card preprocessing.cropSize ${crop}), found ${fmt(input)}`);
    }
    if (modelBatch !== undefined && contract.fixedBatch !== undefined && modelBatch !== contract.fixedBatch) {
      problems.push(`the card's input.shape fixes the batch axis at ${contract.fixedBatch}, the model's is ${modelBatch}`);
    }
    if (fixed !== undefined && batchSize > fixed) {
      const what = modelBatch !== undefined ? `input ${input.name} has a fixed batch axis of ${fixed}` : `the card's input.shape fixes the batch axis at ${fixed}`;
      problems.push(`${what}, but batch.size is ${batchSize}: set batch.size to at most ${fixed}, or export the model with a dynamic batch axis`);
    }
  }
  if (output) {
    const s = output.shape ?? [];
    if (output.isTensor && output.type !== undefined && output.type !== 'float32') problems.push(`output ${output.name} must be float32, found ${output.type}`);
    if (s.length > 0 && (s.length !== 2 || s[1] !== classCount)) {
      problems.push(`output must be [N,${classCount}], one score per card class, found ${fmt(output)}`);
    }
  }
  if (problems.length > 0 || !input || !output) throw new Error(problems.join('; '));
  return { inputName: input.name, outputName: output.name, maxBatch: fixed ?? Infinity };
}
