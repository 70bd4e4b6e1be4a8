/**
 * Lifecycle policies, the pure core: parse and validate ECR's policy text (plus Berth's opt-in
 * `berth` extensions), evaluate it over a repository's images, summarize the decisions.
 */
export {
  parseLifecyclePolicy,
  LIFECYCLE_POLICY_TEXT_MIN,
  LIFECYCLE_POLICY_TEXT_MAX,
  ARCHIVE_MINIMUM_DAYS,
} from './policy.js';
export { decideLifecycleImages, evaluateLifecyclePolicy, DAY_MS, type DecidedImage } from './evaluate.js';
export { summarizeLifecycleDecisions } from './summary.js';
export type { LifecycleSummary, LifecycleRuleSummary } from './summary.js';
export { matchesTagPattern, matchesTagRequirements } from './tags.js';
export type * from './types.js';
