/** The IAM policy language: grammar, conditions and evaluation. Pure: no I/O. */
export { parsePolicy, ECR_POLICY_MAX_LENGTH, type ParsePolicyOptions } from './policy.js';
export { evaluate, type Decision, type DecisionReason, type MatchedStatement, type PolicySet, type PolicySource } from './evaluate.js';
export { CONDITION_OPERATORS, evaluateClause, parseOperator } from './conditions.js';
export { ContextView } from './context.js';
export type * from './types.js';
