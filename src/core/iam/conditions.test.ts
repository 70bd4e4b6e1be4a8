import { describe, expect, it } from 'vitest';
import { CONDITION_OPERATORS, conditionsHold, evaluateClause, parseOperator } from './conditions.js';
import { ContextView } from './context.js';
import { parsePolicy } from './policy.js';
import type { ContextValue, Policy } from './types.js';

type Version = '2012-10-17' | '2008-10-17';

function policyWith(condition: Record<string, unknown>, version: Version = '2012-10-17'): Policy {
  const doc = { Version: version, Statement: { Effect: 'Allow', Action: '*', Resource: '*', Condition: condition } };
  return parsePolicy(JSON.stringify(doc), 'identity');
}

function holds(condition: Record<string, unknown>, context: Record<string, ContextValue>, version: Version = '2012-10-17'): boolean {
  const p = policyWith(condition, version);
  return conditionsHold(p.statements[0]?.conditions ?? [], new ContextView(context), p.version);
}

/** operator, policy value(s), context value (undefined = key absent), expected. */
type Row = [string, unknown, ContextValue | undefined, boolean];

function table(rows: Row[]): void {
  it.each(rows)('%s %j vs %j -> %s', (operator, value, ctx, expected) => {
    const context: Record<string, ContextValue> = ctx === undefined ? {} : { 'test:key': ctx };
    expect(holds({ [operator]: { 'test:key': value } }, context)).toBe(expected);
  });
}

describe('string operators', () => {
  table([
    ['StringEquals', 'prod', 'prod', true],
    ['StringEquals', 'prod', 'Prod', false],
    ['StringEquals', ['dev', 'prod'], 'prod', true],
    ['StringEquals', '5', 5, true],
    ['StringEquals', 'true', true, true],
    ['StringNotEquals', ['dev', 'prod'], 'prod', false],
    ['StringNotEquals', ['dev', 'prod'], 'test', true],
    ['StringEqualsIgnoreCase', 'Prod', 'PROD', true],
    ['StringEqualsIgnoreCase', 'prod', 'dev', false],
    ['StringNotEqualsIgnoreCase', 'Prod', 'pROD', false],
    ['StringNotEqualsIgnoreCase', 'prod', 'dev', true],
    ['StringLike', 'app-*', 'app-web', true],
    ['StringLike', 'app-*', 'app-', true],
    ['StringLike', 'ap?-web', 'app-web', true],
    ['StringLike', 'ap?-web', 'ap-web', false],
    ['StringLike', 'app-*', 'App-web', false],
    ['StringLike', ['web', 'app/*/x'], 'app/a/b/x', true],
    ['StringNotLike', 'app-*', 'app-x', false],
    ['StringNotLike', ['app-*', 'lib-*'], 'web', true],
  ]);
});

describe('numeric operators', () => {
  table([
    ['NumericEquals', '10', '10.0', true],
    ['NumericEquals', 10, 11, false],
    ['NumericEquals', '1e3', 1000, true],
    ['NumericNotEquals', '10', 10, false],
    ['NumericNotEquals', '10', 11, true],
    ['NumericLessThan', '10', 9, true],
    ['NumericLessThan', '10', 10, false],
    ['NumericLessThanEquals', '10', 10, true],
    ['NumericLessThanEquals', '10', 10.5, false],
    ['NumericGreaterThan', '10', 11, true],
    ['NumericGreaterThan', '10', 10, false],
    ['NumericGreaterThanEquals', '-1.5', -1.5, true],
    ['NumericGreaterThanEquals', '10', '9', false],
    ['NumericLessThan', '10', 'abc', false],
    ['NumericNotEquals', '10', 'abc', false],
    ['NumericEquals', '1', true, false],
  ]);
});

describe('date operators', () => {
  const newYear = new Date('2025-01-01T00:00:00Z');
  table([
    ['DateEquals', '2025-01-01', newYear, true],
    ['DateEquals', '2025-01-01T01:00:00+01:00', '2025-01-01T00:00:00Z', true],
    ['DateEquals', '1735689600', newYear, true],
    ['DateEquals', '2025-01-01T00:00:00Z', 1735689600, true],
    ['DateEquals', '2025-01-01', '2025-01-02', false],
    ['DateNotEquals', '2025-01-01', newYear, false],
    ['DateNotEquals', '2025-01-01', '2024-06-01T12:00:00.250Z', true],
    ['DateLessThan', '2025-01-01T00:00:00Z', new Date('2024-12-31T23:59:59Z'), true],
    ['DateLessThan', '2025-01-01T00:00:00Z', newYear, false],
    ['DateLessThanEquals', '2025-01-01T00:00:00Z', newYear, true],
    ['DateLessThanEquals', '2025-01-01', '2025-01-01T00:00:01Z', false],
    ['DateGreaterThan', '2025-01-01', '2025-01-01T00:00:01Z', true],
    ['DateGreaterThan', '2025-01-01', newYear, false],
    ['DateGreaterThanEquals', '2025-01-01', newYear, true],
    ['DateGreaterThanEquals', '2025-01-01', '2024-12-31', false],
    ['DateLessThan', '2025-01-01', 'yesterday', false],
    ['DateNotEquals', '2025-01-01', new Date(Number.NaN), false],
  ]);
});

describe('Bool, BinaryEquals', () => {
  table([
    ['Bool', 'true', true, true],
    ['Bool', 'true', 'TRUE', true],
    ['Bool', true, 'false', false],
    ['Bool', 'false', false, true],
    ['Bool', 'true', 'yes', false],
    ['Bool', 'true', 1, false],
    ['BinaryEquals', 'QmVydGg=', 'QmVydGg=', true],
    ['BinaryEquals', 'QmVydGg=', 'QmVydGk=', false],
    ['BinaryEquals', 'QmVydGg=', 'not base64!', false],
  ]);
});

describe('IpAddress, NotIpAddress', () => {
  table([
    ['IpAddress', '203.0.113.0/24', '203.0.113.7', true],
    ['IpAddress', '203.0.113.0/24', '203.0.114.1', false],
    ['IpAddress', '203.0.113.9/24', '203.0.113.200', true],
    ['IpAddress', '10.1.2.3', '10.1.2.3', true],
    ['IpAddress', '10.1.2.3', '10.1.2.4', false],
    ['IpAddress', '0.0.0.0/0', '198.51.100.1', true],
    ['IpAddress', ['10.0.0.0/8', '2001:db8::/32'], '2001:db8:1::5', true],
    ['IpAddress', '2001:db8::/32', '2001:db9::1', false],
    ['IpAddress', '2001:db8::/32', '203.0.113.7', false],
    ['IpAddress', '203.0.113.0/24', '::ffff:203.0.113.7', true],
    ['IpAddress', '::/0', '::1', true],
    ['IpAddress', '::1/128', '0:0:0:0:0:0:0:1', true],
    ['IpAddress', '64:ff9b::/96', '64:ff9b::192.0.2.33', true],
    ['IpAddress', '10.0.0.0/8', 'not-an-ip', false],
    ['NotIpAddress', ['10.0.0.0/8', '192.168.0.0/16'], '10.2.3.4', false],
    ['NotIpAddress', ['10.0.0.0/8', '192.168.0.0/16'], '8.8.8.8', true],
    ['NotIpAddress', '10.0.0.0/8', 'not-an-ip', false],
  ]);
});

describe('ARN operators', () => {
  const role = 'arn:aws:iam::123456789012:role/ci-deploy';
  table([
    ['ArnLike', 'arn:aws:iam::*:role/ci-*', role, true],
    ['ArnEquals', 'arn:aws:iam::*:role/ci-*', role, true],
    ['ArnEquals', role, role, true],
    ['ArnLike', 'arn:aws:iam::123456789012:role/CI-deploy', role, false],
    ['ArnLike', 'arn:aws:ecr:*:123456789012:repository/*', 'arn:aws:ecr:us-east-1:123456789012:repository/a/b', true],
    ['ArnLike', 'arn:aws:ecr:us-east-1:*:repository/app', 'arn:aws:ecr:us-east-1:123:456:repository/app', false],
    ['StringLike', 'arn:aws:ecr:us-east-1:*:repository/app', 'arn:aws:ecr:us-east-1:123:456:repository/app', true],
    ['ArnLike', '*', role, true],
    ['ArnLike', 'arn:aws:iam::*:role/*', 'not-an-arn', false],
    ['ArnNotLike', 'arn:aws:iam::*:role/ci-*', role, false],
    ['ArnNotLike', 'arn:aws:iam::*:role/admin', role, true],
    ['ArnNotEquals', role, role, false],
    ['ArnNotEquals', role, 'arn:aws:iam::123456789012:role/other', true],
    ['ArnNotLike', 'arn:aws:iam::*:role/*', 'not-an-arn', false],
  ]);
});

describe('Null', () => {
  table([
    ['Null', 'true', undefined, true],
    ['Null', 'true', 'x', false],
    ['Null', 'false', 'x', true],
    ['Null', false, undefined, false],
    ['Null', 'true', [], true],
    ['Null', ['true', 'false'], 'x', true],
  ]);
});

describe('keys, values and combination', () => {
  it('matches key names case-insensitively and values case-sensitively', () => {
    expect(holds({ StringEquals: { 'AWS:UserName': 'alice' } }, { 'aws:username': 'alice' })).toBe(true);
    expect(holds({ StringEquals: { 'aws:username': 'alice' } }, { 'AWS:USERNAME': 'Alice' })).toBe(false);
  });

  it('ANDs keys within an operator and operators within a Condition', () => {
    const cond = { StringEquals: { 'test:a': '1', 'test:b': '2' }, Bool: { 'aws:SecureTransport': 'true' } };
    expect(holds(cond, { 'test:a': '1', 'test:b': '2', 'aws:SecureTransport': true })).toBe(true);
    expect(holds(cond, { 'test:a': '1', 'test:b': '3', 'aws:SecureTransport': true })).toBe(false);
    expect(holds(cond, { 'test:a': '1', 'test:b': '2', 'aws:SecureTransport': false })).toBe(false);
  });

  it('treats an empty Condition as always true', () => {
    expect(conditionsHold([], new ContextView({}), '2012-10-17')).toBe(true);
  });

  it('evaluates a single clause directly', () => {
    const clause = policyWith({ StringLike: { 'test:k': 'a*' } }).statements[0]?.conditions[0];
    expect(clause && evaluateClause(clause, new ContextView({ 'test:k': 'abc' }), '2012-10-17')).toBe(true);
  });
});

describe('policy variables in condition values', () => {
  const cond = { StringLike: { 'ecr:repo': 'home/${aws:username}/*' } };
  it('substitutes from the context with Version 2012-10-17', () => {
    expect(holds(cond, { 'aws:username': 'alice', 'ecr:repo': 'home/alice/app' })).toBe(true);
    expect(holds(cond, { 'aws:username': 'alice', 'ecr:repo': 'home/bob/app' })).toBe(false);
  });

  it('leaves ${...} literal with Version 2008-10-17', () => {
    expect(holds(cond, { 'aws:username': 'alice', 'ecr:repo': 'home/alice/app' }, '2008-10-17')).toBe(false);
    expect(holds(cond, { 'ecr:repo': 'home/${aws:username}/app' }, '2008-10-17')).toBe(true);
  });

  it('an unresolved variable matches nothing (so the negated operator holds)', () => {
    expect(holds(cond, { 'ecr:repo': 'home/alice/app' })).toBe(false);
    expect(holds({ StringNotLike: cond.StringLike }, { 'ecr:repo': 'home/alice/app' })).toBe(true);
    expect(holds({ StringEquals: { 'ecr:repo': ['${aws:username}', 'shared'] } }, { 'ecr:repo': 'shared' })).toBe(true);
  });

  it('a multivalued key cannot be a variable; a default applies instead', () => {
    const withDefault = { StringEquals: { 'ecr:repo': "${aws:TagKeys, 'none'}" } };
    expect(holds(withDefault, { 'aws:TagKeys': ['a'], 'ecr:repo': 'a' })).toBe(false);
    expect(holds(withDefault, { 'aws:TagKeys': ['a'], 'ecr:repo': 'none' })).toBe(true);
  });

  it('substituted values are literal, ${*} is a literal star', () => {
    expect(holds(cond, { 'aws:username': '*', 'ecr:repo': 'home/bob/app' })).toBe(false);
    expect(holds(cond, { 'aws:username': '*', 'ecr:repo': 'home/*/app' })).toBe(true);
    expect(holds({ StringLike: { 'test:k': 'a${*}' } }, { 'test:k': 'a*' })).toBe(true);
    expect(holds({ StringLike: { 'test:k': 'a${*}' } }, { 'test:k': 'ab' })).toBe(false);
    expect(holds({ StringEquals: { 'test:k': '${$}{x}${?}' } }, { 'test:k': '${x}?' })).toBe(true);
  });

  it('substitutes in Bool and Arn values but not in Numeric, Date, IP or Binary values', () => {
    expect(holds({ ArnEquals: { 'aws:SourceArn': 'arn:aws:iam::${aws:PrincipalAccount}:role/x' } }, {
      'aws:PrincipalAccount': '123456789012', 'aws:SourceArn': 'arn:aws:iam::123456789012:role/x',
    })).toBe(true);
    expect(holds({ Bool: { 'test:flag': '${test:expected}' } }, { 'test:expected': 'true', 'test:flag': true })).toBe(true);
    expect(() => policyWith({ NumericEquals: { 'test:n': '${test:m}' } })).toThrow(/NumericEquals\.test:n: "\$\{test:m\}" is not a number/);
    expect(() => policyWith({ IpAddress: { 'aws:SourceIp': '${aws:SourceIp}' } })).toThrow(/is not an IPv4 or IPv6/);
  });
});

describe('parseOperator', () => {
  it('knows all 27 base operators', () => {
    expect(CONDITION_OPERATORS).toHaveLength(27);
    for (const op of CONDITION_OPERATORS) expect(parseOperator(op)).toMatchObject({ base: op, ifExists: false });
  });

  it('splits prefixes and suffixes, refusing the combinations IAM refuses', () => {
    expect(parseOperator('ForAnyValue:ArnNotLikeIfExists')).toEqual({ base: 'ArnNotLike', set: 'ForAnyValue', ifExists: true });
    expect(parseOperator('stringequals')).toBe('unknown condition operator');
    expect(parseOperator('IfExists')).toBe('unknown condition operator');
    expect(parseOperator('StringEqualsIfExistsIfExists')).toBe('unknown condition operator');
    expect(parseOperator('ForAllValues:Null')).toBe('ForAllValues cannot be used with Null');
  });
});
