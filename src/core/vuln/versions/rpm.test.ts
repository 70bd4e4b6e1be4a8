import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { describeComparatorLaws } from './comparator-laws.test-support.js';
import { compare, isValid, rpmvercmp } from './rpm.js';

type Op = '<' | '=' | '>';
const flip: Record<Op, Op> = { '<': '>', '=': '=', '>': '<' };
const toOp = (n: number): Op => (n < 0 ? '<' : n > 0 ? '>' : '=');

// rpmvercmp rows, verbatim from rpm's tests/rpmvercmp.at
// (rpm-software-management/rpm; each RPMVERCMP(a, b, r) line), one direction each.
const RPMVERCMP_AT: [string, Op, string][] = [
  ['1.0', '=', '1.0'],
  ['1.0', '<', '2.0'],
  ['2.0.1', '=', '2.0.1'],
  ['2.0', '<', '2.0.1'],
  ['2.0.1a', '>', '2.0.1'],
  ['5.5p1', '<', '5.5p2'],
  ['5.5p1', '<', '5.5p10'],
  ['10xyz', '<', '10.1xyz'],
  ['xyz10', '<', 'xyz10.1'],
  ['xyz.4', '=', 'xyz.4'],
  ['xyz.4', '<', '8'],
  ['xyz.4', '<', '2'],
  ['5.5p2', '<', '5.6p1'],
  ['5.6p1', '<', '6.5p1'],
  ['6.0.rc1', '>', '6.0'],
  ['10b2', '>', '10a1'],
  ['10a2', '<', '10b2'],
  ['1.0a', '<', '1.0aa'],
  ['10.0001', '=', '10.1'],
  ['10.0001', '<', '10.0039'],
  ['4.999.9', '<', '5.0'],
  ['20101121', '<', '20101122'],
  ['2.0', '=', '2_0'],
  ['a+', '=', 'a_'],
  ['+a', '=', '_a'],
  ['_+', '=', '+_'],
  ['+', '=', '_'],
  ['1.0~rc1', '<', '1.0'],
  ['1.0~rc1', '<', '1.0~rc2'],
  ['1.0~rc1~git123', '<', '1.0~rc1'],
  ['1.0^', '>', '1.0'],
  ['1.0^git1', '>', '1.0'],
  ['1.0^git1', '<', '1.0^git2'],
  ['1.0^git1', '<', '1.01'],
  ['1.0^20160101', '<', '1.0.1'],
  ['1.0^20160102', '>', '1.0^20160101^git1'],
  ['1.0~rc1^git1', '>', '1.0~rc1'],
  ['1.0^git1', '>', '1.0^git1~pre'],
];

// Full EVR comparison ([epoch:]version[-release]), as rpm compares packages.
const EVR: [string, Op, string, string][] = [
  ['1:1.0-1', '>', '2.0-1', 'the epoch decides first'],
  ['0:1.0-1', '=', '1.0-1', 'a missing epoch is 0'],
  ['1.0-1.el9', '<', '1.0-2.el9', 'release compared after version'],
  ['1.0~rc1-1.el9', '<', '1.0-1.el9', 'tilde pre-release in the version'],
  ['2.17-326.el7_9', '>', '2.17-326.el7', 'z-stream release suffix (RHEL)'],
  ['3.0.7-24.el9', '<', '3.0.7-27.el9_4', 'openssl-style RHEL releases'],
  ['1.0-1', '>', '1.0', 'a missing release is empty and lower'],
  ['1b.fc17', '<', '1.fc17', 'documented rpm oddity (rpmvercmp.at, RhBug:811992)'],
  ['1.1.α', '=', '1.1.β', 'documented rpm oddity: non-ASCII characters are separators'],
];

describe('rpmvercmp (tests/rpmvercmp.at)', () => {
  it.each(RPMVERCMP_AT)('%s %s %s', (a, op, b) => {
    expect(toOp(rpmvercmp(a, b))).toBe(op);
    expect(toOp(rpmvercmp(b, a))).toBe(flip[op]);
  });
});

describe('rpm EVR compare', () => {
  it.each(EVR)('%s %s %s (%s)', (a, op, b) => {
    expect(toOp(compare(a, b))).toBe(op);
    expect(toOp(compare(b, a))).toBe(flip[op]);
  });

  it('validates EVR strings', () => {
    for (const v of ['1.0', '1:1.0-1.el9', '1.0~rc1^git2-3.fc39', '2.17-326.el7_9']) expect(isValid(v), v).toBe(true);
    for (const v of ['', '1.0-1-2', 'a:1.0', '1.0 1', '-1']) expect(isValid(v), v).toBe(false);
  });
});

const version = fc.stringMatching(/^(?:[0-2]:)?[0-9a-c.~^_]{1,6}(?:-[0-9a-c.~^]{1,4})?$/);

describeComparatorLaws('rpm', compare, version);
