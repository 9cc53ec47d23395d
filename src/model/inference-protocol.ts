import type { ExecutionProviderChoice, ExecutionProviderName, ProviderAttempt, WebGpuLayout } from './execution-providers';
import type { ModelIoContract } from './model-io';

// Messages between the main thread and the inference thread.

export type { ExecutionProviderChoice, ExecutionProviderName, ProviderAttempt };

export interface InferenceThreadData {
  readonly modelPath: string;
  readonly executionProvider: ExecutionProviderChoice;
  /** A replacement thread (the previous one died or lost its GPU): a named GPU provider may end on cpu. */
  readonly restart: boolean;
  readonly intraOpThreads: number;
  readonly webgpuLayout: WebGpuLayout;
  /** What the card says the model takes and gives; the model is refused at load if it differs. */
  readonly contract: ModelIoContract;
  /** Most images per run. */
  readonly batchSize: number;
  /** Batch sizes run once at load on a GPU provider (shader compilation, device check). */
  readonly warmUpSizes: readonly number[];
  /** On a GPU provider, a partial batch runs padded (zeros) to the smallest warm-up size that holds it. */
  readonly padToWarmUpSizes: boolean;
}

export type ToThread =
  // Each image's tensor is transferred (moved, not copied); the thread gathers them into its own
  // input tensor (onnxruntime-node refuses tensors over SharedArrayBuffer).
  | { readonly type: 'run'; readonly id: number; readonly images: readonly ArrayBuffer[] };

export type FromThread =
  | {
    readonly type: 'ready'; readonly provider: ExecutionProviderName;
    /** Providers tried before this one, in order, each with why it was not used. */
    readonly fallbacks: readonly ProviderAttempt[];
    readonly inputName: string; readonly outputName: string; readonly maxBatch: number;
    /** ms of the warm-up runs, by batch size (GPU providers only). */
    readonly warmUpMs: Readonly<Record<number, number>>;
  }
  | { readonly type: 'init-error'; readonly message: string }
  // `logits`: [count, classCount] row-major (the card's scores: logits or probabilities).
  | { readonly type: 'result'; readonly id: number; readonly logits: Float32Array; readonly inferMs: number; readonly provider: ExecutionProviderName }
  | { readonly type: 'run-error'; readonly id: number; readonly message: string }
  // The GPU is gone: the thread runs nothing more and exits; the engine replaces it.
  | { readonly type: 'device-lost'; readonly message: string };
