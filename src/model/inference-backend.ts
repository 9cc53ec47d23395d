/**
 * The contract between the pipeline and whatever runs the model (today an onnxruntime session in a
 * worker thread, see InferenceEngine): preallocated batch tensors are acquired, written, run and
 * released. Unit tests drive the pipeline with a fake.
 */
export interface BatchBuffer {
  readonly index: number;
  /** Room for the backend's largest batch, CHW float32 per image, back to back. Valid until `run`. */
  readonly view: Float32Array;
}

export interface BatchResult {
  /** [count, classes] row-major: logits or probabilities, as the model card says. */
  readonly logits: Float32Array;
  readonly inferMs: number;
}

export interface InferenceBackend {
  /** Batch tensors that can be in flight at once (one inferring while the next is written). */
  readonly bufferCount: number;
  /** The execution provider running batches once started (`cuda`, `cpu`, …), else undefined. */
  readonly provider: string | undefined;
  /** Waits for a free batch tensor (backpressure). */
  acquire(): Promise<BatchBuffer>;
  /** Gives a batch tensor back once its run has settled. */
  release(buffer: BatchBuffer): void;
  /**
   * Infers the first `count` images of a batch tensor. Rejects with a RevmodError: INFERENCE_FAILED
   * (retryable) when the run or its thread failed, SHUTTING_DOWN once closed.
   */
  run(buffer: BatchBuffer, count: number): Promise<BatchResult>;
}
