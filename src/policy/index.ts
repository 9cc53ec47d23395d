export { decide, softmax2, validateThresholds, DEFAULT_THRESHOLDS, type PolicyThresholds, type PolicyResult } from './decide';
