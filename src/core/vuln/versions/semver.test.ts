import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { describeComparatorLaws } from './comparator-laws.test-support.js';
import { compare, isValid } from './semver.js';

type Op = '<' | '=' | '>';
const rel = (a: string, b: string): Op => (compare(a, b) < 0 ? '<' : compare(a, b) > 0 ? '>' : '=');
const flip: Record<Op, Op> = { '<': '>', '=': '=', '>': '<' };

// "spec §11" = https://semver.org/#spec-item-11 (its example chain is split into rows);
// "node-semver" = agrees with npm's semver package 7.x `compare` (checked when written);
// "GHSA" = bounds that occur in shared/vulndb/npm records.
const CASES: [string, Op, string, string][] = [
  ['1.0.0', '<', '2.0.0', 'spec §11: major'],
  ['2.0.0', '<', '2.1.0', 'spec §11: minor'],
  ['2.1.0', '<', '2.1.1', 'spec §11: patch'],
  ['1.0.0-alpha', '<', '1.0.0', 'spec §11: a pre-release is lower'],
  ['1.0.0-alpha', '<', '1.0.0-alpha.1', 'spec §11: more identifiers are higher'],
  ['1.0.0-alpha.1', '<', '1.0.0-alpha.beta', 'spec §11: numeric < alphanumeric'],
  ['1.0.0-alpha.beta', '<', '1.0.0-beta', 'spec §11: ASCII order'],
  ['1.0.0-beta', '<', '1.0.0-beta.2', 'spec §11'],
  ['1.0.0-beta.2', '<', '1.0.0-beta.11', 'spec §11: numeric identifiers numerically'],
  ['1.0.0-beta.11', '<', '1.0.0-rc.1', 'spec §11'],
  ['1.0.0-rc.1', '<', '1.0.0', 'spec §11'],
  ['1.0.0+build.1', '=', '1.0.0+build.2', 'spec §10: build metadata is ignored'],
  ['1.0.0-rc.1+x', '=', '1.0.0-rc.1', 'spec §10'],
  ['1.10.0', '>', '1.9.0', 'node-semver: numbers, not strings'],
  ['1.0.0-Alpha', '<', '1.0.0-alpha', 'node-semver: ASCII, uppercase first'],
  ['1.0.0-alpha-1', '>', '1.0.0-alpha', 'node-semver: hyphen inside an identifier'],
  ['8.0.0-alpha.2', '<', '8.0.0-alpha.4', 'fixture @babel/traverse aliases'],
  ['7.23.0', '<', '7.23.2', 'GHSA-67hx-6x53-jw92 (@babel/traverse fixed 7.23.2)'],
  ['1.0', '=', '1.0.0', 'GHSA-r683-j2x4-v87g bound "1.0" read leniently'],
  ['v1.2.3', '=', '1.2.3', 'lenient: leading v'],
  ['99999999999999999999.0.0', '>', '9007199254740993.0.0', 'numbers beyond 2^53 compare exactly'],
  ['not-a-version', '<', '0.0.0', 'unreadable strings sort first'],
];

describe('semver compare', () => {
  it.each(CASES)('%s %s %s (%s)', (a, op, b) => {
    expect(rel(a, b)).toBe(op);
    expect(rel(b, a)).toBe(flip[op]);
  });

  it('validates strictly', () => {
    for (const v of ['1.0.0', '1.0.0-alpha.1+build.5', '0.0.0-0', '1.2.3-x-y.z']) expect(isValid(v), v).toBe(true);
    for (const v of ['1.0', 'v1.0.0', '01.0.0', '1.0.0-01', '1.0.0-', '1.0.0+', '1.0.0-a..b']) expect(isValid(v), v).toBe(false);
  });
});

const num = fc.constantFrom('0', '1', '2', '10', '11');
const ident = fc.constantFrom('alpha', 'beta', 'rc', '0', '1', '2', '10', 'x-y', 'a1');
const version = fc
  .tuple(num, num, num, fc.array(ident, { maxLength: 3 }), fc.boolean())
  .map(([a, b, c, pre, build]) => `${a}.${b}.${c}${pre.length ? `-${pre.join('.')}` : ''}${build ? '+b.1' : ''}`);

describeComparatorLaws('semver', compare, version);
