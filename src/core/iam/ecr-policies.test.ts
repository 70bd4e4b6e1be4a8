/** Realistic ECR policies, in the shapes AWS's ECR documentation uses. */
import { describe, expect, it } from 'vitest';
import { evaluate } from './evaluate.js';
import { parsePolicy } from './policy.js';
import type { AuthzRequest, ContextValue, RequestPrincipal } from './types.js';

const ACCOUNT = '123456789012';
const PARTNER = '444455556666';
const repo = (name: string): string => `arn:aws:ecr:us-east-1:${ACCOUNT}:repository/${name}`;
const PUSH = ['ecr:BatchCheckLayerAvailability', 'ecr:InitiateLayerUpload', 'ecr:UploadLayerPart', 'ecr:CompleteLayerUpload', 'ecr:PutImage'];
const PULL = ['ecr:BatchGetImage', 'ecr:GetDownloadUrlForLayer', 'ecr:BatchCheckLayerAvailability'];

const ci: RequestPrincipal = { arn: `arn:aws:iam::${ACCOUNT}:user/ci`, accountId: ACCOUNT, type: 'user', userName: 'ci' };
const admin: RequestPrincipal = { arn: `arn:aws:iam::${ACCOUNT}:user/admin`, accountId: ACCOUNT, type: 'user', userName: 'admin' };
const root: RequestPrincipal = { arn: `arn:aws:iam::${ACCOUNT}:root`, accountId: ACCOUNT, type: 'root' };
const partnerDev: RequestPrincipal = { arn: `arn:aws:sts::${PARTNER}:assumed-role/puller/build-7`, accountId: PARTNER, type: 'assumed-role' };

const r = (principal: RequestPrincipal, action: string, resource: string, context: Record<string, ContextValue> = {}): AuthzRequest => ({
  principal, action, resource, context,
});

const ciPolicy = parsePolicy(
  JSON.stringify({
    Version: '2012-10-17',
    Statement: [
      { Sid: 'Login', Effect: 'Allow', Action: 'ecr:GetAuthorizationToken', Resource: '*' },
      { Sid: 'PushApps', Effect: 'Allow', Action: PUSH, Resource: `arn:aws:ecr:us-east-1:${ACCOUNT}:repository/app-*` },
    ],
  }),
  'identity',
);
const adminPolicy = parsePolicy(JSON.stringify({ Version: '2012-10-17', Statement: { Effect: 'Allow', Action: 'ecr:*', Resource: '*' } }), 'identity');

describe('a CI user allowed to push to repository/app-* only', () => {
  it('can log in and push every layer and the manifest to app-*', () => {
    expect(evaluate(r(ci, 'ecr:GetAuthorizationToken', '*'), { identity: [ciPolicy] }).decision).toBe('Allow');
    for (const action of PUSH) {
      const d = evaluate(r(ci, action, repo('app-web')), { identity: [ciPolicy] });
      expect(d).toMatchObject({ decision: 'Allow', matched: [{ sid: 'PushApps' }] });
    }
  });

  it('cannot push elsewhere, pull, or delete', () => {
    expect(evaluate(r(ci, 'ecr:PutImage', repo('infra')), { identity: [ciPolicy] }).decision).toBe('ImplicitDeny');
    expect(evaluate(r(ci, 'ecr:PutImage', repo('app')), { identity: [ciPolicy] }).decision).toBe('ImplicitDeny');
    expect(evaluate(r(ci, 'ecr:BatchGetImage', repo('app-web')), { identity: [ciPolicy] }).decision).toBe('ImplicitDeny');
    expect(evaluate(r(ci, 'ecr:DeleteRepository', repo('app-web')), { identity: [ciPolicy] }).decision).toBe('ImplicitDeny');
    expect(evaluate(r(ci, 'ecr:PutImage', `arn:aws:ecr:us-east-1:${PARTNER}:repository/app-web`), { identity: [ciPolicy] }).decision).toBe(
      'ImplicitDeny',
    );
  });
});

describe('a read-only pull repository policy for another account', () => {
  const crossAccountPull = parsePolicy(
    JSON.stringify({
      Version: '2012-10-17',
      Statement: [{ Sid: 'AllowCrossAccountPull', Effect: 'Allow', Principal: { AWS: `arn:aws:iam::${PARTNER}:root` }, Action: PULL }],
    }),
    'resource',
  );
  const partnerIdentity = parsePolicy(
    JSON.stringify({ Version: '2012-10-17', Statement: { Effect: 'Allow', Action: 'ecr:*', Resource: `arn:aws:ecr:*:${ACCOUNT}:repository/*` } }),
    'identity',
  );

  it('lets the partner pull when its own account grants it', () => {
    for (const action of PULL) {
      const d = evaluate(r(partnerDev, action, repo('app')), { identity: [partnerIdentity], resource: crossAccountPull });
      expect(d.decision).toBe('Allow');
      expect(d.matched.map((m) => m.sid ?? m.policyId)).toEqual(['identity[0]', 'AllowCrossAccountPull']);
    }
  });

  it('refuses partner pushes and partner principals without an identity grant', () => {
    const push = evaluate(r(partnerDev, 'ecr:PutImage', repo('app')), { identity: [partnerIdentity], resource: crossAccountPull });
    expect(push).toMatchObject({ decision: 'ImplicitDeny', reason: 'cross-account-needs-resource-allow' });
    const bare = evaluate(r(partnerDev, 'ecr:BatchGetImage', repo('app')), { identity: [], resource: crossAccountPull });
    expect(bare).toMatchObject({ decision: 'ImplicitDeny', reason: 'cross-account-needs-identity-allow' });
  });

  it('does not by itself grant principals of the owning account', () => {
    expect(evaluate(r(ci, 'ecr:BatchGetImage', repo('app')), { identity: [], resource: crossAccountPull }).decision).toBe('ImplicitDeny');
  });
});

describe('a repository policy denying DeleteRepository', () => {
  const protect = parsePolicy(
    JSON.stringify({
      Version: '2012-10-17',
      Statement: [{ Sid: 'DenyDelete', Effect: 'Deny', Principal: '*', Action: ['ecr:DeleteRepository', 'ecr:BatchDeleteImage'] }],
    }),
    'resource',
  );

  it('stops administrators and the account root', () => {
    for (const who of [admin, root]) {
      const d = evaluate(r(who, 'ecr:DeleteRepository', repo('prod')), { identity: who === admin ? [adminPolicy] : [], resource: protect });
      expect(d).toMatchObject({ decision: 'ExplicitDeny', matched: [{ sid: 'DenyDelete', source: 'resource' }] });
    }
  });

  it('leaves everything else to the identity policies', () => {
    expect(evaluate(r(admin, 'ecr:PutImage', repo('prod')), { identity: [adminPolicy], resource: protect }).decision).toBe('Allow');
    expect(evaluate(r(root, 'ecr:PutImage', repo('prod')), { identity: [], resource: protect }).decision).toBe('Allow');
  });
});

describe('conditions in ECR policies', () => {
  const guarded = parsePolicy(
    JSON.stringify({
      Version: '2012-10-17',
      Statement: [
        { Sid: 'PullFromCorp', Effect: 'Allow', Principal: { AWS: ACCOUNT }, Action: PULL },
        {
          Sid: 'OnlyFromCorpOrVpc',
          Effect: 'Deny',
          Principal: '*',
          Action: 'ecr:*',
          Condition: { NotIpAddress: { 'aws:SourceIp': ['198.51.100.0/24', '2001:db8::/32'] }, Null: { 'aws:SourceVpce': 'true' } },
        },
        { Sid: 'ProdNeedsTag', Effect: 'Deny', Principal: '*', Action: 'ecr:PutImage', Condition: { StringEquals: { 'ecr:ResourceTag/env': 'prod' }, 'ForAnyValue:StringNotLike': { 'aws:PrincipalTag/team': 'platform*' } } },
      ],
    }),
    'resource',
  );
  const pull = (ctx: Record<string, ContextValue>): string =>
    evaluate(r(admin, 'ecr:BatchGetImage', repo('app'), ctx), { identity: [adminPolicy], resource: guarded }).decision;

  it('denies requests from outside the corporate network unless they come through a VPC endpoint', () => {
    expect(pull({ 'aws:SourceIp': '198.51.100.20' })).toBe('Allow');
    expect(pull({ 'aws:SourceIp': '2001:db8:5::1' })).toBe('Allow');
    expect(pull({ 'aws:SourceIp': '203.0.113.9' })).toBe('ExplicitDeny');
    expect(pull({ 'aws:SourceIp': '203.0.113.9', 'aws:SourceVpce': 'vpce-1a2b3c' })).toBe('Allow');
  });

  it('guards pushes to prod-tagged repositories by principal tags', () => {
    const push = (ctx: Record<string, ContextValue>): string =>
      evaluate(r(admin, 'ecr:PutImage', repo('app'), { 'aws:SourceIp': '198.51.100.1', ...ctx }), { identity: [adminPolicy], resource: guarded }).decision;
    expect(push({ 'ecr:ResourceTag/env': 'prod', 'aws:PrincipalTag/team': 'platform-core' })).toBe('Allow');
    expect(push({ 'ecr:ResourceTag/env': 'prod', 'aws:PrincipalTag/team': 'web' })).toBe('ExplicitDeny');
    expect(push({ 'ecr:ResourceTag/env': 'dev', 'aws:PrincipalTag/team': 'web' })).toBe('Allow');
    expect(push({ 'ecr:ResourceTag/env': 'prod' })).toBe('Allow');
  });
});

describe('a registry policy for cross-account replication', () => {
  const SOURCE = '777788889999';
  const registry = parsePolicy(
    JSON.stringify({
      Version: '2012-10-17',
      Statement: [{
        Sid: 'ReplicationAccessCrossAccount',
        Effect: 'Allow',
        Principal: { AWS: `arn:aws:iam::${SOURCE}:root` },
        Action: ['ecr:CreateRepository', 'ecr:ReplicateImage'],
        Resource: `arn:aws:ecr:us-east-1:${ACCOUNT}:repository/*`,
      }],
    }),
    'resource',
  );
  const sourceRoot: RequestPrincipal = { arn: `arn:aws:iam::${SOURCE}:root`, accountId: SOURCE, type: 'root' };

  it('lets the source registry replicate and create repositories, nothing else', () => {
    expect(evaluate(r(sourceRoot, 'ecr:ReplicateImage', repo('app')), { identity: [], registry }).decision).toBe('Allow');
    expect(evaluate(r(sourceRoot, 'ecr:CreateRepository', repo('new')), { identity: [], registry }).decision).toBe('Allow');
    expect(evaluate(r(sourceRoot, 'ecr:PutImage', repo('app')), { identity: [], registry }).decision).toBe('ImplicitDeny');
  });
});
