import { describe, expect, it } from 'vitest';
import { evaluate, parsePolicy } from './index.js';

const provider = 'arn:aws:iam::111122223333:oidc-provider/ci.example.test';
const trust = parsePolicy(
  JSON.stringify({
    Version: '2012-10-17',
    Statement: [
      {
        Effect: 'Allow',
        Principal: { Federated: provider },
        Action: 'sts:AssumeRoleWithWebIdentity',
        Condition: { StringEquals: { 'ci.example.test:aud': 'berth' }, StringLike: { 'ci.example.test:sub': 'repo:acme/*' } },
      },
    ],
  }),
  'resource',
);

const ask = (arn: string, context: Record<string, string>) =>
  evaluate(
    { principal: { arn, accountId: '111122223333', type: 'web-identity' }, action: 'sts:AssumeRoleWithWebIdentity', resource: 'arn:aws:iam::111122223333:role/ci', context },
    { identity: [], resource: trust },
  ).decision;

describe('web-identity callers (Federated principals)', () => {
  it('match the provider they came from, under the trust policy conditions', () => {
    expect(ask(provider, { 'ci.example.test:aud': 'berth', 'ci.example.test:sub': 'repo:acme/app' })).toBe('Allow');
  });
  it('are refused for another audience, subject or provider', () => {
    expect(ask(provider, { 'ci.example.test:aud': 'other', 'ci.example.test:sub': 'repo:acme/app' })).toBe('ImplicitDeny');
    expect(ask(provider, { 'ci.example.test:aud': 'berth', 'ci.example.test:sub': 'repo:evil/app' })).toBe('ImplicitDeny');
    expect(ask('arn:aws:iam::111122223333:oidc-provider/other.test', { 'ci.example.test:aud': 'berth', 'ci.example.test:sub': 'repo:acme/app' })).toBe('ImplicitDeny');
  });
  it('are not matched by AWS principals naming the account', () => {
    const byAccount = parsePolicy(JSON.stringify({ Version: '2012-10-17', Statement: [{ Effect: 'Allow', Principal: { AWS: '111122223333' }, Action: 'sts:*' }] }), 'resource');
    const d = evaluate(
      { principal: { arn: provider, accountId: '111122223333', type: 'web-identity' }, action: 'sts:AssumeRoleWithWebIdentity', resource: 'arn:aws:iam::111122223333:role/ci', context: {} },
      { identity: [], resource: byAccount },
    );
    expect(d.decision).toBe('ImplicitDeny');
  });
});

describe('anonymous callers', () => {
  const policy = (principal: unknown, condition?: unknown) =>
    parsePolicy(JSON.stringify({ Version: '2012-10-17', Statement: [{ Effect: 'Allow', Principal: principal, Action: 'ecr:BatchGetImage', ...(condition ? { Condition: condition } : {}) }] }), 'resource');
  const ask = (resource: ReturnType<typeof policy>) =>
    evaluate(
      { principal: { arn: 'anonymous', accountId: '111122223333', type: 'anonymous' }, action: 'ecr:BatchGetImage', resource: 'arn:aws:ecr:us-east-1:111122223333:repository/pub', context: {} },
      { identity: [], resource },
    ).decision;
  it('are allowed only by a Principal of everyone', () => {
    expect(ask(policy('*'))).toBe('Allow');
    expect(ask(policy({ AWS: '*' }))).toBe('Allow');
    expect(ask(policy({ AWS: '111122223333' }))).toBe('ImplicitDeny');
    expect(ask(policy({ AWS: 'arn:aws:iam::111122223333:root' }))).toBe('ImplicitDeny');
  });
  it('have no principal account for conditions to match', () => {
    expect(ask(policy('*', { StringEquals: { 'aws:PrincipalAccount': '111122223333' } }))).toBe('ImplicitDeny');
  });
});
