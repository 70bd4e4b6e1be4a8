/**
 * Semantic Versioning 2.0.0 precedence (https://semver.org/#spec-item-11), as
 * used by npm, crates.io and OSV `SEMVER` ranges.
 *
 * Precedence compares major, minor and patch numerically; a version with a
 * pre-release is lower than the same version without one; pre-release
 * identifiers compare left to right, numeric ones numerically and lower than
 * alphanumeric ones (compared in ASCII order), and a shorter list of otherwise
 * equal identifiers is lower. Build metadata (`+...`) is ignored.
 *
 * {@link isValid} is strict SemVer. {@link compare} is lenient, like OSV's own
 * matchers: it accepts a leading `v` or `=`, and missing minor/patch numbers
 * (`1.0` is `1.0.0`; GHSA records contain such bounds), and a pre-release
 * written without its hyphen when it starts with a letter (`1.2.3beta`, npm
 * loose). Strings it cannot read at all sort before every readable version, and
 * among themselves by code unit.
 */

/** A parsed version: numeric core and pre-release identifiers. */
export interface SemVer {
  major: string;
  minor: string;
  patch: string;
  prerelease: string[];
}

const NUM = '0|[1-9]\\d*';
const IDENT = `(?:${NUM}|\\d*[A-Za-z-][0-9A-Za-z-]*)`;
const STRICT = new RegExp(
  `^(${NUM})\\.(${NUM})\\.(${NUM})(?:-(${IDENT}(?:\\.${IDENT})*))?(?:\\+([0-9A-Za-z-]+(?:\\.[0-9A-Za-z-]+)*))?$`,
);
const LOOSE =
  /^[v=]?\s*(\d+)(?:\.(\d+))?(?:\.(\d+))?(?:-([0-9A-Za-z-]+(?:\.[0-9A-Za-z-]+)*)|([A-Za-z][0-9A-Za-z-]*(?:\.[0-9A-Za-z-]+)*))?(?:\+[0-9A-Za-z.-]*)?$/;

/** Whether `v` is a valid SemVer 2.0.0 version (no `v` prefix, all three numbers). */
export function isValid(v: string): boolean {
  return STRICT.test(v);
}

/** Parses leniently (see module comment); undefined when the string is not a version at all. */
export function parse(v: string): SemVer | undefined {
  const m = LOOSE.exec(v.trim());
  if (!m) return undefined;
  return { major: m[1] ?? '0', minor: m[2] ?? '0', patch: m[3] ?? '0', prerelease: (m[4] ?? m[5])?.split('.') ?? [] };
}

/** Compares two digit strings numerically (no size limit). */
export function compareNumeric(a: string, b: string): number {
  const x = a.replace(/^0+(?=\d)/, '');
  const y = b.replace(/^0+(?=\d)/, '');
  if (x.length !== y.length) return x.length < y.length ? -1 : 1;
  return x < y ? -1 : x > y ? 1 : 0;
}

const isNumeric = (s: string): boolean => /^\d+$/.test(s);

function compareIdentifiers(a: string, b: string): number {
  const an = isNumeric(a);
  const bn = isNumeric(b);
  if (an && bn) return compareNumeric(a, b);
  if (an !== bn) return an ? -1 : 1;
  return a < b ? -1 : a > b ? 1 : 0;
}

/** Compares two parsed versions by SemVer precedence. */
export function compareParsed(x: SemVer, y: SemVer): number {
  const core = compareNumeric(x.major, y.major) || compareNumeric(x.minor, y.minor) || compareNumeric(x.patch, y.patch);
  if (core !== 0) return core;
  const xp = x.prerelease;
  const yp = y.prerelease;
  if (xp.length === 0 || yp.length === 0) return xp.length === yp.length ? 0 : xp.length === 0 ? 1 : -1;
  for (let i = 0; i < Math.min(xp.length, yp.length); i++) {
    const r = compareIdentifiers(xp[i] ?? '', yp[i] ?? '');
    if (r !== 0) return r;
  }
  return Math.sign(xp.length - yp.length);
}

/**
 * Compares two versions by SemVer precedence; -1, 0 or 1.
 * @example compare('1.0.0-alpha', '1.0.0') === -1; compare('1.0.0+a', '1.0.0+b') === 0
 */
export function compare(a: string, b: string): number {
  const x = parse(a);
  const y = parse(b);
  if (x && y) return compareParsed(x, y);
  if (x || y) return x ? 1 : -1;
  return a < b ? -1 : a > b ? 1 : 0;
}
