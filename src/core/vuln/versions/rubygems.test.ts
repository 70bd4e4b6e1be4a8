import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { describeComparatorLaws } from './comparator-laws.test-support.js';
import { canonicalSegments, compare, isValid } from './rubygems.js';

type Op = '<' | '=' | '>';
const rel = (a: string, b: string): Op => (compare(a, b) < 0 ? '<' : compare(a, b) > 0 ? '>' : '=');
const flip: Record<Op, Op> = { '<': '>', '=': '=', '>': '<' };

// [a, op, b, source]. "tgv" = rubygems test/rubygems/test_gem_version.rb
// (test_spaceship, test_semver, test_equals2, test_frozen_version).
const CASES: [string, Op, string, string][] = [
  ['1.0', '=', '1.0.0', 'tgv spaceship'],
  ['1.0', '>', '1.0.a', 'tgv spaceship: letters make a pre-release'],
  ['1.8.2', '>', '0.0.0', 'tgv spaceship'],
  ['1.8.2', '>', '1.8.2.a', 'tgv spaceship'],
  ['1.8.2.b', '>', '1.8.2.a', 'tgv spaceship'],
  ['1.8.2.a10', '>', '1.8.2.a9', 'tgv spaceship: digit runs are numbers'],
  ['', '=', '0', 'tgv spaceship: blank is 0'],
  ['0.beta.1', '=', '0.0.beta.1', 'tgv spaceship: canonical segments'],
  ['0.0.beta', '<', '0.0.beta.1', 'tgv spaceship'],
  ['0.0.beta', '<', '0.beta.1', 'tgv spaceship'],
  ['5.a', '<', '5.0.0.rc2', 'tgv spaceship'],
  ['5.x', '>', '5.0.0.rc2', 'tgv spaceship'],
  ['1.0.0-alpha', '<', '1.0.0-alpha.1', 'tgv semver'],
  ['1.0.0-alpha.1', '<', '1.0.0-beta.2', 'tgv semver'],
  ['1.0.0-beta.2', '<', '1.0.0-beta.11', 'tgv semver'],
  ['1.0.0-beta.11', '<', '1.0.0-rc.1', 'tgv semver'],
  ['1.0.0-rc1', '<', '1.0.0', 'tgv semver'],
  ['1.0.0-1', '<', '1', 'tgv semver: "-" reads as ".pre."'],
  ['1.2.b1', '=', '1.2.b.1', 'tgv equals2'],
  ['1.freeze.test', '<', '1', 'tgv frozen_version'],
  ['7.0.8.1', '>', '7.0.8', 'Rails security patch versions'],
  ['junk', '<', '0', 'invalid (Gem::Version raises): sorts first'],
];

describe('rubygems compare', () => {
  it.each(CASES)('%s %s %s (%s)', (a, op, b) => {
    expect(rel(a, b)).toBe(op);
    expect(rel(b, a)).toBe(flip[op]);
  });

  it('computes canonical segments like tgv test_canonical_segments', () => {
    expect(canonicalSegments('1.0.0')).toEqual(['1']);
    expect(canonicalSegments('1.0.0.a.1.0')).toEqual(['1', 'a', '1']);
    expect(canonicalSegments('1.2.3-1')).toEqual(['1', '2', '3', 'pre', '1']);
  });

  it('validates like tgv test_initialize / test_initialize_invalid', () => {
    for (const v of ['1.0', '1.0 ', ' 1.0 ', '1.0\n', '\n1.0\n', '', '1-a', '1.2.3-rc.1']) expect(isValid(v), JSON.stringify(v)).toBe(true);
    for (const v of ['junk', '1.0\n2.0', '1..2', '1.2 3.4', '2.3422222.222.222222222.22222.ads0as.dasd0.ddd2222.2.qd3e.']) {
      expect(isValid(v), JSON.stringify(v)).toBe(false);
    }
  });
});

const version = fc.stringMatching(/^[0-9]{1,2}(?:\.(?:[0-9]{1,2}|[a-c]{1,2}[0-9]?)){0,3}(?:-[a-c0-9]{1,3})?$/);

describeComparatorLaws('rubygems', compare, version);
