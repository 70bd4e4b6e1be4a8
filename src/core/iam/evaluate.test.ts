import { describe, expect, it } from 'vitest';
import { evaluate, type PolicySet } from './evaluate.js';
import { parsePolicy } from './policy.js';
import type { AuthzRequest, ContextValue, Policy, RequestPrincipal } from './types.js';

const A = '111111111111';
const B = '222222222222';
const REPO = `arn:aws:ecr:us-east-1:${A}:repository/app`;

const alice: RequestPrincipal = { arn: `arn:aws:iam::${A}:user/alice`, accountId: A, type: 'user', userName: 'alice', userId: 'AIDAALICE' };
const carol: RequestPrincipal = { arn: `arn:aws:iam::${A}:user/carol`, accountId: A, type: 'user', userName: 'carol' };
const root: RequestPrincipal = { arn: `arn:aws:iam::${A}:root`, accountId: A, type: 'root' };
const session: RequestPrincipal = { arn: `arn:aws:sts::${A}:assumed-role/deployer/run-1`, accountId: A, type: 'assumed-role', userId: 'AROADEPLOYER:run-1' };
const otherSession: RequestPrincipal = { ...session, arn: `arn:aws:sts::${A}:assumed-role/deployer/run-2` };
const bob: RequestPrincipal = { arn: `arn:aws:iam::${B}:user/bob`, accountId: B, type: 'user', userName: 'bob' };
const rootB: RequestPrincipal = { arn: `arn:aws:iam::${B}:root`, accountId: B, type: 'root' };
const replicator: RequestPrincipal = { arn: 'replication.ecr.amazonaws.com', accountId: '', type: 'service' };

const identity = (...Statement: object[]): Policy => parsePolicy(JSON.stringify({ Version: '2012-10-17', Statement }), 'identity');
const resource = (...Statement: object[]): Policy => parsePolicy(JSON.stringify({ Version: '2012-10-17', Statement }), 'resource');
const req = (principal: RequestPrincipal, action = 'ecr:BatchGetImage', res = REPO, context: Record<string, ContextValue> = {}): AuthzRequest => ({
  principal, action, resource: res, context,
});
const decide = (r: AuthzRequest, p: Partial<PolicySet>): string => evaluate(r, { identity: [], ...p }).decision;

const allowAll = { Effect: 'Allow', Action: 'ecr:*', Resource: '*' };
const pull = { Effect: 'Allow', Action: 'ecr:BatchGetImage' };

describe('deny beats allow', () => {
  it('denies implicitly when nothing applies', () => {
    expect(evaluate(req(alice), { identity: [] })).toEqual({ decision: 'ImplicitDeny', matched: [], reason: 'no-allow' });
  });

  it('allows through an identity policy and reports the statement', () => {
    const d = evaluate(req(alice), { identity: [identity({ Sid: 'All', ...allowAll })] });
    expect(d).toEqual({ decision: 'Allow', reason: 'allowed', matched: [{ policyId: 'identity[0]', sid: 'All', source: 'identity', index: 0, effect: 'Allow' }] });
  });

  it('an identity Deny in another policy wins over an identity Allow', () => {
    const deny = parsePolicy(JSON.stringify({ Id: 'guard', Statement: [{ Effect: 'Deny', Action: 'ecr:Batch*', Resource: REPO }] }), 'identity');
    const d = evaluate(req(alice), { identity: [identity(allowAll), deny] });
    expect(d).toEqual({ decision: 'ExplicitDeny', reason: 'explicit-deny', matched: [{ policyId: 'guard', source: 'identity', index: 0, effect: 'Deny' }] });
  });

  it('a repository-policy Deny wins over an identity Allow, and an identity Deny over a repository Allow', () => {
    expect(decide(req(alice), { identity: [identity(allowAll)], resource: resource({ Effect: 'Deny', Principal: '*', Action: '*' }) })).toBe('ExplicitDeny');
    expect(decide(req(alice), { identity: [identity({ ...allowAll, Effect: 'Deny' })], resource: resource({ ...pull, Principal: '*' }) })).toBe('ExplicitDeny');
  });

  it('a registry-policy Deny wins over a repository-policy Allow', () => {
    const registry = resource({ Effect: 'Deny', Principal: { AWS: alice.arn }, Action: 'ecr:*', Resource: `arn:aws:ecr:us-east-1:${A}:repository/*` });
    expect(decide(req(alice), { resource: resource({ ...pull, Principal: '*' }), registry })).toBe('ExplicitDeny');
    expect(decide(req(carol), { resource: resource({ ...pull, Principal: '*' }), registry })).toBe('Allow');
  });

  it('a Deny whose condition does not hold does not apply', () => {
    const deny = { Effect: 'Deny', Action: '*', Resource: '*', Condition: { NotIpAddress: { 'aws:SourceIp': '10.0.0.0/8' } } };
    expect(decide(req(alice, undefined, undefined, { 'aws:SourceIp': '10.1.2.3' }), { identity: [identity(allowAll, deny)] })).toBe('Allow');
    expect(decide(req(alice, undefined, undefined, { 'aws:SourceIp': '192.0.2.1' }), { identity: [identity(allowAll, deny)] })).toBe('ExplicitDeny');
  });
});

describe('actions and resources', () => {
  it('matches actions case-insensitively and resources case-sensitively', () => {
    expect(decide(req(alice), { identity: [identity({ Effect: 'Allow', Action: 'ECR:batchgetIMAGE', Resource: REPO })] })).toBe('Allow');
    expect(decide(req(alice), { identity: [identity({ Effect: 'Allow', Action: 'ecr:*', Resource: REPO.replace('app', 'App') })] })).toBe('ImplicitDeny');
    expect(decide(req(alice), { identity: [identity({ Effect: 'Allow', Action: 'ecr:BatchGet?mage', Resource: 'arn:aws:ecr:*:*:repository/a*' })] })).toBe('Allow');
  });

  it('NotAction allows everything except the listed actions', () => {
    const p = identity({ Effect: 'Allow', NotAction: ['ecr:Delete*', 'ecr:SetRepositoryPolicy'], Resource: '*' });
    expect(decide(req(alice), { identity: [p] })).toBe('Allow');
    expect(decide(req(alice, 'ecr:DeleteRepository'), { identity: [p] })).toBe('ImplicitDeny');
  });

  it('NotResource: a Deny on everything outside app-*', () => {
    const p = identity(allowAll, { Effect: 'Deny', Action: '*', NotResource: `arn:aws:ecr:*:${A}:repository/app-*` });
    expect(decide(req(alice), { identity: [p] })).toBe('ExplicitDeny');
    expect(decide(req(alice, undefined, `${REPO}-web`), { identity: [p] })).toBe('Allow');
  });

  it('a repository policy without Resource applies to its repository; with one, it must match', () => {
    expect(decide(req(alice), { resource: resource({ ...pull, Principal: '*' }) })).toBe('Allow');
    expect(decide(req(alice), { resource: resource({ ...pull, Principal: '*', Resource: `${REPO}-other` }) })).toBe('ImplicitDeny');
  });

  it('resource "*" requests (GetAuthorizationToken) need Resource "*"', () => {
    const token = req(alice, 'ecr:GetAuthorizationToken', '*');
    expect(decide(token, { identity: [identity({ Effect: 'Allow', Action: 'ecr:GetAuthorizationToken', Resource: '*' })] })).toBe('Allow');
    expect(decide(token, { identity: [identity({ Effect: 'Allow', Action: 'ecr:*', Resource: 'arn:aws:ecr:*:*:repository/*' })] })).toBe('ImplicitDeny');
  });

  it('substitutes policy variables in Resource (2012-10-17 only)', () => {
    const own = { Effect: 'Allow', Action: 'ecr:*', Resource: 'arn:aws:ecr:*:*:repository/${aws:username}/*' };
    const home = (name: string): string => `arn:aws:ecr:us-east-1:${A}:repository/${name}/app`;
    expect(decide(req(alice, undefined, home('alice')), { identity: [identity(own)] })).toBe('Allow');
    expect(decide(req(alice, undefined, home('bob')), { identity: [identity(own)] })).toBe('ImplicitDeny');
    expect(decide(req(session, undefined, home('alice')), { identity: [identity(own)] })).toBe('ImplicitDeny');
    const old = parsePolicy(JSON.stringify({ Statement: own }), 'identity');
    expect(decide(req(alice, undefined, home('alice')), { identity: [old] })).toBe('ImplicitDeny');
    expect(decide(req(alice, undefined, home('${aws:username}')), { identity: [old] })).toBe('Allow');
    const shared = { ...own, Resource: "arn:aws:ecr:*:*:repository/${aws:username, 'shared'}/*" };
    expect(decide(req(session, undefined, home('shared')), { identity: [identity(shared)] })).toBe('Allow');
  });

  it('an unresolved variable in NotResource matches nothing, so the statement applies', () => {
    const p = identity(allowAll, { Effect: 'Deny', Action: '*', NotResource: 'arn:aws:ecr:*:*:repository/${aws:username}/*' });
    expect(decide(req(session), { identity: [p] })).toBe('ExplicitDeny');
    expect(decide(req(alice, undefined, `arn:aws:ecr:us-east-1:${A}:repository/alice/x`), { identity: [p] })).toBe('Allow');
  });

  it('derives aws:PrincipalType and friends for conditions', () => {
    const p = identity({ ...allowAll, Condition: { StringEquals: { 'aws:PrincipalType': 'AssumedRole', 'aws:userid': 'AROADEPLOYER:*' } } });
    expect(decide(req(session), { identity: [p] })).toBe('ImplicitDeny');
    const like = identity({ ...allowAll, Condition: { StringEquals: { 'aws:PrincipalType': 'AssumedRole' }, StringLike: { 'aws:userid': 'AROADEPLOYER:*' } } });
    expect(decide(req(session), { identity: [like] })).toBe('Allow');
    expect(decide(req(alice), { identity: [like] })).toBe('ImplicitDeny');
  });
});

describe('resource-policy principals', () => {
  const grant = (principal: unknown): Partial<PolicySet> => ({ resource: resource({ ...pull, Principal: principal }) });

  it('"*" and {"AWS": "*"} match everyone', () => {
    for (const p of [alice, session, root, replicator]) {
      expect(decide(req(p), grant('*'))).toBe('Allow');
      expect(decide(req(p), grant({ AWS: '*' }))).toBe('Allow');
    }
  });

  it('an exact user ARN matches that user only', () => {
    expect(decide(req(alice), grant({ AWS: alice.arn }))).toBe('Allow');
    expect(decide(req(carol), grant({ AWS: alice.arn }))).toBe('ImplicitDeny');
  });

  it('a role ARN (with a path) matches its sessions; a session ARN matches that session', () => {
    expect(decide(req(session), grant({ AWS: `arn:aws:iam::${A}:role/ci/deployer` }))).toBe('Allow');
    expect(decide(req(session), grant({ AWS: `arn:aws:iam::${A}:role/deployer2` }))).toBe('ImplicitDeny');
    expect(decide(req(session), grant({ AWS: `arn:aws:iam::${B}:role/deployer` }))).toBe('ImplicitDeny');
    expect(decide(req(session), grant({ AWS: session.arn }))).toBe('Allow');
    expect(decide(req(otherSession), grant({ AWS: session.arn }))).toBe('ImplicitDeny');
  });

  it('the account (id or root ARN) delegates: root is granted, others need an identity Allow', () => {
    for (const account of [A, `arn:aws:iam::${A}:root`]) {
      expect(decide(req(root), grant({ AWS: account }))).toBe('Allow');
      expect(evaluate(req(alice), { identity: [], ...grant({ AWS: account }) })).toMatchObject({
        decision: 'ImplicitDeny', reason: 'account-delegation-needs-identity-allow',
      });
      const both = evaluate(req(alice), { identity: [identity(allowAll)], ...grant({ AWS: account }) });
      expect(both.decision).toBe('Allow');
      expect(both.matched.map((m) => m.source)).toEqual(['identity', 'resource']);
    }
  });

  it('an account in a Deny matches every principal of that account', () => {
    const p = { identity: [identity(allowAll)], resource: resource({ Effect: 'Deny', Principal: { AWS: A }, Action: 'ecr:*' }) };
    for (const who of [alice, session, root]) expect(decide(req(who), p)).toBe('ExplicitDeny');
  });

  it('service principals match by name, case-insensitively', () => {
    expect(decide(req(replicator), grant({ Service: 'Replication.ECR.amazonaws.com' }))).toBe('Allow');
    expect(decide(req(alice), grant({ Service: 'replication.ecr.amazonaws.com' }))).toBe('ImplicitDeny');
    expect(decide(req(replicator), grant({ AWS: A }))).toBe('ImplicitDeny');
    expect(decide(req(alice), grant({ Federated: 'cognito-identity.amazonaws.com' }))).toBe('ImplicitDeny');
  });
});

describe('NotPrincipal', () => {
  const lockdown = (...exempt: string[]): Policy =>
    resource({ ...pull, Principal: '*' }, { Effect: 'Deny', NotPrincipal: { AWS: exempt }, Action: '*' });

  it('denies everyone not listed', () => {
    const p = lockdown(alice.arn, A);
    expect(decide(req(alice), { resource: p })).toBe('Allow');
    expect(decide(req(carol), { resource: p })).toBe('ExplicitDeny');
    expect(decide(req(bob), { resource: p })).toBe('ExplicitDeny');
  });

  it('exempting a user without its account does not exempt the user (IAM documents this)', () => {
    expect(decide(req(alice), { resource: lockdown(alice.arn) })).toBe('ExplicitDeny');
  });

  it('exempting a role session needs the session or role ARN and the account', () => {
    expect(decide(req(session), { resource: lockdown(`arn:aws:iam::${A}:role/deployer`, A) })).toBe('ExplicitDeny');
    expect(decide(req(session), { resource: lockdown(session.arn, `arn:aws:iam::${A}:role/deployer`, A) })).toBe('Allow');
    expect(decide(req(root), { resource: lockdown(A) })).toBe('Allow');
  });

  it('NotPrincipal with Allow grants everyone not listed', () => {
    const p = resource({ ...pull, NotPrincipal: { AWS: carol.arn } });
    expect(decide(req(alice), { resource: p })).toBe('Allow');
    expect(decide(req(replicator), { resource: p })).toBe('Allow');
  });
});

describe('root and cross-account', () => {
  it('the account root may do anything in its account unless explicitly denied', () => {
    expect(evaluate(req(root, 'ecr:DeleteRepository'), { identity: [] })).toEqual({ decision: 'Allow', matched: [], reason: 'account-root' });
    const deny = resource({ Effect: 'Deny', Principal: '*', Action: 'ecr:DeleteRepository' });
    expect(decide(req(root, 'ecr:DeleteRepository'), { resource: deny })).toBe('ExplicitDeny');
  });

  it('another account needs both a resource-side and an identity-side Allow', () => {
    const repoPolicy = resource({ ...pull, Principal: { AWS: B } });
    expect(evaluate(req(bob), { identity: [], resource: repoPolicy }).reason).toBe('cross-account-needs-identity-allow');
    expect(evaluate(req(bob), { identity: [identity(allowAll)] }).reason).toBe('cross-account-needs-resource-allow');
    expect(decide(req(bob), { identity: [identity(allowAll)], resource: repoPolicy })).toBe('Allow');
    expect(decide(req(rootB), { resource: repoPolicy })).toBe('Allow');
    expect(decide(req(rootB), { identity: [] })).toBe('ImplicitDeny');
  });

  it('a registry policy is a resource-side grant too', () => {
    const registry = resource({ Effect: 'Allow', Principal: { AWS: B }, Action: 'ecr:BatchGetImage', Resource: `arn:aws:ecr:us-east-1:${A}:repository/*` });
    expect(decide(req(bob), { identity: [identity(allowAll)], registry })).toBe('Allow');
  });

  it('names policies by Id when they have one', () => {
    const p = parsePolicy(JSON.stringify({ Id: 'repo-app', Statement: { Sid: 'pull', ...pull, Principal: '*' } }), 'resource');
    expect(evaluate(req(alice), { identity: [], resource: p }).matched).toEqual([
      { policyId: 'repo-app', sid: 'pull', source: 'resource', index: 0, effect: 'Allow' },
    ]);
  });
});
