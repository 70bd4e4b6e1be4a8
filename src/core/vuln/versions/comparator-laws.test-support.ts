/**
 * The laws every version comparator must keep, as fast-check properties: reflexive,
 * antisymmetric and transitive over versions drawn from `arbitrary`. Each comparator's test
 * file calls this once with its own generator (test support; not part of the build).
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';

type Op = '<' | '=' | '>';
const flip: Record<Op, Op> = { '<': '>', '=': '=', '>': '<' };

/** BERTH_TEST_PROPERTY_RUNS raises the number of runs when hunting for counterexamples. */
export function describeComparatorLaws(
  name: string,
  compare: (a: string, b: string) => number,
  arbitrary: fc.Arbitrary<string>,
  numRuns = Number(process.env.BERTH_TEST_PROPERTY_RUNS ?? 2000),
): void {
  const rel = (a: string, b: string): Op => (compare(a, b) < 0 ? '<' : compare(a, b) > 0 ? '>' : '=');
  describe(`${name} properties`, () => {
    it('is antisymmetric and reflexive', () => {
      fc.assert(
        fc.property(arbitrary, arbitrary, (a, b) => {
          expect(rel(a, a)).toBe('=');
          expect(rel(a, b)).toBe(flip[rel(b, a)]);
        }),
        { numRuns },
      );
    });

    it('is transitive', () => {
      fc.assert(
        fc.property(arbitrary, arbitrary, arbitrary, (a, b, c) => {
          for (const [x, y, z] of [[a, b, c], [a, c, b], [b, a, c], [b, c, a], [c, a, b], [c, b, a]] as const) {
            if (compare(x, y) <= 0 && compare(y, z) <= 0) expect(compare(x, z), `${x} ${y} ${z}`).toBeLessThanOrEqual(0);
          }
        }),
        { numRuns },
      );
    });
  });
}
