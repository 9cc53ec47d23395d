// Public API of revmod (the worker side). Re-exports only. The producer SDK is the package
// @revmod/client, re-exported here so that one import serves an integrator who runs both.
export * from '@revmod/client';
export { loadConfig, clientConfigOf, configEnv, envVarNames, DEFAULTS, REVMOD_SETTINGS, type RevmodConfig, type RevmodConfigInput } from './config';
export { ModerationWorker, type ModerationWorkerDeps, type WorkerState } from './worker/moderation-worker';
export { compilePolicy, readPolicyFile, DEFAULT_RULES, scoreRow, type Policy, type PolicyThresholds, type PolicyRule, type ImageScores } from './policy';
export type { PipelineObserver, BatchStats } from './pipeline/pipeline-observer';
export { S3ObjectStore, type ObjectStore } from './storage';
export { preprocessImage, writeNormalizedChw, DEFAULT_PREPROCESS_OPTIONS, type PreprocessOptions } from './preprocess';
export { loadModelCard, cardPathFor, type ModelCard } from './model/model-card';
export { ensureNsfwModel, defaultNsfwModelPath, type EnsureNsfwModelOptions, type EnsuredNsfwModel } from './model-import/ensure-nsfw-model';
export { NSFWJS_VARIANTS, DEFAULT_NSFWJS_VARIANT, NSFWJS_CLASSES, NSFWJS_GROUPS, type NsfwjsVariant } from './model-import/nsfwjs';
export { createLogger } from './util/logger';
export { createConsoleApp, type ConsoleApp, type ConsoleAppOptions } from './review/console-app';
export { isQcSample } from './review/sampling';
export { CONSOLE_ROLES, OPS_ROLES, hashPassword, UsersDirectory, type Role, type Identity } from './identity';
export * from './detectors';
export { evaluateDetectors, formatDetectorsReport, type DetectorsEvalOptions, type DetectorsEvalReport } from './eval/detectors-eval';
export { parseLabels, type DetectorSetLabel, type DetectorSetKind } from './eval/detector-labels';
export { KnownLists, type KnownListsOptions, type EntrySource, type ListView, type LookupMatch } from './known/known-lists';
export { ListStore, listStoreOf, type ListStoreOptions, type ListSnapshot } from './known/list-store';
export { ListJournal, type ListJournalOptions, type JournalRecord } from './known/list-journal';
export { RedisKnownImages, type RedisKnownImagesOptions } from './known/redis-known-images';
export { VerdictCache, verdictCacheOf, type VerdictCacheOptions } from './known/verdict-cache';
export { pdqOfUpload } from './known/upload-pdq';
export type { KnownList, ListEntry, ListKind, ListAction, ListChange, EntryOrigin, ListSpec } from './known/list-types';
export type { KnownImages, ReusableVerdict } from './known/known-images';
