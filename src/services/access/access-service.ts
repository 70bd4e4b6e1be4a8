/**
 * The one authorization decision every surface calls (OCI /v2/, ECR, IAM, STS), so no rule
 * lives in HTTP middleware. A request is allowed as IAM allows it (src/core/iam/evaluate.ts):
 * an explicit Deny in any policy wins; otherwise an Allow in the principal's identity
 * policies (its own and its groups', or its role's) or in the resource's policy grants;
 * otherwise it is denied. The resource policies are the repository policy
 * (SetRepositoryPolicy) and the registry policy, which applies to every ECR action when the
 * account's REGISTRY_POLICY_SCOPE is V2 (the default, as in ECR) and only to ECR's three
 * registry actions under V1. Anonymous callers get only what a policy grants to "*".
 *
 * Policies are read on every decision (a primary-key lookup each) and parsed once per
 * distinct text, so a policy change takes effect on the next request on every node.
 */
import { repositoryArn } from '../../core/arn.js';
import { BerthError } from '../../core/errors.js';
import { evaluate, parsePolicy, type ContextValue, type Decision, type Policy } from '../../core/iam/index.js';
import type { IdentityStore } from '../../metadata/identity-types.js';
import type { RegistrySettingsStore, RepositoryStore } from '../../metadata/types.js';
import { anonymousPrincipal, requestPrincipal, type Principal } from '../identity/principal.js';

export type { Principal };

const V1_REGISTRY_ACTIONS = new Set(['ecr:ReplicateImage', 'ecr:BatchImportUpstreamImage', 'ecr:CreateRepository']);

export interface AccessDeps {
  identity: IdentityStore;
  repositories: RepositoryStore;
  registry: RegistrySettingsStore;
  now: () => number;
}

export interface AuthorizeOptions {
  /** The repository the action is on (undefined: the registry, or an action without a resource). */
  repository?: string;
  /** The resource ARN when it is not a repository (an IAM role, `*`). */
  resource?: string;
  /** A resource policy to apply instead of the repository's (a role's trust policy). */
  resourcePolicy?: string;
  sourceIp?: string;
  /** Extra request-context keys (e.g. OIDC claims). */
  context?: Record<string, ContextValue>;
}

export class AccessService {
  private readonly parsed = new Map<string, Policy>();

  constructor(
    readonly accountId: string,
    readonly region: string,
    private readonly deps: AccessDeps,
  ) {}

  /** The ARN an action on `repository` is authorized against (the registry itself when omitted). */
  resourceArn(repository?: string): string {
    return repository === undefined ? `arn:aws:ecr:${this.region}:${this.accountId}:*` : repositoryArn(this.region, this.accountId, repository);
  }

  anonymous(): Principal {
    return anonymousPrincipal(this.accountId);
  }

  /** Resolves when `principal` may do `action`; throws ACCESS_DENIED (UNAUTHENTICATED for anonymous callers) otherwise. */
  async authorize(principal: Principal, action: string, o: AuthorizeOptions = {}): Promise<void> {
    const { decision, resource } = await this.decide(principal, action, o);
    if (decision.decision === 'Allow') return;
    if (principal.kind === 'anonymous') throw new BerthError('UNAUTHENTICATED', 'authentication required');
    const why =
      decision.decision === 'ExplicitDeny'
        ? `with an explicit deny in ${decision.matched[0]?.source === 'identity' ? 'an identity-based' : 'a resource-based'} policy`
        : `because no identity-based policy allows the ${action} action`;
    throw new BerthError('ACCESS_DENIED', `User: ${principal.arn} is not authorized to perform: ${action} on resource: ${resource} ${why}`);
  }

  /** Whether the call would be allowed (for filtering lists). */
  async allows(principal: Principal, action: string, o: AuthorizeOptions = {}): Promise<boolean> {
    return (await this.decide(principal, action, o)).decision.decision === 'Allow';
  }

  /** The subset of `repositories` on which `principal` may do `action`, in the given order. */
  async filterRepositories(principal: Principal, action: string, repositories: readonly string[]): Promise<string[]> {
    const out: string[] = [];
    for (const name of repositories) if (await this.allows(principal, action, { repository: name })) out.push(name);
    return out;
  }

  async decide(principal: Principal, action: string, o: AuthorizeOptions): Promise<{ decision: Decision; resource: string }> {
    const resource = o.resource ?? this.resourceArn(o.repository);
    const [identity, repo, registry] = await Promise.all([
      this.identityPolicies(principal),
      o.repository === undefined ? Promise.resolve(undefined) : this.deps.repositories.get(o.repository),
      this.registryPolicy(action),
    ]);
    const resourceText = o.resourcePolicy ?? repo?.settings.policyText;
    // Root with no resource policy in play: nothing can deny it (it has no identity policies),
    // so the answer is IAM's `account-root` Allow without building the request context.
    if (principal.kind === 'root' && resourceText === undefined && registry === undefined) {
      return { decision: { decision: 'Allow', matched: [], reason: 'account-root' }, resource };
    }
    const context: Record<string, ContextValue> = {
      'aws:CurrentTime': new Date(this.deps.now()),
      'aws:EpochTime': Math.floor(this.deps.now() / 1000),
      'aws:RequestedRegion': this.region,
      'aws:SecureTransport': false,
      ...(o.sourceIp === undefined ? {} : { 'aws:SourceIp': o.sourceIp }),
      ...(principal.kind === 'assumed-role' && principal.roleName ? { 'aws:PrincipalArn': `arn:aws:iam::${principal.accountId}:role/${principal.roleName}` } : {}),
      ...Object.fromEntries(Object.entries(repo?.settings.resourceTags ?? {}).map(([k, v]) => [`aws:ResourceTag/${k}`, v])),
      ...o.context,
    };
    const repositoryPolicy = resourceText === undefined ? undefined : this.parse(resourceText, 'resource');
    const decision = evaluate(
      { principal: requestPrincipal(principal), action, resource, context },
      { identity, ...(repositoryPolicy ? { resource: repositoryPolicy } : {}), ...(registry ? { registry } : {}) },
    );
    return { decision, resource };
  }

  private async identityPolicies(p: Principal): Promise<Policy[]> {
    if (p.kind === 'user' && p.userName !== undefined) {
      const rows = await this.deps.identity.policiesOfUser(p.userName);
      return rows.map((r) => this.parse(r.document, 'identity'));
    }
    if (p.kind === 'assumed-role' && p.roleName !== undefined) {
      const names = await this.deps.identity.listPolicies({ kind: 'role', name: p.roleName });
      const docs = await Promise.all(names.map((n) => this.deps.identity.getPolicy({ kind: 'role', name: p.roleName! }, n)));
      return docs.filter((d): d is string => d !== null).map((d) => this.parse(d, 'identity'));
    }
    return [];
  }

  private async registryPolicy(action: string): Promise<Policy | undefined> {
    if (!action.startsWith('ecr:')) return undefined;
    const text = await this.deps.registry.get('registry-policy');
    if (text === null) return undefined;
    const scope = (await this.deps.registry.get('account-setting/REGISTRY_POLICY_SCOPE')) ?? 'V2';
    if (scope === 'V1' && !V1_REGISTRY_ACTIONS.has(action)) return undefined;
    return this.parse(text, 'resource');
  }

  private parse(text: string, kind: 'identity' | 'resource'): Policy {
    const key = `${kind}\n${text}`;
    let p = this.parsed.get(key);
    if (!p) {
      p = parsePolicy(text, kind);
      if (this.parsed.size >= 1000) this.parsed.delete(this.parsed.keys().next().value as string);
      this.parsed.set(key, p);
    }
    return p;
  }
}
