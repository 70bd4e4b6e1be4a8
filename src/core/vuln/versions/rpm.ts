/**
 * RPM version ordering: `rpmvercmp` (rpm's rpmio/rpmvercmp.c, rpm >= 4.15 with
 * `~` and `^`) applied to `[epoch:]version[-release]` as rpm compares EVRs.
 *
 * `rpmvercmp` splits both strings into alternating alphabetic and numeric
 * segments, skipping other characters as separators. Numeric segments compare
 * numerically and beat alphabetic ones; alphabetic segments compare with
 * strcmp. `~` sorts before anything, even the end of the string (pre-releases,
 * `1.0~rc1 < 1.0`); `^` sorts after the end of the string but before any other
 * segment (post-release snapshots, `1.0 < 1.0^git1 < 1.0.1`). When all segments
 * are equal, the string with characters left over is newer.
 */

const isDigit = (c: string | undefined): boolean => c !== undefined && c >= '0' && c <= '9';
const isAlpha = (c: string | undefined): boolean =>
  c !== undefined && ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'));
const isSep = (c: string | undefined): boolean => c !== undefined && !isDigit(c) && !isAlpha(c) && c !== '~' && c !== '^';

/** rpm's `rpmvercmp` on one field (version or release). Returns -1, 0 or 1. */
export function rpmvercmp(a: string, b: string): number {
  if (a === b) return 0;
  let i = 0;
  let j = 0;
  while (i < a.length || j < b.length) {
    while (isSep(a[i])) i++;
    while (isSep(b[j])) j++;
    const x = a[i];
    const y = b[j];
    if (x === '~' || y === '~') {
      if (x !== '~') return 1;
      if (y !== '~') return -1;
      i++;
      j++;
      continue;
    }
    if (x === '^' || y === '^') {
      if (x === undefined) return -1;
      if (y === undefined) return 1;
      if (x !== '^') return 1;
      if (y !== '^') return -1;
      i++;
      j++;
      continue;
    }
    if (x === undefined || y === undefined) break;
    const numeric = isDigit(x);
    const test = numeric ? isDigit : isAlpha;
    let ei = i;
    while (test(a[ei])) ei++;
    let ej = j;
    while (test(b[ej])) ej++;
    // A numeric segment is newer than an alphabetic one.
    if (ej === j) return numeric ? 1 : -1;
    let sa = a.slice(i, ei);
    let sb = b.slice(j, ej);
    if (numeric) {
      sa = sa.replace(/^0+/, '');
      sb = sb.replace(/^0+/, '');
      if (sa.length !== sb.length) return sa.length > sb.length ? 1 : -1;
    }
    if (sa !== sb) return sa < sb ? -1 : 1;
    i = ei;
    j = ej;
  }
  if (i >= a.length && j >= b.length) return 0;
  return i >= a.length ? -1 : 1;
}

interface Evr {
  epoch: string;
  version: string;
  release: string;
}

/** Splits `[epoch:]version[-release]`; a missing epoch is 0, a missing release is empty. */
export function parseEvr(v: string): Evr {
  const m = /^(\d+):/.exec(v);
  const epoch = m?.[1] ?? '0';
  const rest = m ? v.slice(m[0].length) : v;
  const hyphen = rest.lastIndexOf('-');
  return hyphen >= 0
    ? { epoch, version: rest.slice(0, hyphen), release: rest.slice(hyphen + 1) }
    : { epoch, version: rest, release: '' };
}

/**
 * Compares two RPM EVR strings: epoch numerically, then version, then release
 * with {@link rpmvercmp}. @example compare('1.0~rc1-1.el9', '1.0-1.el9') < 0
 */
export function compare(a: string, b: string): number {
  const x = parseEvr(a);
  const y = parseEvr(b);
  const e = rpmvercmp(x.epoch, y.epoch);
  if (e !== 0) return e;
  const v = rpmvercmp(x.version, y.version);
  if (v !== 0) return v;
  return rpmvercmp(x.release, y.release);
}

/** Whether `v` is a well-formed EVR: optional numeric epoch, a version and an optional release without hyphens or whitespace. */
export function isValid(v: string): boolean {
  return /^(?:\d+:)?[A-Za-z0-9._+~^]+(?:-[A-Za-z0-9._+~^]+)?$/.test(v);
}
