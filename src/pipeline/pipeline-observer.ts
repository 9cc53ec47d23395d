import type { ErrorCode, Verdict } from '@revmod/client';
import type { ShadowBuild } from '../pool/decode-task';

/** One image compared in shadow. */
export interface ShadowOutcome {
  /** name@version of each. */
  readonly champion: string;
  readonly challenger: string;
  /** `agree`: same decision and top group; else what differs (the decision first). */
  readonly outcome: 'agree' | 'decision_differs' | 'label_differs';
  readonly build: ShadowBuild;
  readonly sampled: boolean;
}

/** Why an image was not shadowed. */
export type ShadowSkip = 'budget' | 'backlog' | 'failed';

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
  /** An image scored by the challenger beside the champion. */
  onShadow?(outcome: ShadowOutcome): void;
  /** An image the challenger did not score: over its share of time, its backlog full, or its run failed. */
  onShadowSkipped?(reason: ShadowSkip, challenger: string): void;
  /** Time the challenger took: building its tensors (in the pool) or inferring a batch. */
  onShadowCost?(stage: 'build' | 'infer', ms: number, challenger: string): void;
}
