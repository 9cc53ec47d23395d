// Public API of revmod (the worker side). Re-exports only. The producer SDK is the package
// @revmod/client, re-exported here so that one import serves an integrator who runs both.
export * from '@revmod/client';
export { loadConfig, clientConfigOf, configEnv, envVarNames, DEFAULTS, REVMOD_SETTINGS, type RevmodConfig, type RevmodConfigInput } from './config';
export { ModerationWorker, type ModerationWorkerDeps, type WorkerState } from './worker/moderation-worker';
export { decide, softmax2, type PolicyThresholds } from './policy';
export type { PipelineObserver, BatchStats } from './pipeline/pipeline-observer';
export { S3ObjectStore, type ObjectStore } from './storage';
export { preprocessImage, writeNormalizedChw, DEFAULT_PREPROCESS_OPTIONS, type PreprocessOptions } from './preprocess';
export { loadModelCard, cardPathFor, type ModelCard } from './model/model-card';
export { createLogger } from './util/logger';
export { createConsoleApp, type ConsoleApp, type ConsoleAppOptions } from './review/console-app';
export { isQcSample } from './review/sampling';
export { CONSOLE_ROLES, OPS_ROLES, hashPassword, UsersDirectory, type Role, type Identity } from './identity';
