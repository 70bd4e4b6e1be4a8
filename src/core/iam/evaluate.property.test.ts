/** Property tests: adding Deny statements can only take permissions away; adding Allows can only add them. */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { evaluate, type PolicySet } from './evaluate.js';
import { parsePolicy } from './policy.js';
import type { AuthzRequest, RequestPrincipal } from './types.js';

const A = '111111111111';
const B = '222222222222';
const principals: RequestPrincipal[] = [
  { arn: `arn:aws:iam::${A}:user/alice`, accountId: A, type: 'user', userName: 'alice' },
  { arn: `arn:aws:iam::${A}:root`, accountId: A, type: 'root' },
  { arn: `arn:aws:sts::${A}:assumed-role/deployer/s1`, accountId: A, type: 'assumed-role' },
  { arn: `arn:aws:iam::${B}:user/bob`, accountId: B, type: 'user', userName: 'bob' },
  { arn: 'replication.ecr.amazonaws.com', accountId: '', type: 'service' },
];
const actions = ['ecr:BatchGetImage', 'ecr:PutImage', 'ecr:DeleteRepository', 'ecr:GetAuthorizationToken'];
const resources = [`arn:aws:ecr:us-east-1:${A}:repository/app`, `arn:aws:ecr:us-east-1:${A}:repository/alice/x`, `arn:aws:ecr:us-east-1:${B}:repository/app`, '*'];
const contexts = [{}, { 'aws:SourceIp': '10.1.2.3' }, { 'aws:SourceIp': '192.0.2.1', 'aws:TagKeys': ['team-a', 'x'] }, { 'aws:TagKeys': [] }];

const actionPattern = fc.constantFrom('*', 'ecr:*', 'ecr:Batch*', 'ecr:PutImage', 'ecr:?etAuthorizationToken', 'ECR:deleterepository');
const resourcePattern = fc.constantFrom(
  '*', `arn:aws:ecr:*:${A}:repository/*`, 'arn:aws:ecr:*:*:repository/app', 'arn:aws:ecr:*:*:repository/${aws:username}/*', `arn:aws:ecr:us-east-1:${B}:*`,
);
const condition = fc.constantFrom<object | undefined>(
  undefined,
  { IpAddress: { 'aws:SourceIp': '10.0.0.0/8' } },
  { NotIpAddress: { 'aws:SourceIp': '10.0.0.0/8' } },
  { 'ForAllValues:StringLike': { 'aws:TagKeys': 'team-*' } },
  { 'ForAnyValue:StringEquals': { 'aws:TagKeys': 'x' } },
  { StringEqualsIfExists: { 'aws:username': 'alice' } },
  { Null: { 'aws:username': 'true' } },
);
const principal = fc.constantFrom<unknown>('*', { AWS: A }, { AWS: `arn:aws:iam::${A}:user/alice` }, { AWS: B }, { AWS: `arn:aws:iam::${A}:role/deployer` }, {
  Service: 'replication.ecr.amazonaws.com',
});

const body = fc.record({ not: fc.boolean(), action: fc.array(actionPattern, { minLength: 1, maxLength: 2 }), notResource: fc.boolean(), resource: fc.array(resourcePattern, { minLength: 1, maxLength: 2 }), condition });
type Body = typeof body extends fc.Arbitrary<infer T> ? T : never;

function statement(effect: 'Allow' | 'Deny', b: Body, resourcePolicy: boolean, p?: { not: boolean; value: unknown }, withResource = true): object {
  const st: Record<string, unknown> = { Effect: effect, [b.not ? 'NotAction' : 'Action']: b.action };
  if (withResource) st[b.notResource ? 'NotResource' : 'Resource'] = b.resource;
  if (b.condition !== undefined) st['Condition'] = b.condition;
  if (resourcePolicy && p !== undefined) st[p.not ? 'NotPrincipal' : 'Principal'] = p.value;
  return st;
}

const principalElement = fc.record({ not: fc.boolean(), value: principal });
const identityStatement = (effect: fc.Arbitrary<'Allow' | 'Deny'>): fc.Arbitrary<object> =>
  fc.tuple(effect, body).map(([e, b]) => statement(e, b, false));
const resourceStatement = (effect: fc.Arbitrary<'Allow' | 'Deny'>): fc.Arbitrary<object> =>
  fc.tuple(effect, body, principalElement, fc.boolean()).map(([e, b, p, withResource]) => statement(e, b, true, p, withResource));
const anyEffect = fc.constantFrom<'Allow' | 'Deny'>('Allow', 'Deny');

interface Docs { identity: object[][]; resource: object[]; registry: object[] }
const docs: fc.Arbitrary<Docs> = fc.record({
  identity: fc.array(fc.array(identityStatement(anyEffect), { minLength: 1, maxLength: 3 }), { maxLength: 2 }),
  resource: fc.array(resourceStatement(anyEffect), { maxLength: 3 }),
  registry: fc.array(resourceStatement(anyEffect), { maxLength: 2 }),
});
const request: fc.Arbitrary<AuthzRequest> = fc
  .record({ principal: fc.constantFrom(...principals), action: fc.constantFrom(...actions), resource: fc.constantFrom(...resources), context: fc.constantFrom(...contexts) })
  .map((r) => r);

function build(d: Docs): PolicySet {
  const parse = (Statement: object[], kind: 'identity' | 'resource') => parsePolicy(JSON.stringify({ Version: '2012-10-17', Statement }), kind);
  return {
    identity: d.identity.map((s) => parse(s, 'identity')),
    ...(d.resource.length > 0 ? { resource: parse(d.resource, 'resource') } : {}),
    ...(d.registry.length > 0 ? { registry: parse(d.registry, 'resource') } : {}),
  };
}

/** Adds `st` to the identity policies (as a new policy or to the first), the repository policy or the registry policy. */
const where = fc.constantFrom('new-identity', 'first-identity', 'resource', 'registry');
function add(d: Docs, place: string, identitySt: object, resourceSt: object): Docs {
  switch (place) {
    case 'new-identity': return { ...d, identity: [...d.identity, [identitySt]] };
    case 'first-identity': return d.identity.length === 0 ? { ...d, identity: [[identitySt]] } : { ...d, identity: [[...(d.identity[0] ?? []), identitySt], ...d.identity.slice(1)] };
    case 'resource': return { ...d, resource: [...d.resource, resourceSt] };
    default: return { ...d, registry: [...d.registry, resourceSt] };
  }
}

describe('evaluation is monotonic', () => {
  it('adding any Deny statement never turns a denial into an Allow', () => {
    fc.assert(
      fc.property(docs, request, where, identityStatement(fc.constant('Deny')), resourceStatement(fc.constant('Deny')), (d, r, place, di, dr) => {
        const before = evaluate(r, build(d)).decision;
        const after = evaluate(r, build(add(d, place, di, dr))).decision;
        if (before !== 'Allow') expect(after).not.toBe('Allow');
        if (before === 'ExplicitDeny') expect(after).toBe('ExplicitDeny');
      }),
      { numRuns: 1000 },
    );
  });

  it('adding a Deny that matches the request always gives ExplicitDeny', () => {
    const matching = { Effect: 'Deny', Action: '*', Resource: '*' };
    fc.assert(
      fc.property(docs, request, where, (d, r, place) => {
        const after = evaluate(r, build(add(d, place, matching, { ...matching, Principal: '*' })));
        expect(after.decision).toBe('ExplicitDeny');
      }),
      { numRuns: 300 },
    );
  });

  it('adding an Allow statement never takes an Allow away and never lifts an explicit Deny', () => {
    fc.assert(
      fc.property(docs, request, where, identityStatement(fc.constant('Allow')), resourceStatement(fc.constant('Allow')), (d, r, place, ai, ar) => {
        const before = evaluate(r, build(d)).decision;
        const after = evaluate(r, build(add(d, place, ai, ar))).decision;
        if (before === 'Allow') expect(after).toBe('Allow');
        if (before === 'ExplicitDeny') expect(after).toBe('ExplicitDeny');
      }),
      { numRuns: 1000 },
    );
  });
});
