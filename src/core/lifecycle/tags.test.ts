import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { countWildcards, matchesTagPattern } from './tags.js';

/** Reference matcher: the pattern as an anchored regular expression, `*` as `.*`. */
const viaRegex = (pattern: string, tag: string): boolean =>
  new RegExp(`^${pattern.split('*').map((s) => s.replace(/[.*+?^${}()|[\]\\-]/g, '\\$&')).join('.*')}$`, 's').test(tag);

describe('matchesTagPattern', () => {
  it.each([
    ['prod*', 'prod', true],
    ['prod*', 'prod-1', true],
    ['prod*', 'xprod', false],
    ['*prod', 'my-prod', true],
    ['a*a', 'a', false],
    ['a*a', 'aa', true],
    ['*test*1*2*3', 'my-test-1-2-3', true],
    ['*test*1*2*3', 'test123x', false],
    ['v1.2', 'v1x2', false],
    ['*', 'anything', true],
    ['**', 'x', true],
    ['Prod*', 'prod', false],
  ])('%s against %s is %s', (pattern, tag, expected) => {
    expect(matchesTagPattern(pattern, tag)).toBe(expected);
  });

  it('agrees with an anchored regular expression', () => {
    const alphabet = fc.constantFrom('a', 'b', '.', '-');
    const tag = fc.string({ unit: alphabet, maxLength: 10 });
    const pattern = fc.string({ unit: fc.constantFrom('a', 'b', '.', '-', '*'), maxLength: 8 });
    fc.assert(fc.property(pattern, tag, (p, t) => matchesTagPattern(p, t) === viaRegex(p, t)), { numRuns: 2000 });
  });

  it('counts wildcards', () => {
    expect(countWildcards('*a*b*')).toBe(3);
    expect(countWildcards('abc')).toBe(0);
  });
});
