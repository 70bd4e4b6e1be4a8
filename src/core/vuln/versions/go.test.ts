import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { describeComparatorLaws } from './comparator-laws.test-support.js';
import { compare, fromToolchain, isValid } from './go.js';

type Op = '<' | '=' | '>';
const rel = (a: string, b: string): Op => (compare(a, b) < 0 ? '<' : compare(a, b) > 0 ? '>' : '=');
const flip: Record<Op, Op> = { '<': '>', '=': '=', '>': '<' };

// golang.org/x/mod/semver semver_test.go `tests` (most rows), in ascending order; entries
// with the same canonical form (second column, "" = invalid) compare equal.
const XMOD_ORDER: [string, string][] = [
  ['bad', ''],
  ['v1-alpha.beta.gamma', ''],
  ['v1-pre', ''],
  ['v1+meta', ''],
  ['v1.2-pre+meta', ''],
  ['v1.0.0-alpha', 'v1.0.0-alpha'],
  ['v1.0.0-alpha.1', 'v1.0.0-alpha.1'],
  ['v1.0.0-alpha.beta', 'v1.0.0-alpha.beta'],
  ['v1.0.0-beta', 'v1.0.0-beta'],
  ['v1.0.0-beta.2', 'v1.0.0-beta.2'],
  ['v1.0.0-beta.11', 'v1.0.0-beta.11'],
  ['v1.0.0-rc.1', 'v1.0.0-rc.1'],
  ['v1', 'v1.0.0'],
  ['v1.0', 'v1.0.0'],
  ['v1.0.0', 'v1.0.0'],
  ['v1.2', 'v1.2.0'],
  ['v1.2.0', 'v1.2.0'],
  ['v1.2.3-456', 'v1.2.3-456'],
  ['v1.2.3-456.789', 'v1.2.3-456.789'],
  ['v1.2.3-456-789', 'v1.2.3-456-789'],
  ['v1.2.3-456a', 'v1.2.3-456a'],
  ['v1.2.3-pre', 'v1.2.3-pre'],
  ['v1.2.3-pre+meta', 'v1.2.3-pre'],
  ['v1.2.3-pre.1', 'v1.2.3-pre.1'],
  ['v1.2.3-zzz', 'v1.2.3-zzz'],
  ['v1.2.3', 'v1.2.3'],
  ['v1.2.3+meta', 'v1.2.3'],
  ['v1.2.3+meta-pre.sha.256a', 'v1.2.3'],
];

// [a, op, b, source]. "modref" = the Go Modules Reference, section "Pseudo-versions".
const CASES: [string, Op, string, string][] = [
  ['v0.0.0-20191109021931-daa7c04131f5', '<', 'v0.0.0', 'modref: pseudo-version with no base is a pre-release of v0.0.0'],
  ['v0.0.0-20191109021931-daa7c04131f5', '<', 'v0.0.0-20200101000000-000000000000', 'modref: ordered by timestamp'],
  ['v1.2.4-0.20191109021931-daa7c04131f5', '>', 'v1.2.3', 'modref: vX.Y.(Z+1)-0.ts-hash follows vX.Y.Z'],
  ['v1.2.4-0.20191109021931-daa7c04131f5', '<', 'v1.2.4', 'modref: and precedes vX.Y.(Z+1)'],
  ['v1.2.4-0.20191109021931-daa7c04131f5', '<', 'v1.2.4-alpha', 'SemVer: numeric 0 < any alphanumeric pre-release'],
  ['v1.2.3-pre.0.20191109021931-daa7c04131f5', '>', 'v1.2.3-pre', 'modref: vX.Y.Z-pre.0.ts-hash follows vX.Y.Z-pre'],
  ['v2.0.0+incompatible', '=', 'v2.0.0', 'modref: +incompatible is build metadata'],
  ['v2.0.1+incompatible', '>', 'v2.0.0+incompatible', 'modref'],
  ['1.19.5', '=', 'v1.19.5', 'OSV Go records omit the v'],
  ['1.21.0-0', '<', 'v1.21.0-rc.1', 'vulndb stdlib bound 1.21.0-0 is below every 1.21.0 pre-release'],
  ['go1.21rc2', '=', 'v1.21.0-rc.2', 'toolchain name as vulndb converts it'],
  ['go1.19.5', '<', '1.19.6', 'toolchain name vs OSV bound'],
  ['v1.2.3-pre.0.20191109021931-daa7c04131f5', '<', 'v1.2.3-pre.1', 'modref: and precedes the next pre-release'],
  ['v0.0.0-20191109021931-daa7c04131f5', '>', 'v0.0.0-20191109021930-ffffffffffff', 'modref: the timestamp decides, not the hash'],
  ['v1.0.0-rc.1', '<', 'v1.0.0', 'SemVer §11 via x/mod'],
  ['v1.19', '>', 'v1.2', 'numbers compare numerically (x/mod compareInt compares lengths first)'],
];

describe('go compare', () => {
  it('orders the x/mod/semver test list', () => {
    XMOD_ORDER.forEach(([a, ca], i) => {
      XMOD_ORDER.forEach(([b, cb], j) => {
        const want: Op = ca === cb ? '=' : i < j ? '<' : '>';
        expect(rel(a, b), `${a} vs ${b}`).toBe(want);
      });
      expect(isValid(a), a).toBe(ca !== '');
    });
  });

  it.each(CASES)('%s %s %s (%s)', (a, op, b) => {
    expect(rel(a, b)).toBe(op);
    expect(rel(b, a)).toBe(flip[op]);
  });

  it('converts toolchain names', () => {
    expect(fromToolchain('go1.21.3')).toBe('v1.21.3');
    expect(fromToolchain('go1.20')).toBe('v1.20.0');
    expect(fromToolchain('go1.9beta1')).toBe('v1.9.0-beta.1');
    expect(fromToolchain('v1.2.3')).toBeUndefined();
  });
});

const n = fc.constantFrom('0', '1', '2', '10');
const ts = fc.constantFrom('20191109021931', '20200101000000', '20211231235959');
const version = fc.oneof(
  fc.tuple(n, n, n).map(([a, b, c]) => `v${a}.${b}.${c}`),
  fc.tuple(n, n, n, ts).map(([a, b, c, t]) => `v${a}.${b}.${c}-0.${t}-abcdef123456`),
  fc.tuple(n, n, ts).map(([a, b, t]) => `v${a}.${b}.0-${t}-abcdef123456`),
  fc.tuple(n, n, n, fc.constantFrom('alpha', 'rc.1', 'pre.0')).map(([a, b, c, p]) => `v${a}.${b}.${c}-${p}`),
  fc.tuple(n, n).map(([a, b]) => `${a}.${b}.0+incompatible`),
);

describeComparatorLaws('go', compare, version);
