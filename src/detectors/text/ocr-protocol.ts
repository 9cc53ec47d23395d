import type { PixelView } from '../types';
import type { OcrEngineOptions, OcrResult } from './paddle-ocr';

/** One OCR task as it crosses into the pool's thread. */
export interface OcrTask {
  readonly view: PixelView;
  readonly options: OcrEngineOptions;
  /** Epoch ms when the task was handed to the pool, to report its queue wait. */
  readonly submittedAtMs: number;
  /** ONNX Runtime intra-op threads for this thread's sessions (read at the thread's first task). */
  readonly intraOpThreads: number;
}

export interface OcrTaskResult extends OcrResult {
  /** Which pool thread ran it (worker_threads threadId). */
  readonly thread: number;
  readonly queuedMs: number;
  readonly runMs: number;
  /** Epoch ms the run started and ended in the thread. */
  readonly startedAtMs: number;
  readonly endedAtMs: number;
}
