export { DEFAULT_THRESHOLDS, SENSITIVITY_PRESETS, validateThresholds, type PolicyThresholds, type CategoryThresholds, type Sensitivity } from './thresholds';
export { scoreRow, softmax, worstFrame, type ImageScores, type ScoreReading } from './scoring';
export {
  compilePolicy, readPolicyFile, parsePolicyFile, DEFAULT_RULES,
  type Policy, type PolicyInput, type PolicyOutcome, type PolicyRule, type PolicyFile,
} from './policy';
