import {
  configToEnv, loadSettings, validateConfig, RevmodError, type ClientConfig,
} from '@revmod/client';
import { validateThresholds } from '../policy';
import { REVMOD_SETTINGS, type RevmodConfig, type RevmodConfigInput } from './settings';

type Env = Readonly<Record<string, string | undefined>>;

/** Cross-field rules that single settings cannot express. */
function checkConfig(config: RevmodConfig): RevmodConfig {
  const { violateThreshold, confidenceThreshold, blockThreshold } = config.policy;
  const problems = validateThresholds({ violate: violateThreshold, confidence: confidenceThreshold, block: blockThreshold });
  if (problems.length > 0) throw new RevmodError('CONFIG_INVALID', `invalid configuration: policy thresholds: ${problems.join('; ')}`);
  if (config.worker.maxStalledCount <= config.worker.poisonCrashes) {
    throw new RevmodError('CONFIG_INVALID', `invalid configuration: worker.maxStalledCount (REVMOD_MAX_STALLED_COUNT) must be above worker.poisonCrashes (REVMOD_POISON_CRASHES, ${config.worker.poisonCrashes}), received ${config.worker.maxStalledCount}: else BullMQ fails a poison job before it gets its verdict`);
  }
  return config;
}

/**
 * Validates a config, filling defaults. `overrides` win over the environment. Throws CONFIG_INVALID
 * naming each field, its environment variable and what was received (secrets redacted).
 */
export function loadConfig(overrides: RevmodConfigInput = {}, env: Env = process.env): RevmodConfig {
  return checkConfig(loadSettings(REVMOD_SETTINGS, overrides, env));
}

/** Every default, as the worker runs with no environment at all. */
export const DEFAULTS: RevmodConfig = validateConfig(REVMOD_SETTINGS, {});

/** The SDK's part of a worker config, for a ModerationClient or consumer in the same process. */
export function clientConfigOf(config: RevmodConfig): ClientConfig {
  const { redis, queues, requests, signing, jobs } = config;
  return { redis, queues, requests, signing, jobs };
}

/** The environment variables expressing `input`, for a worker child process. */
export function configEnv(input: RevmodConfigInput): Record<string, string> {
  return configToEnv(REVMOD_SETTINGS, input);
}
