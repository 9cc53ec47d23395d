export { REVMOD_SETTINGS, SERVER_SETTINGS, envVarNames, type RevmodConfig, type RevmodConfigInput } from './settings';
export { loadConfig, DEFAULTS, clientConfigOf, configEnv } from './load-config';
