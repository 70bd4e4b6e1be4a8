import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { describeComparatorLaws } from './comparator-laws.test-support.js';
import { compare, isValid } from './apk.js';

type Op = '<' | '=' | '>';
const rel = (a: string, b: string): Op => (compare(a, b) < 0 ? '<' : compare(a, b) > 0 ? '>' : '=');
const flip: Record<Op, Op> = { '<': '>', '=': '=', '>': '<' };

// [a, op, b, source]. "data" = a row of apk-tools test/version.data
// (alpinelinux/apk-tools, the file the apk unit test runs); "unit data" = row
// of the later test/unit/version.data; "token order" = derived from src/version.c.
const CASES: [string, Op, string, string][] = [
  ['1.0_alpha', '<', '1.0_beta', 'brief; version.c suffix table'],
  ['1.0_beta', '<', '1.0_pre', 'version.c suffix table'],
  ['1.0_pre', '<', '1.0_rc', 'version.c suffix table'],
  ['1.0_rc', '<', '1.0', 'brief: pre-release suffixes before the release'],
  ['1.0', '<', '1.0_cvs', 'brief: post-release suffixes after the release'],
  ['1.0_cvs', '<', '1.0_svn', 'version.c suffix table'],
  ['1.0_svn', '<', '1.0_git', 'version.c suffix table'],
  ['1.0_git', '<', '1.0_hg', 'version.c suffix table'],
  ['1.0_hg', '<', '1.0_p', 'version.c suffix table'],
  ['1.1', '>', '1.1_alpha1', 'data'],
  ['0.1.0_alpha2', '>', '0.1.0_alpha', 'data'],
  ['2.8.9-r1', '>', '2.8.9', 'data: -rN after the bare version'],
  ['1.3.5-r10', '>', '1.3.5-r8', 'data: revision numbers compare numerically'],
  ['2.3.0b-r1', '<', '2.3.0b-r2', 'data: letter then revision'],
  ['1.7', '<', '1.7b', 'data: letter suffix after the bare number'],
  ['0.15.1b-r2', '>', '0.15.1b', 'data'],
  ['3.1_p16', '<', '3.1_p17', 'data'],
  ['4.5_p1', '<', '4.5_p1-r1', 'data'],
  ['1.0_p10-r0', '>', '1.0_p9-r0', 'data: suffix numbers compare numerically'],
  ['1.0.0_pre20191002222144-r0', '<', '1.0.0_pre20210530193627-r0', 'data: long suffix numbers'],
  ['0.1.0_alpha_pre2', '<', '0.1.0_alpha', 'data: a second pre-release suffix lowers it'],
  ['2.10.1', '>', '02.08.01b', 'data: leading zero -> string sort ("08" < "10")'],
  ['1.02', '<', '1.03-r1', 'data'],
  ['8.2.0015', '<', '8.2.002', 'unit data: leading zero -> string sort, not 15 > 2'],
  ['1.0', '<', '1.0bc', 'data ("invalid. do string sort")'],
  ['23_foo', '>', '4_beta', 'data: decided before the invalid suffix'],
  ['1.3-r0', '<', '1.3.1-r0', 'data'],
  ['1.3_pre1-r1', '<', '1.3.2', 'data'],
  ['20050718-r1', '<', '20050718-r2', 'data'],
  ['1.0_alpha', '<', '1.0_alpha0', 'token order: END > SUFFIX_NO, so the shorter is lower'],
  ['3.0.15-r0', '=', '3.0.15-r0', 'identity'],
  ['1.36.1-r29', '<', '1.36.1-r30', 'Alpine busybox-style revisions'],
];

describe('apk compare', () => {
  it.each(CASES)('%s %s %s (%s)', (a, op, b) => {
    expect(rel(a, b)).toBe(op);
    expect(rel(b, a)).toBe(flip[op]);
  });

  it('validates versions like apk_version_validate', () => {
    for (const v of ['1.0', '1.2.3_rc1-r0', '2.3.0b-r4', '1.0_alpha_pre2', '1.0~abc123-r1', '20050718']) {
      expect(isValid(v), v).toBe(true);
    }
    for (const v of ['', 'a1', '1.0bc', '1.0-1', '1.0_foo', '1.0-r', '1.0.', '1.0-r1-r2']) expect(isValid(v), v).toBe(false);
  });
});

const version = fc.stringMatching(
  /^[0-9]{1,2}(?:\.[0-9]{1,3}){0,3}[a-c]?(?:_(?:alpha|beta|pre|rc|cvs|git|p)[0-9]{0,2}){0,2}(?:-r[0-9]{1,2})?$/,
);

describeComparatorLaws('apk', compare, version);
