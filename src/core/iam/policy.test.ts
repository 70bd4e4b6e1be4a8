import { describe, expect, it } from 'vitest';
import { isBerthError } from '../errors.js';
import { ECR_POLICY_MAX_LENGTH, parsePolicy } from './policy.js';
import type { PolicyKind } from './types.js';

const allowAll = { Effect: 'Allow', Action: 'ecr:*', Resource: '*' };
const pullFromAnyone = { Effect: 'Allow', Principal: '*', Action: 'ecr:BatchGetImage' };

function errorOf(doc: unknown, kind: PolicyKind = 'identity'): string {
  try {
    parsePolicy(typeof doc === 'string' ? doc : JSON.stringify(doc), kind);
  } catch (err) {
    if (!isBerthError(err, 'INVALID_PARAMETER')) throw err;
    return err.message;
  }
  throw new Error('expected the policy to be refused');
}

describe('parsePolicy: accepted documents', () => {
  it('parses a full identity policy', () => {
    const p = parsePolicy(
      JSON.stringify({
        Version: '2012-10-17',
        Id: 'ci',
        Statement: [
          { Sid: 'Push', ...allowAll, Condition: { StringEquals: { 'aws:username': ['ci', 'bot'] }, Bool: { 'aws:SecureTransport': true } } },
          { Effect: 'Deny', NotAction: ['ecr:Get*', 'ecr:Describe*'], NotResource: 'arn:aws:ecr:*:*:repository/app-*' },
        ],
      }),
      'identity',
    );
    expect(p).toMatchObject({ kind: 'identity', version: '2012-10-17', id: 'ci' });
    expect(p.statements[0]).toMatchObject({ index: 0, sid: 'Push', effect: 'Allow', action: { not: false, patterns: ['ecr:*'] } });
    expect(p.statements[0]?.conditions).toEqual([
      { operator: 'StringEquals', base: 'StringEquals', ifExists: false, key: 'aws:username', values: ['ci', 'bot'] },
      { operator: 'Bool', base: 'Bool', ifExists: false, key: 'aws:SecureTransport', values: ['true'] },
    ]);
    expect(p.statements[1]).toMatchObject({ action: { not: true }, resource: { not: true, patterns: ['arn:aws:ecr:*:*:repository/app-*'] } });
  });

  it('accepts a single Statement object and defaults Version to 2008-10-17', () => {
    const p = parsePolicy(JSON.stringify({ Statement: allowAll }), 'identity');
    expect(p.version).toBe('2008-10-17');
    expect(p.statements).toHaveLength(1);
    expect(p.id).toBeUndefined();
  });

  it('normalizes account ids in Principal to the root ARN and keeps other principal types', () => {
    const p = parsePolicy(
      JSON.stringify({
        Statement: {
          ...pullFromAnyone,
          Principal: { AWS: ['123456789012', 'arn:aws:iam::210987654321:role/ci/deployer', '*'], Service: 'replication.ecr.amazonaws.com' },
        },
      }),
      'resource',
    );
    expect(p.statements[0]?.principal).toEqual({
      not: false,
      spec: {
        AWS: ['arn:aws:iam::123456789012:root', 'arn:aws:iam::210987654321:role/ci/deployer', '*'],
        Service: ['replication.ecr.amazonaws.com'],
      },
    });
    expect(p.statements[0]?.resource).toBeUndefined();
  });

  it('parses set prefixes and IfExists', () => {
    const p = parsePolicy(
      JSON.stringify({ Statement: { ...allowAll, Condition: { 'ForAllValues:StringLikeIfExists': { 'aws:TagKeys': 'team-*' } } } }),
      'identity',
    );
    expect(p.statements[0]?.conditions[0]).toMatchObject({ base: 'StringLike', set: 'ForAllValues', ifExists: true });
  });

  it('accepts resource-policy Sids with spaces, and numbers and booleans as condition values', () => {
    const p = parsePolicy(
      JSON.stringify({ Statement: { Sid: 'allow pull', ...pullFromAnyone, Condition: { NumericLessThan: { 'ecr:n': 5 } } } }),
      'resource',
    );
    expect(p.statements[0]?.conditions[0]?.values).toEqual(['5']);
  });

  it('counts the size limit in code points and accepts exactly the limit', () => {
    const base = JSON.stringify({ Statement: allowAll, Id: '' });
    const pad = ECR_POLICY_MAX_LENGTH - base.length;
    const text = JSON.stringify({ Statement: allowAll, Id: 'x'.repeat(pad) });
    expect(text.length).toBe(ECR_POLICY_MAX_LENGTH);
    expect(() => parsePolicy(text, 'identity')).not.toThrow();
    expect(() => parsePolicy(JSON.stringify({ Statement: allowAll, Id: '😀'.repeat(100) }), 'identity', { maxLength: 180 })).not.toThrow();
  });
});

describe('parsePolicy: errors say what and where', () => {
  it.each<[string, unknown, string, PolicyKind?]>([
    ['not JSON', '{"Statement": ', 'policy: not valid JSON'],
    ['not an object', '[]', 'policy: must be a JSON object'],
    ['unknown top-level key', { Statement: allowAll, Foo: 1 }, 'Foo: unknown policy element'],
    ['case-different top-level key', { statement: allowAll }, 'statement: unknown policy element (did you mean "Statement"?)'],
    ['bad Version', { Version: '2012-10-18', Statement: allowAll }, 'Version: must be "2012-10-17" or "2008-10-17"'],
    ['non-string Id', { Id: 3, Statement: allowAll }, 'Id: must be a string'],
    ['missing Statement', { Version: '2012-10-17' }, 'Statement: is required'],
    ['empty Statement', { Statement: [] }, 'Statement: must contain at least one statement'],
    ['non-object statement', { Statement: ['x'] }, 'Statement[0]: must be an object'],
    ['unknown statement key', { Statement: [allowAll, { ...allowAll, Effects: 'Allow' }] }, 'Statement[1].Effects: unknown statement element'],
    ['bad Effect', { Statement: [allowAll, { ...allowAll, Effect: 'allow' }] }, 'Statement[1].Effect: must be "Allow" or "Deny"'],
    ['missing Effect', { Statement: { Action: '*', Resource: '*' } }, 'Statement[0].Effect: is required'],
    ['non-string Sid', { Statement: { ...allowAll, Sid: 1 } }, 'Statement[0].Sid: must be a string'],
    ['identity Sid with spaces', { Statement: { ...allowAll, Sid: 'a b' } }, 'Statement[0].Sid: must contain only letters and digits'],
    ['duplicate Sid', { Statement: [{ ...allowAll, Sid: 'A' }, { ...allowAll, Sid: 'A' }] }, 'Statement[1].Sid: duplicate Sid "A" (also Statement[0])'],
    ['Principal in identity policy', { Statement: { ...allowAll, Principal: '*' } }, 'Statement[0].Principal: is not allowed in an identity policy'],
    ['NotPrincipal in identity policy', { Statement: { ...allowAll, NotPrincipal: '*' } }, 'Statement[0].NotPrincipal: is not allowed'],
    ['no Principal in resource policy', { Statement: allowAll }, 'Statement[0]: exactly one of Principal or NotPrincipal is required', 'resource'],
    ['both Principal and NotPrincipal', { Statement: { ...pullFromAnyone, NotPrincipal: '*' } }, 'Statement[0]: Principal and NotPrincipal cannot both be present', 'resource'],
    ['Principal string other than *', { Statement: { ...pullFromAnyone, Principal: 'bob' } }, 'Statement[0].Principal: must be "*" or an object', 'resource'],
    ['empty Principal object', { Statement: { ...pullFromAnyone, Principal: {} } }, 'Statement[0].Principal: must name at least one principal', 'resource'],
    ['unknown principal type', { Statement: { ...pullFromAnyone, Principal: { User: 'x' } } }, 'Statement[0].Principal.User: unknown principal type', 'resource'],
    ['bad AWS principal', { Statement: { ...pullFromAnyone, Principal: { AWS: ['*', 'bob'] } } }, 'Statement[0].Principal.AWS[1]: "bob" is not "*", a 12-digit account id', 'resource'],
    ['group as principal', { Statement: { ...pullFromAnyone, Principal: { AWS: 'arn:aws:iam::123456789012:group/devs' } } }, 'Statement[0].Principal.AWS: "arn:aws:iam::123456789012:group/devs" is not', 'resource'],
    ['wildcard principal ARN', { Statement: { ...pullFromAnyone, NotPrincipal: { AWS: 'arn:aws:iam::123456789012:user/*' }, Principal: undefined } }, 'Statement[0].NotPrincipal.AWS: wildcards are not allowed in principals', 'resource'],
    ['empty principal list', { Statement: { ...pullFromAnyone, Principal: { Service: [] } } }, 'Statement[0].Principal.Service: must be a string or a non-empty array of strings', 'resource'],
    ['missing Action', { Statement: { Effect: 'Allow', Resource: '*' } }, 'Statement[0]: exactly one of Action or NotAction is required'],
    ['both Action and NotAction', { Statement: { ...allowAll, NotAction: 'ecr:*' } }, 'Statement[0]: Action and NotAction cannot both be present'],
    ['bad action', { Statement: { ...allowAll, Action: ['ecr:Get*', 'ecr'] } }, 'Statement[0].Action[1]: "ecr" is not a valid action'],
    ['empty action list', { Statement: { ...allowAll, Action: [] } }, 'Statement[0].Action: must be a string or a non-empty array of strings'],
    ['non-string action', { Statement: { Effect: 'Deny', NotAction: [1], Resource: '*' } }, 'Statement[0].NotAction[0]: must be a string'],
    ['missing Resource in identity policy', { Statement: { Effect: 'Allow', Action: '*' } }, 'Statement[0]: exactly one of Resource or NotResource is required'],
    ['bad resource', { Statement: { ...allowAll, Resource: 'repository/app' } }, 'Statement[0].Resource: "repository/app" is not "*" or an ARN'],
    ['short ARN', { Statement: { Effect: 'Deny', Action: '*', NotResource: ['arn:aws:ecr:*'] } }, 'Statement[0].NotResource[0]: "arn:aws:ecr:*" is not "*" or an ARN'],
    ['malformed variable', { Version: '2012-10-17', Statement: { ...allowAll, Resource: 'arn:aws:ecr:*:*:repository/${aws:username' } }, 'Statement[0].Resource: malformed policy variable at offset 27: expected "}"'],
    ['unquoted default', { Version: '2012-10-17', Statement: { ...allowAll, Resource: 'arn:aws:ecr:*:*:repository/${aws:username, x}' } }, 'default value must be in single quotes'],
    ['Condition not an object', { Statement: { ...allowAll, Condition: [] } }, 'Statement[0].Condition: must be an object'],
    ['unknown operator', { Statement: { ...allowAll, Condition: { StringEqualz: { 'aws:username': 'x' } } } }, 'Statement[0].Condition.StringEqualz: unknown condition operator'],
    ['unknown set prefix', { Statement: { ...allowAll, Condition: { 'ForSomeValues:StringEquals': { 'aws:x': 'x' } } } }, 'Statement[0].Condition.ForSomeValues:StringEquals: unknown condition operator'],
    ['NullIfExists', { Statement: { ...allowAll, Condition: { NullIfExists: { 'aws:x': 'true' } } } }, 'Statement[0].Condition.NullIfExists: IfExists cannot be used with Null'],
    ['ForAnyValue:Null', { Statement: { ...allowAll, Condition: { 'ForAnyValue:Null': { 'aws:x': 'true' } } } }, 'ForAnyValue:Null: ForAnyValue cannot be used with Null'],
    ['operator block not an object', { Statement: { ...allowAll, Condition: { StringEquals: 'x' } } }, 'Statement[0].Condition.StringEquals: must be a non-empty object'],
    ['key without service prefix', { Statement: { ...allowAll, Condition: { StringEquals: { username: 'x' } } } }, 'Statement[0].Condition.StringEquals.username: condition keys have the form "service:key"'],
    ['duplicate key differing in case', { Statement: { ...allowAll, Condition: { StringEquals: { 'aws:UserName': 'x', 'aws:username': 'y' } } } }, 'Statement[0].Condition.StringEquals.aws:username: duplicate condition key'],
    ['empty value list', { Statement: { ...allowAll, Condition: { StringEquals: { 'aws:x': [] } } } }, 'StringEquals.aws:x: must be a string, number, boolean or a non-empty array of them'],
    ['object value', { Statement: { ...allowAll, Condition: { StringEquals: { 'aws:x': [{}] } } } }, 'StringEquals.aws:x[0]: must be a string, number or boolean'],
    ['bad number', { Statement: { ...allowAll, Condition: { NumericLessThan: { 'ecr:n': ['1', 'abc'] } } } }, 'Statement[0].Condition.NumericLessThan.ecr:n[1]: "abc" is not a number'],
    ['bad date', { Statement: { ...allowAll, Condition: { DateLessThan: { 'aws:CurrentTime': 'March 7' } } } }, 'DateLessThan.aws:CurrentTime: "March 7" is not an ISO 8601 date'],
    ['impossible date', { Statement: { ...allowAll, Condition: { DateLessThan: { 'aws:CurrentTime': '2024-02-30' } } } }, '"2024-02-30" is not an ISO 8601 date'],
    ['bad bool', { Statement: { ...allowAll, Condition: { Bool: { 'aws:SecureTransport': 'yes' } } } }, 'Bool.aws:SecureTransport: "yes" is not "true" or "false"'],
    ['bad Null value', { Statement: { ...allowAll, Condition: { Null: { 'aws:x': 'maybe' } } } }, 'Null.aws:x: "maybe" is not "true" or "false"'],
    ['bad base64', { Statement: { ...allowAll, Condition: { BinaryEquals: { 'aws:x': 'abc' } } } }, 'BinaryEquals.aws:x: "abc" is not base64'],
    ['bad CIDR', { Statement: { ...allowAll, Condition: { IpAddress: { 'aws:SourceIp': '10.0.0.0/33' } } } }, 'IpAddress.aws:SourceIp: "10.0.0.0/33" is not an IPv4 or IPv6 address or CIDR block'],
    ['bad IPv6', { Statement: { ...allowAll, Condition: { NotIpAddress: { 'aws:SourceIp': '2001:db8::1::/64' } } } }, 'is not an IPv4 or IPv6 address'],
    ['malformed variable in condition', { Version: '2012-10-17', Statement: { ...allowAll, Condition: { StringLike: { 'aws:x': '${}' } } } }, 'StringLike.aws:x: malformed policy variable at offset 0'],
  ])('%s', (_name, doc, message, kind) => {
    expect(errorOf(doc, kind)).toContain(message);
  });

  it('refuses text over the size limit, counting code points', () => {
    const text = JSON.stringify({ Statement: allowAll, Id: 'x'.repeat(ECR_POLICY_MAX_LENGTH) });
    expect(errorOf(text)).toBe(`policy: ${text.length} characters is more than the limit of ${ECR_POLICY_MAX_LENGTH}`);
    expect(() => parsePolicy(JSON.stringify({ Statement: allowAll, Id: '😀'.repeat(100) }), 'identity', { maxLength: 120 })).toThrow(
      /more than the limit of 120/,
    );
  });

  it('in a 2008 policy, ${...} is literal text and not checked', () => {
    expect(() => parsePolicy(JSON.stringify({ Statement: { ...allowAll, Resource: 'arn:aws:ecr:*:*:repository/${x' } }), 'identity')).not.toThrow();
  });

  it('carries the path in the error detail', () => {
    try {
      parsePolicy(JSON.stringify({ Statement: [allowAll, { ...allowAll, Effect: 'Maybe' }] }), 'identity');
    } catch (err) {
      expect(isBerthError(err) && err.detail).toEqual({ path: 'Statement[1].Effect' });
    }
  });
});
