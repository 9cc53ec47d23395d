// The revmod producer SDK: submit images, consume verdicts, manage dead letters. Re-exports only.
export { ModerationClient, type ModerationClientOptions, type SubmitResult } from './moderation-client';
export { consumeVerdicts, type VerdictConsumer, type VerdictConsumerOptions } from './verdict-consumer';
export { jobIdFor, jobIdMatches, checkJobIdentity, type ObjectVersionRef } from './job-id';
export { moderationJobOptions, verdictJobOptions, verdictBackoffStrategy, verdictBackoffDelayMs, VERDICT_BACKOFF_TYPE } from './job-options';
export { listFailed, retryFailed, type DeadLetter, type RetryFailedOptions, type ModerationQueue } from './dead-letters';
export { validateRequest, type RequestLimits, type ValidRequest } from './validate-request';
export { createRedisConnection, type RedisRole } from './redis-connection';
export {
  VERDICT_SCHEMA_VERSION,
  type SubmitRequest, type ModerationJobData, type VerdictContentVersion, type Verdict, type VerdictScores, type VerdictModel, type VerdictTimings,
  type Decision, type Label,
} from './types';
export { ERROR_CODES, RevmodError, isRevmodError, isErrorCode, toRevmodError, type ErrorCode } from './errors';
export { CLIENT_SETTINGS, loadClientConfig, type ClientConfig, type ClientConfigInput } from './client-settings';
export {
  defineSettings, listSettings,
  type Setting, type SettingsTree, type ConfigOf, type ConfigInputOf, type ValueOf,
} from './settings/define';
export {
  loadSettings, validateConfig, type ValidateOptions, configInputFromEnv, mergeConfigInputs, configToEnv, envValueOf, readSecretFile,
} from './settings/load';
export { scrubSecrets } from './scrub';
export { signVerdict, verifyVerdict, canonicalVerdict, canonicalJson, signingKeyId, acceptedKeys } from './verdict-signature';
export { consumeDecisions, type DecisionConsumer, type DecisionConsumerOptions } from './decision-consumer';
export { ReviewClient, stateFromVerdict, MAX_APPEAL_REASON_CHARS, type ReviewClientOptions } from './review-client';
export { watchReview, type ReviewWatcher, type ReviewWatchOptions } from './review-watch';
export { reviewKeyBase, decisionStateKey, reviewEventsKey, decisionIdFor } from './review-keys';
export {
  DECISION_SCHEMA_VERSION,
  type ReviewDecision, type DecisionState, type DecisionKind, type Outcome, type Reviewer, type ReviewEvent, type ReviewEventType, type AppealRequest,
} from './review-types';
export {
  ListsClient,
  type ListsClientOptions, type ListEntrySource, type ListEntryInfo, type ListLookupMatch, type ListLookupResult, type ListRequest,
} from './lists-client';
