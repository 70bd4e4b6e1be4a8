/**
 * Maven version ordering: `org.apache.maven.artifact.versioning.ComparableVersion`
 * as of Maven 3.9 (including MNG-6964 and MNG-7644).
 *
 * The lower-cased version is split into items at `.`, at `-` (which opens a
 * nested list) and at every digit/letter transition (which also opens a nested
 * list; a qualifier that follows a `.` is treated as if it followed a `-`).
 * Numeric items compare numerically. String items are qualifiers ordered
 * `alpha < beta < milestone < rc = cr < snapshot < "" = ga = final = release <
 * sp < (any other, lexically)`; `a`, `b`, `m` directly followed by a digit mean
 * alpha, beta, milestone. Trailing "null" items (0, "", empty lists) are
 * dropped, so `1 == 1.0 == 1-0 == 1.ga`. Between kinds: number > list > string
 * (`1.1 > 1-1 > 1-sp`). A missing item compares as null, so `1-rc < 1 < 1-sp`.
 * Every string is a version to Maven; there is no invalid input.
 */

type Item = { t: 'int'; v: bigint } | { t: 'str'; v: string } | { t: 'list'; v: Item[] };

const QUALIFIERS = ['alpha', 'beta', 'milestone', 'rc', 'snapshot', '', 'sp'];
const ALIASES: Record<string, string> = { ga: '', final: '', release: '', cr: 'rc' };
const RELEASE_INDEX = String(QUALIFIERS.indexOf(''));

function strItem(value: string, followedByDigit: boolean): Item {
  let v = value;
  if (followedByDigit && v.length === 1) v = v === 'a' ? 'alpha' : v === 'b' ? 'beta' : v === 'm' ? 'milestone' : v;
  return { t: 'str', v: ALIASES[v] ?? v };
}

function parseItem(isDigit: boolean, buf: string): Item {
  return isDigit ? { t: 'int', v: BigInt(buf) } : strItem(buf, false);
}

/** Java's String.compareTo sign for the qualifier keys. */
const cmpStr = (a: string, b: string): number => (a < b ? -1 : a > b ? 1 : 0);

function qualifierKey(q: string): string {
  const i = QUALIFIERS.indexOf(q);
  return i === -1 ? `${QUALIFIERS.length}-${q}` : String(i);
}

function isNull(i: Item): boolean {
  if (i.t === 'int') return i.v === 0n;
  if (i.t === 'str') return qualifierKey(i.v) === RELEASE_INDEX;
  return i.v.length === 0;
}

function normalize(list: Item[]): void {
  for (let i = list.length - 1; i >= 0; i--) {
    const last = list[i];
    if (last === undefined) continue;
    if (isNull(last)) list.splice(i, 1);
    else if (last.t !== 'list') break;
  }
}

/** Parses a version into ComparableVersion's item tree. */
export function parse(version: string): Item[] {
  const s = version.toLowerCase();
  const root: Item[] = [];
  let list = root;
  const stack: Item[][] = [root];
  const push = (): void => {
    const next: Item[] = [];
    list.push({ t: 'list', v: next });
    list = next;
    stack.push(next);
  };
  let isDigit = false;
  let start = 0;
  for (let i = 0; i < s.length; i++) {
    const c = s[i] ?? '';
    if (c === '.' || c === '-') {
      list.push(i === start ? { t: 'int', v: 0n } : parseItem(isDigit, s.slice(start, i)));
      start = i + 1;
      if (c === '-') push();
    } else if (c >= '0' && c <= '9') {
      if (!isDigit && i > start) {
        if (list.length > 0) push();
        list.push(strItem(s.slice(start, i), true));
        start = i;
        push();
      }
      isDigit = true;
    } else {
      if (isDigit && i > start) {
        list.push(parseItem(true, s.slice(start, i)));
        start = i;
        push();
      }
      isDigit = false;
    }
  }
  if (s.length > start) {
    if (!isDigit && list.length > 0) push();
    list.push(parseItem(isDigit, s.slice(start)));
  }
  for (const l of stack.reverse()) normalize(l);
  return root;
}

function compareItem(a: Item, b: Item | undefined): number {
  if (b === undefined) {
    if (a.t === 'int') return a.v === 0n ? 0 : 1;
    if (a.t === 'str') return cmpStr(qualifierKey(a.v), RELEASE_INDEX);
    for (const i of a.v) {
      const r = compareItem(i, undefined);
      if (r !== 0) return r;
    }
    return 0;
  }
  if (a.t === 'int') {
    if (b.t === 'int') return a.v < b.v ? -1 : a.v > b.v ? 1 : 0;
    return 1;
  }
  if (a.t === 'str') {
    if (b.t === 'str') return cmpStr(qualifierKey(a.v), qualifierKey(b.v));
    return -1;
  }
  if (b.t === 'int') return -1;
  if (b.t === 'str') return 1;
  return compareLists(a.v, b.v);
}

function compareLists(a: Item[], b: Item[]): number {
  for (let i = 0; i < Math.max(a.length, b.length); i++) {
    const l = a[i];
    const r = b[i];
    const res = l === undefined ? (r === undefined ? 0 : -compareItem(r, undefined)) : compareItem(l, r);
    if (res !== 0) return res;
  }
  return 0;
}

/**
 * Compares two Maven versions; -1, 0 or 1.
 * @example compare('1.0-SNAPSHOT', '1.0') === -1; compare('1-sp', '1') === 1
 */
export function compare(a: string, b: string): number {
  return compareLists(parse(a), parse(b));
}

/** Every non-empty string is a Maven version; this only rejects empty or blank input. */
export function isValid(v: string): boolean {
  return v.trim() !== '';
}
