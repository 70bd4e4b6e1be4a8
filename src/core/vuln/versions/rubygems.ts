/**
 * RubyGems version ordering: `Gem::Version#<=>` (rubygems/version.rb).
 *
 * A version matches `\A\s*[0-9]+(\.[0-9a-zA-Z]+)*(-[0-9A-Za-z-]+(\.[0-9A-Za-z-]+)*)?\s*\z`
 * (or is blank, which means "0"); every `-` is read as `.pre.`. Segments are the
 * runs of digits (numbers) and letters (strings). Canonical segments drop
 * trailing zeros from the numeric part before the first string and from the
 * rest, so `1.0 == 1` and `0.beta.1 == 0.0.beta.1`. Segments compare pairwise
 * (missing ones are 0): numbers numerically, strings as strings, and a string
 * is lower than a number, which makes any version with letters a pre-release
 * (`1.0.a < 1.0`, `5.a < 5.0.0.rc2`). Invalid strings (Gem::Version would raise)
 * sort before every valid one, and among themselves by code unit.
 */

import { compareNumeric } from './semver.js';

const PATTERN = /^\s*(?:[0-9]+(?:\.[0-9a-zA-Z]+)*(?:-[0-9A-Za-z-]+(?:\.[0-9A-Za-z-]+)*)?)?\s*$/;

type Segment = string;

const isNum = (s: Segment): boolean => /^\d/.test(s);

/** Whether `Gem::Version.correct?(v)`. */
export function isValid(v: string): boolean {
  return PATTERN.test(v);
}

/** The canonical segments of a valid version (numbers as digit strings). */
export function canonicalSegments(v: string): Segment[] {
  const s = v.trim() === '' ? '0' : v.trim().replace(/-/g, '.pre.');
  const segs = (s.match(/[0-9]+|[a-z]+/gi) ?? []).map((x) => (/^\d+$/.test(x) ? x.replace(/^0+(?=\d)/, '') : x));
  const firstString = segs.findIndex((x) => !isNum(x));
  const numeric = firstString === -1 ? segs : segs.slice(0, firstString);
  const rest = firstString === -1 ? [] : segs.slice(firstString);
  const dropZeros = (a: Segment[]): Segment[] => {
    let end = a.length;
    while (end > 0 && a[end - 1] === '0') end--;
    return a.slice(0, end);
  };
  return [...dropZeros(numeric), ...dropZeros(rest)];
}

/**
 * Compares two gem versions; -1, 0 or 1.
 * @example compare('1.8.2.a10', '1.8.2.a9') === 1; compare('1.0', '1.0.a') === 1
 */
export function compare(a: string, b: string): number {
  const va = isValid(a);
  const vb = isValid(b);
  if (!va || !vb) {
    if (va !== vb) return va ? 1 : -1;
    return a < b ? -1 : a > b ? 1 : 0;
  }
  const x = canonicalSegments(a);
  const y = canonicalSegments(b);
  for (let i = 0; i < Math.max(x.length, y.length); i++) {
    const l = x[i] ?? '0';
    const r = y[i] ?? '0';
    if (l === r) continue;
    const ln = isNum(l);
    const rn = isNum(r);
    if (ln !== rn) return ln ? 1 : -1;
    return ln ? compareNumeric(l, r) : l < r ? -1 : 1;
  }
  return 0;
}
