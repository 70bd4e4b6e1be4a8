/**
 * Go module version ordering, as golang.org/x/mod/semver implements it.
 *
 * Module versions are SemVer with a leading `v` (`v1.2.3`, shorthands `v1` and
 * `v1.2` mean `v1.0.0` and `v1.2.0`). Pseudo-versions are ordinary SemVer
 * pre-releases and need no special case: `v0.0.0-20191109021931-daa7c04131f5`
 * is a pre-release of v0.0.0, and `v1.2.4-0.20191109021931-daa7c04131f5` (made
 * after v1.2.3) sorts after v1.2.3 and before v1.2.4 and every other
 * pre-release of it, since its first identifier `0` is numeric. Build metadata,
 * such as `+incompatible`, is ignored for ordering.
 *
 * OSV Go records write versions without the `v` (`1.19.5`, stdlib `1.21.0-0`),
 * so a missing `v` is supplied. Go toolchain names (`go1.21.3`, `go1.21rc2`,
 * `go1.9beta1`) are converted the way the Go vulnerability database does
 * (`v1.21.3`, `v1.21.0-rc.2`, `v1.9.0-beta.1`). Anything else is invalid.
 * As in x/mod/semver's Compare, an invalid version is less than any valid one
 * and all invalid versions compare equal to each other.
 */

import { compareParsed, type SemVer } from './semver.js';

const NUM = '0|[1-9]\\d*';
const IDENT = `(?:${NUM}|\\d*[A-Za-z-][0-9A-Za-z-]*)`;
const FULL = new RegExp(
  `^v(${NUM})\\.(${NUM})\\.(${NUM})(?:-(${IDENT}(?:\\.${IDENT})*))?(?:\\+[0-9A-Za-z-]+(?:\\.[0-9A-Za-z-]+)*)?$`,
);
const SHORT = new RegExp(`^v(${NUM})(?:\\.(${NUM}))?$`);
const TOOLCHAIN = /^go(\d+)(?:\.(\d+))?(?:\.(\d+))?(?:(beta|rc)(\d+))?$/;

/** Converts a Go toolchain name (`go1.21rc2`) to its module-style SemVer (`v1.21.0-rc.2`); undefined if it is not one. */
export function fromToolchain(v: string): string | undefined {
  const m = TOOLCHAIN.exec(v);
  if (!m) return undefined;
  const pre = m[4] !== undefined ? `-${m[4]}.${m[5] ?? '0'}` : '';
  return `v${m[1] ?? '0'}.${m[2] ?? '0'}.${m[3] ?? '0'}${pre}`;
}

/** Parses a Go version (with or without `v`, or a toolchain name); undefined when invalid. */
export function parse(v: string): SemVer | undefined {
  const s = fromToolchain(v) ?? (v.startsWith('v') ? v : `v${v}`);
  const full = FULL.exec(s);
  if (full) {
    return { major: full[1] ?? '0', minor: full[2] ?? '0', patch: full[3] ?? '0', prerelease: full[4]?.split('.') ?? [] };
  }
  const short = SHORT.exec(s);
  if (short) return { major: short[1] ?? '0', minor: short[2] ?? '0', patch: '0', prerelease: [] };
  return undefined;
}

/** Whether `v` is a valid Go module version (or OSV's `v`-less form, or a toolchain name). */
export function isValid(v: string): boolean {
  return parse(v) !== undefined;
}

/**
 * Compares two Go versions; -1, 0 or 1.
 * @example compare('v1.2.4-0.20191109021931-daa7c04131f5', 'v1.2.3') === 1
 */
export function compare(a: string, b: string): number {
  const x = parse(a);
  const y = parse(b);
  if (x && y) return compareParsed(x, y);
  if (x || y) return x ? 1 : -1;
  return 0;
}
