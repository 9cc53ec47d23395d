import type { ModelIoContract } from './model-io';

// Messages between the main thread and the inference thread.

export type ExecutionProviderChoice = 'auto' | 'cuda' | 'cpu';

export interface InferenceThreadData {
  readonly modelPath: string;
  readonly executionProvider: ExecutionProviderChoice;
  readonly intraOpThreads: number;
  /** What the card says the model takes and gives; the model is refused at load if it differs. */
  readonly contract: ModelIoContract;
  /** Most images per run. */
  readonly batchSize: number;
}

export type ToThread =
  // Each image's tensor is transferred (moved, not copied); the thread gathers them into its own
  // input tensor (onnxruntime-node refuses tensors over SharedArrayBuffer).
  | { readonly type: 'run'; readonly id: number; readonly images: readonly ArrayBuffer[] };

export type FromThread =
  | { readonly type: 'ready'; readonly provider: 'cuda' | 'cpu'; readonly fallbackReason?: string; readonly inputName: string; readonly outputName: string; readonly maxBatch: number }
  | { readonly type: 'init-error'; readonly message: string }
  // `logits`: [count, classCount] row-major (the card's scores: logits or probabilities).
  | { readonly type: 'result'; readonly id: number; readonly logits: Float32Array; readonly inferMs: number }
  | { readonly type: 'run-error'; readonly id: number; readonly message: string };
