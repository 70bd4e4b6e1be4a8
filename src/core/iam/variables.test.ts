import { describe, expect, it } from 'vitest';
import { ContextView } from './context.js';
import { ipInNetwork, parseCidr, parseIpAddress } from './ip.js';
import { parseDate } from './values.js';
import { parseTemplate, resolvePolicyString } from './variables.js';
import { escapeGlobLiteral, matchGlob, unescapeGlob } from './wildcard.js';

const ctx = new ContextView(
  { 'aws:SourceIp': '203.0.113.7', 'aws:TagKeys': ['a', 'b'], 'test:when': new Date('2025-01-01T00:00:00Z'), 'test:n': 3, 'test:b': false },
  { arn: 'arn:aws:iam::123456789012:user/ci/alice', accountId: '123456789012', type: 'user', userName: 'alice', userId: 'AIDAEXAMPLE' },
);
const resolve = (s: string, version: '2012-10-17' | '2008-10-17' = '2012-10-17'): string | undefined =>
  resolvePolicyString(s, version, (k) => ctx.variable(k))?.text;

describe('parseTemplate', () => {
  it('splits text, escapes and variables with defaults', () => {
    expect(parseTemplate("a${*}b${ aws:username , 'it''s' }c${$}")).toEqual([
      { kind: 'text', text: 'a' },
      { kind: 'literal', text: '*' },
      { kind: 'text', text: 'b' },
      { kind: 'variable', name: 'aws:username', fallback: "it's" },
      { kind: 'text', text: 'c' },
      { kind: 'literal', text: '$' },
    ]);
    expect(parseTemplate('plain $ text')).toEqual([{ kind: 'text', text: 'plain $ text' }]);
    expect(parseTemplate("${x, '}'}")).toEqual([{ kind: 'variable', name: 'x', fallback: '}' }]);
  });

  it.each([
    ['${', 'expected a key name'],
    ['x${}', 'offset 1: expected a key name'],
    ['${a b}', 'expected "}"'],
    ['${a, b}', 'the default value must be in single quotes'],
    ["${a, 'b}", 'unterminated default value'],
    ["${a, 'b' c}", 'expected "}"'],
  ])('refuses %s', (text, message) => {
    expect(() => parseTemplate(text)).toThrow(message);
  });
});

describe('resolvePolicyString', () => {
  it('substitutes principal-derived and request keys (case-insensitive names)', () => {
    expect(resolve('${aws:username}/${AWS:USERID}/${aws:PrincipalAccount}')).toBe('alice/AIDAEXAMPLE/123456789012');
    expect(resolve('${aws:PrincipalType}:${aws:PrincipalArn}')).toBe('User:arn:aws:iam::123456789012:user/ci/alice');
    expect(resolve('${aws:SourceIp}')).toBe('203.0.113.7');
    expect(resolve('${test:when}|${test:n}|${test:b}')).toBe('2025-01-01T00:00:00.000Z|3|false');
  });

  it('uses the default for absent or multivalued keys and fails without one', () => {
    expect(resolve("${aws:TagKeys, 'none'}")).toBe('none');
    expect(resolve("${test:absent, ''}x")).toBe('x');
    expect(resolve('${test:absent}')).toBeUndefined();
    expect(resolve('${aws:TagKeys}')).toBeUndefined();
  });

  it('does one round of substitution only', () => {
    expect(resolve("${test:absent, '${aws:username}'}")).toBe('${aws:username}');
  });

  it('leaves everything literal in 2008-10-17 policies', () => {
    expect(resolve('${aws:username}', '2008-10-17')).toBe('${aws:username}');
  });

  it('produces a glob where only policy text wildcards are wildcards', () => {
    const r = resolvePolicyString('a*${?}${test:v}', '2012-10-17', () => 'x*y');
    expect(r).toEqual({ glob: 'a*\\?x\\*y', text: 'a*?x*y' });
    expect(matchGlob(r?.glob ?? '', 'abc?x*y')).toBe(true);
    expect(matchGlob(r?.glob ?? '', 'abc?xzy')).toBe(false);
  });
});

describe('wildcards', () => {
  it.each<[string, string, boolean, boolean?]>([
    ['*', 'anything at all', true],
    ['arn:aws:ecr:*:repository/app-*', 'arn:aws:ecr:us-east-1:1:repository/app-web/x', true],
    ['repository/app-?', 'repository/app-1', true],
    ['repository/app-?', 'repository/app-12', false],
    ['repository/App', 'repository/app', false],
    ['ecr:Get*', 'ECR:getdownloadurlforlayer', true, true],
    ['a.b', 'axb', false],
    ['(x)+[y]', '(x)+[y]', true],
    ['a\\b', 'a\\b', false],
  ])('%s ~ %s', (pattern, value, expected, ignoreCase) => {
    expect(matchGlob(pattern, value, ignoreCase)).toBe(expected);
  });

  it('escapes and unescapes literals', () => {
    expect(matchGlob(escapeGlobLiteral('a*?\\'), 'a*?\\')).toBe(true);
    expect(matchGlob(escapeGlobLiteral('a*'), 'ab')).toBe(false);
    expect(unescapeGlob(escapeGlobLiteral('a*?\\b'))).toBe('a*?\\b');
  });
});

describe('IP parsing', () => {
  it.each([
    ['1.2.3.4', 4], ['::', 6], ['::1', 6], ['2001:db8::', 6], ['fe80::1:2:3:4:5:6', 6],
    ['1:2:3:4:5:6:7:8', 6], ['::ffff:10.0.0.1', 4], ['64:ff9b::1.2.3.4', 6],
  ])('parses %s', (s, family) => {
    expect(parseIpAddress(s)?.family).toBe(family);
  });

  it.each(['1.2.3', '1.2.3.256', '01.2.3.4', '1:2:3:4:5:6:7:8:9', '1::2::3', ':::', 'g::1', '1:2:3:4:5:6:7::8:9', 'fe80::1%eth0', '::1.2.3'])(
    'refuses %s',
    (s) => expect(parseIpAddress(s)).toBeUndefined(),
  );

  it('parses CIDR blocks and checks membership', () => {
    const net = parseCidr('2001:db8:abcd::/48');
    expect(net).toMatchObject({ family: 6, bits: 48 });
    const inside = parseIpAddress('2001:db8:abcd:12::1');
    const outside = parseIpAddress('2001:db8:abce::1');
    expect(net && inside && ipInNetwork(inside, net)).toBe(true);
    expect(net && outside && ipInNetwork(outside, net)).toBe(false);
    expect(parseCidr('10.0.0.0/-1')).toBeUndefined();
    expect(parseCidr('::/129')).toBeUndefined();
    expect(parseCidr('10.0.0.0/')).toBeUndefined();
  });
});

describe('dates', () => {
  it.each<[string, string | undefined]>([
    ['2025-01-01', '2025-01-01T00:00:00.000Z'],
    ['2025-01-01T10:20', '2025-01-01T10:20:00.000Z'],
    ['2025-01-01T10:20:30.5+0200', '2025-01-01T08:20:30.500Z'],
    ['1735689600', '2025-01-01T00:00:00.000Z'],
    ['2025-13-01', undefined],
    ['2025-1-1', undefined],
    ['Wed, 01 Jan 2025', undefined],
  ])('%s', (s, iso) => {
    const ms = parseDate(s);
    expect(ms === undefined ? undefined : new Date(ms).toISOString()).toBe(iso);
  });
});
