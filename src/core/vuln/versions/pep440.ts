/**
 * Python package version ordering: PEP 440 as implemented by `packaging.version`
 * (the regular expression and `_cmpkey` of packaging >= 22).
 *
 * `[N!]N(.N)*[{a|b|rc}N][.postN][.devN][+local]`, case-insensitive, with the
 * alternative spellings PEP 440 normalises: `alpha`/`beta` for a/b, `c`, `pre`
 * and `preview` for rc, `rev`/`r` and the implicit `-N` for post, optional
 * separators (`-`, `_`, `.`) and missing numbers (`1.0a` is `1.0a0`), a leading
 * `v`. Ordering: epoch, release (trailing zeros ignored, `1.0 == 1.0.0`), then
 * dev-only releases < pre-releases < final releases, then post (none lowest),
 * then dev (none highest), then local (none lowest; numeric segments beat
 * alphanumeric ones, which compare as strings).
 *
 * Versions that are not PEP 440 (PyPI still hosts some, e.g. `0.1-bulbasaur`)
 * sort before every valid version, as packaging's old LegacyVersion did (OSV.dev
 * still orders them so), and among themselves by code unit.
 */

import { compareNumeric } from './semver.js';

const PATTERN =
  /^\s*v?(?:(\d+)!)?(\d+(?:\.\d+)*)(?:[-_.]?(alpha|a|beta|b|preview|pre|c|rc)[-_.]?(\d+)?)?(?:-(\d+)|[-_.]?(post|rev|r)[-_.]?(\d+)?)?(?:[-_.]?(dev)[-_.]?(\d+)?)?(?:\+([a-z0-9]+(?:[-_.][a-z0-9]+)*))?\s*$/i;

/** A parsed PEP 440 version; numbers are kept as digit strings. */
export interface Pep440 {
  epoch: string;
  release: string[];
  pre?: { label: 'a' | 'b' | 'rc'; n: string };
  post?: string;
  dev?: string;
  local?: string[];
}

function preLabel(l: string): 'a' | 'b' | 'rc' {
  const s = l.toLowerCase();
  return s === 'a' || s === 'alpha' ? 'a' : s === 'b' || s === 'beta' ? 'b' : 'rc';
}

const strip = (n: string): string => n.replace(/^0+(?=\d)/, '');

/** Parses a PEP 440 version; undefined when it is not one. */
export function parse(v: string): Pep440 | undefined {
  const m = PATTERN.exec(v);
  if (!m) return undefined;
  const out: Pep440 = { epoch: strip(m[1] ?? '0'), release: (m[2] ?? '0').split('.').map(strip) };
  if (m[3] !== undefined) out.pre = { label: preLabel(m[3]), n: strip(m[4] ?? '0') };
  if (m[5] !== undefined) out.post = strip(m[5]);
  else if (m[6] !== undefined) out.post = strip(m[7] ?? '0');
  if (m[8] !== undefined) out.dev = strip(m[9] ?? '0');
  if (m[10] !== undefined) out.local = m[10].toLowerCase().split(/[-_.]/);
  return out;
}

/** Whether `v` is a valid PEP 440 version. */
export function isValid(v: string): boolean {
  return parse(v) !== undefined;
}

/** The normalised form of a valid version (`1.0-alpha1` → `1.0a1`); undefined when invalid. */
export function normalize(v: string): string | undefined {
  const p = parse(v);
  if (!p) return undefined;
  let s = (p.epoch !== '0' ? `${p.epoch}!` : '') + p.release.join('.');
  if (p.pre) s += `${p.pre.label}${p.pre.n}`;
  if (p.post !== undefined) s += `.post${p.post}`;
  if (p.dev !== undefined) s += `.dev${p.dev}`;
  if (p.local) s += `+${p.local.map((x) => (/^\d+$/.test(x) ? strip(x) : x)).join('.')}`;
  return s;
}

const sign = (n: number): number => (n < 0 ? -1 : n > 0 ? 1 : 0);

function compareRelease(a: string[], b: string[]): number {
  for (let i = 0; i < Math.max(a.length, b.length); i++) {
    const r = compareNumeric(a[i] ?? '0', b[i] ?? '0');
    if (r !== 0) return r;
  }
  return 0;
}

/** Rank of the pre-release phase: dev-only release -1, pre-release 0, final 1. */
function phase(p: Pep440): number {
  if (p.pre) return 0;
  return p.post === undefined && p.dev !== undefined ? -1 : 1;
}

function comparePre(x: Pep440, y: Pep440): number {
  const r = phase(x) - phase(y);
  if (r !== 0 || !x.pre || !y.pre) return sign(r);
  if (x.pre.label !== y.pre.label) return x.pre.label < y.pre.label ? -1 : 1;
  return compareNumeric(x.pre.n, y.pre.n);
}

/** Compares optional numbers where "absent" is -infinity (post) or +infinity (dev). */
function compareOptional(a: string | undefined, b: string | undefined, absent: -1 | 1): number {
  if (a === undefined || b === undefined) return a === b ? 0 : a === undefined ? absent : -absent;
  return compareNumeric(a, b);
}

function compareLocal(a: string[] | undefined, b: string[] | undefined): number {
  if (!a || !b) return a === b ? 0 : a ? 1 : -1;
  for (let i = 0; i < Math.min(a.length, b.length); i++) {
    const x = a[i] ?? '';
    const y = b[i] ?? '';
    const xn = /^\d+$/.test(x);
    const yn = /^\d+$/.test(y);
    const r = xn && yn ? compareNumeric(x, y) : xn !== yn ? (xn ? 1 : -1) : x < y ? -1 : x > y ? 1 : 0;
    if (r !== 0) return r;
  }
  return sign(a.length - b.length);
}

/** Compares two parsed versions by PEP 440 ordering. */
export function compareParsed(x: Pep440, y: Pep440): number {
  return (
    compareNumeric(x.epoch, y.epoch) ||
    compareRelease(x.release, y.release) ||
    comparePre(x, y) ||
    compareOptional(x.post, y.post, -1) ||
    compareOptional(x.dev, y.dev, 1) ||
    compareLocal(x.local, y.local)
  );
}

/**
 * Compares two Python versions; -1, 0 or 1.
 * @example compare('1.0c1', '1.0rc1') === 0; compare('1.0.dev0', '1.0a0') === -1
 */
export function compare(a: string, b: string): number {
  const x = parse(a);
  const y = parse(b);
  if (x && y) return compareParsed(x, y);
  if (x || y) return x ? 1 : -1;
  return a < b ? -1 : a > b ? 1 : 0;
}
