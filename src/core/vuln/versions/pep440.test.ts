import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { describeComparatorLaws } from './comparator-laws.test-support.js';
import { compare, isValid, normalize } from './pep440.js';

type Op = '<' | '=' | '>';
const rel = (a: string, b: string): Op => (compare(a, b) < 0 ? '<' : compare(a, b) > 0 ? '>' : '=');
const flip: Record<Op, Op> = { '<': '>', '=': '=', '>': '<' };

// PEP 440, "Summary of permitted suffixes and relative ordering": this list is in ascending order.
const PEP440_ORDER = [
  '1.dev0',
  '1.0.dev456',
  '1.0a1',
  '1.0a2.dev456',
  '1.0a12.dev456',
  '1.0a12',
  '1.0b1.dev456',
  '1.0b2',
  '1.0b2.post345.dev456',
  '1.0b2.post345',
  '1.0rc1.dev456',
  '1.0rc1',
  '1.0',
  '1.0+abc.5',
  '1.0+abc.7',
  '1.0+5',
  '1.0.post456.dev34',
  '1.0.post456',
  '1.0.15',
  '1.1.dev1',
];

// [a, op, b, source]. "PEP 440 norm" = the "Normalization" section; every row was
// also checked against `packaging.version.Version` (packaging 26) when written.
const CASES: [string, Op, string, string][] = [
  ['1.0-alpha1', '=', '1.0a1', 'brief; PEP 440 norm: pre-release spelling and separator'],
  ['1.0.post-1', '=', '1.0.post1', 'brief; PEP 440 norm: post-release separator'],
  ['1.0c1', '=', '1.0rc1', 'brief; PEP 440 norm: c is rc'],
  ['1.0.preview2', '=', '1.0rc2', 'PEP 440 norm: preview is rc'],
  ['1.0-1', '=', '1.0.post1', 'PEP 440 norm: implicit post-release'],
  ['1.0-r4', '=', '1.0.post4', 'PEP 440 norm: r/rev are post'],
  ['1.0.dev', '=', '1.0.dev0', 'PEP 440 norm: implicit number'],
  ['1.0a', '=', '1.0a0', 'PEP 440 norm: implicit number'],
  ['v1.0', '=', '1.0', 'PEP 440 norm: leading v'],
  ['1.0RC1', '=', '1.0rc1', 'PEP 440 norm: case'],
  ['1.0.0', '=', '1.0', 'PEP 440: release segments with implied zeros'],
  ['1!1.0', '>', '2.0', 'PEP 440: epoch first'],
  ['1.0+ubuntu-1', '=', '1.0+ubuntu.1', 'PEP 440 norm: local separators'],
  ['1.0+1', '>', '1.0+abc', 'PEP 440: numeric local segments beat alphanumeric'],
  ['1.0+abc', '<', '1.0+abc.1', 'PEP 440: longer local is higher'],
  ['2.0.0rc1', '<', '2.0.0', 'PYSEC bound (pypi/ fixtures)'],
  ['0.24.dev0', '<', '0.24', 'PYSEC bound (pypi/ fixtures)'],
  ['3.8.4', '<', '3.8.5', 'fixture aiohttp'],
  ['0.1-bulbasaur', '<', '0.0.1', 'not PEP 440 (PYSEC versions list): sorts first'],
];

describe('pep440 compare', () => {
  it('orders the PEP 440 example list', () => {
    PEP440_ORDER.forEach((a, i) =>
      PEP440_ORDER.forEach((b, j) => expect(rel(a, b), `${a} vs ${b}`).toBe(i < j ? '<' : i > j ? '>' : '=')),
    );
  });

  it.each(CASES)('%s %s %s (%s)', (a, op, b) => {
    expect(rel(a, b)).toBe(op);
    expect(rel(b, a)).toBe(flip[op]);
  });

  it('normalises and validates', () => {
    expect(normalize('1.0-alpha1')).toBe('1.0a1');
    expect(normalize('1.0.post-1')).toBe('1.0.post1');
    expect(normalize('1.0c1')).toBe('1.0rc1');
    expect(normalize(' V1!01.02_BETA_3-2.DEV+Ubuntu-01 ')).toBe('1!1.2b3.post2.dev0+ubuntu.1');
    for (const v of ['0.1-bulbasaur', 'french toast', '1.0+', '1.0-', '1.0.post1.post2', '']) expect(isValid(v), v).toBe(false);
  });
});

const version = fc
  .tuple(
    fc.constantFrom('', '1!'),
    fc.constantFrom('0', '1', '1.0', '1.0.0', '1.1', '2'),
    fc.constantFrom('', 'a1', '-alpha1', 'b2', 'c1', 'rc1', '.preview2'),
    fc.constantFrom('', '.post1', '-1', '.post-2', 'r3'),
    fc.constantFrom('', '.dev0', 'dev1'),
    fc.constantFrom('', '+abc', '+1', '+abc.1', '+ubuntu-2'),
  )
  .map((p) => p.join(''));

describeComparatorLaws('pep440', compare, version);
