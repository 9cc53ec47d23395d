export { DEFAULTS } from './defaults';
export { configSchema, type RevmodConfig, type RevmodConfigInput } from './config-schema';
export { ENV_VARS, type EnvVarSpec } from './env-vars';
export { loadConfig, configInputFromEnv } from './load-config';
