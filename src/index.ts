// Public API of revmod. Re-exports only.
export { ModerationClient, type ModerationClientOptions, type SubmitResult } from './queue/moderation-client';
export { consumeVerdicts, type VerdictConsumer, type VerdictConsumerOptions } from './queue/verdict-consumer';
export { jobIdFor } from './queue/job-id';
export { listFailed, retryFailed, type DeadLetter, type RetryFailedOptions } from './queue/dead-letters';
export type {
  SubmitRequest, ModerationJobData, Verdict, VerdictScores, VerdictModel, VerdictTimings, Decision, Label,
} from './queue/types';
export { ERROR_CODES, RevmodError, isRevmodError, isErrorCode, type ErrorCode } from './errors';
export { loadConfig, DEFAULTS, ENV_VARS, type RevmodConfig, type RevmodConfigInput } from './config';
export { ModerationWorker, type ModerationWorkerDeps, type WorkerState } from './worker/moderation-worker';
export { decide, softmax2, type PolicyThresholds } from './policy';
export type { PipelineObserver, BatchStats } from './pipeline/pipeline-observer';
export { S3ObjectStore, type ObjectStore } from './storage';
export { preprocessImage, writeNormalizedChw, DEFAULT_PREPROCESS_OPTIONS, type PreprocessOptions } from './preprocess';
export { loadModelCard, cardPathFor, type ModelCard } from './model/model-card';
export { ensureModel, type ModelKind } from './model/ensure-model';
export { createLogger } from './util/logger';
export * from './detectors';
export { evaluateDetectors, formatDetectorsReport, type DetectorsEvalOptions, type DetectorsEvalReport } from './eval/detectors-eval';
export { parseLabels, type DetectorSetLabel, type DetectorSetKind } from './eval/detector-labels';
