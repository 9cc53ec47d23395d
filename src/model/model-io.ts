import { CHANNELS, CROP_SIZE } from '../preprocess/constants';

/** Metadata of one model input or output, as onnxruntime reports it. */
export interface IoMetadata {
  readonly name: string;
  readonly isTensor: boolean;
  readonly type?: string;
  readonly shape?: ReadonlyArray<number | string>;
}

export interface ModelIo {
  readonly inputName: string;
  readonly outputName: string;
  /** Largest batch the model accepts: Infinity for a dynamic batch axis. */
  readonly maxBatch: number;
}

const fmt = (m: IoMetadata) => `${m.name}: ${m.type ?? '?'}[${(m.shape ?? []).join(',')}]`;

/**
 * Checks the model contract: one float32 input [N,3,224,224], one float32 output [N,2] (N dynamic
 * or fixed). Returns the names to use, or throws an Error listing every problem.
 */
export function checkModelIo(inputs: readonly IoMetadata[], outputs: readonly IoMetadata[]): ModelIo {
  const problems: string[] = [];
  const input = inputs[0];
  const output = outputs[0];
  if (inputs.length !== 1 || input === undefined) problems.push(`expected exactly 1 input, found ${inputs.length} (${inputs.map(fmt).join('; ')})`);
  if (outputs.length < 1 || output === undefined) problems.push('expected an output, found none');
  const dimOk = (d: number | string | undefined, want: number) => d === want || typeof d === 'string' || d === -1;
  if (input) {
    const s = input.shape ?? [];
    if (input.isTensor && input.type !== undefined && input.type !== 'float32') problems.push(`input ${input.name} must be float32, found ${input.type}`);
    if (s.length > 0 && (s.length !== 4 || s[1] !== CHANNELS || !dimOk(s[2], CROP_SIZE) || !dimOk(s[3], CROP_SIZE))) {
      problems.push(`input must be [N,3,${CROP_SIZE},${CROP_SIZE}], found ${fmt(input)}`);
    }
  }
  if (output) {
    const s = output.shape ?? [];
    if (output.isTensor && output.type !== undefined && output.type !== 'float32') problems.push(`output ${output.name} must be float32, found ${output.type}`);
    if (s.length > 0 && (s.length !== 2 || s[1] !== 2)) problems.push(`output must be [N,2] logits over [normal, violate], found ${fmt(output)}`);
  }
  if (problems.length > 0 || !input || !output) throw new Error(problems.join('; '));
  const n = input.shape?.[0];
  return { inputName: input.name, outputName: output.name, maxBatch: typeof n === 'number' && n > 0 ? n : Infinity };
}
