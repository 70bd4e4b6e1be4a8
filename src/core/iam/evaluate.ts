/**
 * IAM policy evaluation for one request (no SCPs, permission boundaries or session policies).
 *
 * 1. An applicable Deny statement in any policy wins: `ExplicitDeny`.
 * 2. Same account (the resource ARN's account is the caller's, the resource is `*`, or the
 *    caller is a service principal): an applicable Allow in an identity policy, or in the
 *    repository/registry policy with a Principal naming the caller directly (`*`, its ARN, its
 *    role, its service), grants. A resource-policy Principal that names only the caller's
 *    account *delegates* to the account, as IAM documents: it grants the root principal, and
 *    other principals of the account still need an identity-policy Allow.
 * 3. Cross account: the resource side (repository or registry policy, naming the caller or
 *    its account) and the identity side (an identity-policy Allow) must both allow.
 * 4. The account root principal has every permission on its own side: in its own account it
 *    is allowed everything not explicitly denied (ECR: root can do everything in its account,
 *    though a repository policy Deny does bind it); across accounts it still needs the other
 *    account's resource policy.
 * 5. Otherwise `ImplicitDeny`.
 */
import { conditionsHold } from './conditions.js';
import { ContextView } from './context.js';
import { matchPrincipal, notPrincipalApplies, type PrincipalMatch } from './principal.js';
import type { AuthzRequest, PatternElement, Policy, Statement } from './types.js';
import { resolvePolicyString } from './variables.js';
import { matchGlob } from './wildcard.js';

/**
 * The policies that bear on one request. Identity policies are read without Principal checks;
 * in the resource and registry positions a statement without Principal (an identity policy
 * passed by mistake) never applies. ECR's registry-policy scope V1 (only ReplicateImage,
 * BatchImportUpstreamImage and CreateRepository enforced) is the caller's to apply by passing
 * or omitting `registry`.
 */
export interface PolicySet {
  /** The principal's user, group and role policies (kind `identity`). */
  readonly identity: readonly Policy[];
  /** The repository policy (kind `resource`). */
  readonly resource?: Policy;
  /** The registry policy (kind `resource`), evaluated as a second resource-based policy. */
  readonly registry?: Policy;
}

/** Where a statement came from. */
export type PolicySource = 'identity' | 'resource' | 'registry';

/** A statement that applied to the request. `policyId` is the policy's Id, else `identity[i]`/`resource`/`registry`. */
export interface MatchedStatement {
  readonly policyId: string;
  readonly sid?: string;
  readonly source: PolicySource;
  readonly index: number;
  readonly effect: 'Allow' | 'Deny';
}

/** Why the decision came out as it did. */
export type DecisionReason =
  | 'explicit-deny'
  | 'allowed'
  | 'account-root'
  | 'no-allow'
  | 'account-delegation-needs-identity-allow'
  | 'cross-account-needs-identity-allow'
  | 'cross-account-needs-resource-allow';

/** The outcome: the decision, the statements behind it (Deny or Allow statements; none for ImplicitDeny) and the reason. */
export interface Decision {
  readonly decision: 'Allow' | 'ExplicitDeny' | 'ImplicitDeny';
  readonly matched: readonly MatchedStatement[];
  readonly reason: DecisionReason;
}

function matchesElement(el: PatternElement, test: (pattern: string) => boolean): boolean {
  const hit = el.patterns.some(test);
  return el.not ? !hit : hit;
}

function applies(st: Statement, policy: Policy, source: PolicySource, req: AuthzRequest, ctx: ContextView): PrincipalMatch | undefined {
  let via: PrincipalMatch | undefined = 'direct';
  if (source !== 'identity') {
    if (st.principal === undefined) return undefined;
    if (st.principal.not) via = notPrincipalApplies(st.principal.spec, req.principal) ? 'direct' : undefined;
    else via = matchPrincipal(st.principal.spec, req.principal);
    if (via === undefined) return undefined;
  }
  if (!matchesElement(st.action, (p) => matchGlob(p, req.action, true))) return undefined;
  const resourceMatches = (p: string): boolean => {
    const r = resolvePolicyString(p, policy.version, (k) => ctx.variable(k));
    return r !== undefined && matchGlob(r.glob, req.resource);
  };
  if (st.resource !== undefined && !matchesElement(st.resource, resourceMatches)) return undefined;
  return conditionsHold(st.conditions, ctx, policy.version) ? via : undefined;
}

function accountOf(arn: string): string | undefined {
  const account = arn.split(':')[4];
  return account !== undefined && /^\d{12}$/.test(account) ? account : undefined;
}

/**
 * Decides whether `request` is allowed by `policies`. Pure and synchronous; the caller supplies
 * every policy and the request context (aws:SourceIp, aws:CurrentTime, ecr:ResourceTag/..., ...).
 */
export function evaluate(request: AuthzRequest, policies: PolicySet): Decision {
  const ctx = new ContextView(request.context, request.principal);
  const denies: MatchedStatement[] = [];
  const identityAllows: MatchedStatement[] = [];
  const direct: MatchedStatement[] = [];
  const delegated: MatchedStatement[] = [];
  const visit = (policy: Policy, source: PolicySource, policyId: string): void => {
    for (const st of policy.statements) {
      const via = applies(st, policy, source, request, ctx);
      if (via === undefined) continue;
      const m: MatchedStatement = {
        policyId, source, index: st.index, effect: st.effect, ...(st.sid === undefined ? {} : { sid: st.sid }),
      };
      if (st.effect === 'Deny') denies.push(m);
      else if (source === 'identity') identityAllows.push(m);
      else (via === 'direct' ? direct : delegated).push(m);
    }
  };
  policies.identity.forEach((p, i) => visit(p, 'identity', p.id ?? `identity[${i}]`));
  if (policies.resource !== undefined) visit(policies.resource, 'resource', policies.resource.id ?? 'resource');
  if (policies.registry !== undefined) visit(policies.registry, 'registry', policies.registry.id ?? 'registry');

  if (denies.length > 0) return { decision: 'ExplicitDeny', matched: denies, reason: 'explicit-deny' };
  const { principal } = request;
  const isRoot = principal.type === 'root';
  const allows = [...identityAllows, ...direct, ...delegated];
  const allow = (): Decision =>
    allows.length > 0 ? { decision: 'Allow', matched: allows, reason: 'allowed' } : { decision: 'Allow', matched: [], reason: 'account-root' };
  const implicit = (reason: DecisionReason): Decision => ({ decision: 'ImplicitDeny', matched: [], reason });

  const resourceAccount = accountOf(request.resource);
  const crossAccount = principal.type !== 'service' && principal.type !== 'anonymous' && resourceAccount !== undefined && resourceAccount !== principal.accountId;
  if (!crossAccount) {
    if (identityAllows.length > 0 || direct.length > 0 || isRoot) return allow();
    return implicit(delegated.length > 0 ? 'account-delegation-needs-identity-allow' : 'no-allow');
  }
  const resourceSide = direct.length > 0 || delegated.length > 0;
  const identitySide = identityAllows.length > 0 || isRoot;
  if (resourceSide && identitySide) return allow();
  if (resourceSide) return implicit('cross-account-needs-identity-allow');
  return implicit(identitySide ? 'cross-account-needs-resource-allow' : 'no-allow');
}
