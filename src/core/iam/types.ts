/**
 * Data types of the IAM policy language and of an authorization request. A parsed
 * {@link Policy} is plain, immutable data: it can be cached, compared and serialized.
 */

/** `2012-10-17` substitutes policy variables; `2008-10-17` (also the default) does not. */
export type PolicyVersion = '2012-10-17' | '2008-10-17';

/** Identity policies (user, group, role) have no Principal; resource policies require one. */
export type PolicyKind = 'identity' | 'resource';

/** Keys of a Principal object. */
export type PrincipalType = 'AWS' | 'Service' | 'Federated' | 'CanonicalUser';

/**
 * A Principal or NotPrincipal value: `'*'` (everyone) or lists per principal type. AWS
 * account ids are normalized to the account root ARN `arn:aws:iam::ACCOUNT:root`.
 */
export type PrincipalSpec = '*' | { readonly [T in PrincipalType]?: readonly string[] };

/** A Principal (`not: false`) or NotPrincipal (`not: true`) element. */
export interface PrincipalElement {
  readonly not: boolean;
  readonly spec: PrincipalSpec;
}

/** An Action/NotAction or Resource/NotResource element: the patterns as written. */
export interface PatternElement {
  readonly not: boolean;
  readonly patterns: readonly string[];
}

/** The base condition operators, without set prefix or IfExists suffix. */
export type BaseOperator =
  | 'StringEquals' | 'StringNotEquals' | 'StringEqualsIgnoreCase' | 'StringNotEqualsIgnoreCase'
  | 'StringLike' | 'StringNotLike'
  | 'NumericEquals' | 'NumericNotEquals' | 'NumericLessThan' | 'NumericLessThanEquals'
  | 'NumericGreaterThan' | 'NumericGreaterThanEquals'
  | 'DateEquals' | 'DateNotEquals' | 'DateLessThan' | 'DateLessThanEquals'
  | 'DateGreaterThan' | 'DateGreaterThanEquals'
  | 'Bool' | 'BinaryEquals' | 'IpAddress' | 'NotIpAddress'
  | 'ArnEquals' | 'ArnLike' | 'ArnNotEquals' | 'ArnNotLike' | 'Null';

/** `ForAnyValue:` / `ForAllValues:` qualifiers for multivalued context keys. */
export type SetOperator = 'ForAnyValue' | 'ForAllValues';

/** One operator/key pair of a Condition block, e.g. `StringLike` / `aws:username`. */
export interface ConditionClause {
  /** The operator as written, e.g. `ForAnyValue:StringLikeIfExists`. */
  readonly operator: string;
  readonly base: BaseOperator;
  readonly set?: SetOperator;
  readonly ifExists: boolean;
  /** The key as written; lookups are case-insensitive. */
  readonly key: string;
  /** Values as strings (JSON numbers and booleans are stringified, as IAM does). */
  readonly values: readonly string[];
}

/** One statement of a policy. `index` is its position in the Statement array. */
export interface Statement {
  readonly index: number;
  readonly sid?: string;
  readonly effect: 'Allow' | 'Deny';
  readonly principal?: PrincipalElement;
  readonly action: PatternElement;
  /** Absent only in resource policies, where it means "the resource the policy is attached to". */
  readonly resource?: PatternElement;
  readonly conditions: readonly ConditionClause[];
}

/** A validated policy document. */
export interface Policy {
  readonly kind: PolicyKind;
  readonly version: PolicyVersion;
  readonly id?: string;
  readonly statements: readonly Statement[];
}

/** A single request-context value. Numbers and booleans compare as IAM's typed values. */
export type ContextScalar = string | number | boolean | Date;

/** A request-context value; an array makes the key multivalued (use ForAnyValue/ForAllValues). */
export type ContextValue = ContextScalar | readonly string[];

/**
 * The authenticated caller. For `service` principals `arn` holds the service name; for
 * `web-identity` callers (AssumeRoleWithWebIdentity) the OIDC provider's ARN, which a trust
 * policy names as a `Federated` principal. `anonymous` callers carry no identity at all: only
 * `"Principal": "*"` (or `{"AWS": "*"}`) matches them and no principal keys are derived.
 */
export interface RequestPrincipal {
  readonly arn: string;
  readonly accountId: string;
  readonly type: 'root' | 'user' | 'assumed-role' | 'service' | 'web-identity' | 'anonymous';
  readonly userName?: string;
  readonly userId?: string;
}

/** One authorization question: may `principal` do `action` on `resource`? */
export interface AuthzRequest {
  readonly principal: RequestPrincipal;
  /** `service:Action`, e.g. `ecr:BatchGetImage`. */
  readonly action: string;
  /** The resource ARN, or `*` for actions without a resource (ecr:GetAuthorizationToken). */
  readonly resource: string;
  readonly context: Readonly<Record<string, ContextValue>>;
}
