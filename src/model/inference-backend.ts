/**
 * The contract between the pipeline and whatever runs the model (today an onnxruntime session in a
 * worker thread, see InferenceEngine). Each image arrives as its own CHW float32 tensor, written in
 * the image pool; the backend gathers a batch from them off the main thread. Unit tests drive the
 * pipeline with a fake.
 */
export interface BatchResult {
  /** [count, classes] row-major: logits or probabilities, as the model card says. */
  readonly logits: Float32Array;
  readonly inferMs: number;
  /** The execution provider that ran this batch, when the backend knows it. */
  readonly provider?: string;
}

export interface InferenceBackend {
  /** Batches that may be in flight at once (one inferring while the next is gathered). */
  readonly maxInFlight: number;
  /** The execution provider running batches once started (`cuda`, `cpu`, …), else undefined. */
  readonly provider: string | undefined;
  /**
   * Infers one batch. The tensors' memory is moved to the backend (the arrays are detached
   * afterwards). Rejects with a RevmodError: INFERENCE_FAILED (retryable) when the run, its thread
   * or its deadline failed, SHUTTING_DOWN once closed.
   */
  run(images: readonly Float32Array[]): Promise<BatchResult>;
}
