import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { describeComparatorLaws } from './comparator-laws.test-support.js';
import { compare, isValid } from './dpkg.js';

type Op = '<' | '=' | '>';
const rel = (a: string, b: string): Op => (compare(a, b) < 0 ? '<' : compare(a, b) > 0 ? '>' : '=');
const flip: Record<Op, Op> = { '<': '>', '=': '=', '>': '<' };

// [a, op, b, source]. "Policy" = Debian Policy §5.6.12; "dpkg" = outcome of
// `dpkg --compare-versions` (dpkg 1.21, cross-checked when these were written);
// "fixture" = versions from shared/fixtures/debian and shared/vulndb/debian.
const CASES: [string, Op, string, string][] = [
  ['1:1.0', '>', '2.0', 'brief; Policy: the epoch is compared first'],
  ['1.0~rc1', '<', '1.0', 'brief; Policy: ~ sorts before the end of the part'],
  ['2.36-9+deb12u4', '>', '2.36-9', 'brief; fixture glibc'],
  ['1.0~rc1', '<', '1.0~rc2', 'Policy: letters then digit runs'],
  ['1.0~~', '<', '1.0~~a', 'Policy example: ~~ < ~~a < ~ < (empty) < a'],
  ['1.0~~a', '<', '1.0~', 'Policy example'],
  ['1.0~', '<', '1.0', 'Policy example'],
  ['1.0', '<', '1.0a', 'Policy example'],
  ['1.0a', '<', '1.0+', 'Policy: letters sort before non-letters'],
  ['1.0+', '<', '1.0.', 'dpkg: non-letters by ASCII (+ 0x2b < . 0x2e)'],
  ['2.36-9+deb12u14', '>', '2.36-9+deb12u9', 'fixture glibc: digit runs compare numerically'],
  ['1.0', '=', '1.0-0', 'dpkg: an absent revision equals "0"'],
  ['0:1.0', '=', '1.0', 'Policy: an absent epoch is 0'],
  ['1.010', '=', '1.10', 'dpkg: leading zeros do not count'],
  ['252.38-1~deb12u1', '<', '252.38-1', 'fixture systemd: backport ~ below the unstable upload'],
  ['252.39-1~deb12u2', '>', '252.38-1~deb12u1', 'fixture systemd'],
  ['5.2.15-2+b13', '>', '5.2.15-2', 'fixture bash: binNMU suffix'],
  ['1:2.38.1-5+deb12u3', '>', '2.38.1-5+deb12u3', 'fixture util-linux: bsdutils binary epoch'],
  ['1.2.13.dfsg-1', '>', '1.2.13-1', 'dpkg: . (non-letter) sorts after the end of the part'],
  ['10.42-1+deb12u2', '>', '10.42-1', 'fixture pcre2'],
  ['2:6.2.1+dfsg1-1.1', '>', '1:9.9', 'fixture gmp: epoch 2'],
  ['1.0-1', '<', '1.0-1.1', 'dpkg: revision digit runs'],
  ['1.0-2', '<', '1.0-10~bpo1', 'dpkg: revision 2 < 10 numerically'],
  ['1.0-a', '<', '1.0-b', 'dpkg: revisions compare like upstream parts'],
];

describe('dpkg compare', () => {
  it.each(CASES)('%s %s %s (%s)', (a, op, b) => {
    expect(rel(a, b)).toBe(op);
    expect(rel(b, a)).toBe(flip[op]);
  });

  it('validates versions', () => {
    for (const v of ['1.0', '1:1.0-1', '2.36-9+deb12u4', '1.0~rc1-1~bpo1', '1.2-3-4']) expect(isValid(v), v).toBe(true);
    for (const v of ['', 'a1.0', '1.0-', 'x:1.0', '1.0 1', '1:2:3', '1.0-a_b']) expect(isValid(v), v).toBe(false);
  });
});

const version = fc.stringMatching(/^(?:[0-2]:)?[0-9][0-9a-c.+~]{0,6}(?:-[0-9a-c.+~]{1,4})?$/);

describeComparatorLaws('dpkg', compare, version);
