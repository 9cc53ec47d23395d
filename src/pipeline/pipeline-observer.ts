import type { ErrorCode, Verdict } from '@revmod/client';

export interface BatchStats {
  readonly id: string;
  readonly size: number;
  readonly fillWaitMs: number;
  readonly inferMs: number;
  readonly provider: string;
}

/** Hooks for metrics and tests; every method optional, none may throw. */
export interface PipelineObserver {
  onBatch?(stats: BatchStats): void;
  /** After a verdict is published. */
  onVerdict?(verdict: Verdict): void;
  /** A transient failure handed back to BullMQ for a retry. */
  onRetry?(code: ErrorCode): void;
  /** A job whose payload is invalid (failed without retries). */
  onInvalidJob?(code: ErrorCode): void;
}
