/**
 * Alpine package version ordering, as apk-tools implements it (src/version.c,
 * `apk_version_compare`, apk-tools 2.14 / 3.x).
 *
 * Grammar: `digit{.digit}...{letter}{_suffix{#}}...{~hash}{-r#}`. Tokens are
 * compared left to right: the first number and suffix/revision numbers
 * numerically, later dotted numbers numerically unless either has a leading
 * zero (then as raw strings, "similar to Gentoo"), letters by character,
 * suffixes by the table `_alpha < _beta < _pre < _rc < (none) < _cvs < _svn <
 * _git < _hg < _p`, commit hashes as strings. When one version runs out of
 * tokens first, it is lower unless the other continues with a pre-release suffix.
 * Invalid input is compared up to the first invalid token, as apk does.
 */

const enum T {
  InitialDigit,
  Digit,
  Letter,
  Suffix,
  SuffixNo,
  CommitHash,
  RevisionNo,
  End,
  Invalid,
}

/** Suffix values; NONE (5) is the pivot between pre- and post-release suffixes. */
const SUFFIXES: Record<string, number> = { alpha: 1, beta: 2, pre: 3, rc: 4, cvs: 6, svn: 7, git: 8, hg: 9, p: 10 };
const SUFFIX_NONE = 5;

interface Token {
  type: T;
  value: string;
  suffix: number;
}

class Lexer {
  private pos = 0;
  constructor(private readonly s: string) {}

  private span(re: RegExp): string {
    const start = this.pos;
    while (this.pos < this.s.length && re.test(this.s[this.pos] ?? '')) this.pos++;
    return this.s.slice(start, this.pos);
  }

  first(): Token {
    const value = this.span(/[0-9]/);
    return { type: value === '' ? T.Invalid : T.InitialDigit, value, suffix: 0 };
  }

  next(prev: Token): Token {
    const inv: Token = { type: T.Invalid, value: '', suffix: 0 };
    if (this.pos >= this.s.length) return { type: T.End, value: '', suffix: 0 };
    const c = this.s[this.pos] ?? '';
    if (c >= 'a' && c <= 'z') {
      if (prev.type > T.Digit) return inv;
      this.pos++;
      return { type: T.Letter, value: c, suffix: 0 };
    }
    if (c === '.' || (c >= '0' && c <= '9')) {
      if (c === '.') {
        if (prev.type > T.Digit) return inv;
        this.pos++;
      }
      let type: T;
      if (prev.type === T.InitialDigit || prev.type === T.Digit) type = T.Digit;
      else if (prev.type === T.Suffix) type = T.SuffixNo;
      else return inv;
      const value = this.span(/[0-9]/);
      return value === '' ? inv : { type, value, suffix: 0 };
    }
    if (c === '_') {
      if (prev.type > T.SuffixNo) return inv;
      this.pos++;
      const value = this.span(/[a-z]/);
      const suffix = SUFFIXES[value];
      return suffix === undefined ? inv : { type: T.Suffix, value, suffix };
    }
    if (c === '~') {
      if (prev.type >= T.CommitHash) return inv;
      this.pos++;
      const value = this.span(/[0-9a-fA-F]/);
      return value === '' ? inv : { type: T.CommitHash, value, suffix: 0 };
    }
    if (c === '-') {
      if (prev.type >= T.RevisionNo || this.s[this.pos + 1] !== 'r') return inv;
      this.pos += 2;
      const value = this.span(/[0-9]/);
      return value === '' ? inv : { type: T.RevisionNo, value, suffix: 0 };
    }
    return inv;
  }
}

const cmpStr = (a: string, b: string): number => (a < b ? -1 : a > b ? 1 : 0);
const cmpNum = (a: string, b: string): number => {
  const x = a.replace(/^0+/, '');
  const y = b.replace(/^0+/, '');
  return x.length !== y.length ? Math.sign(x.length - y.length) : cmpStr(x, y);
};

function tokenCmp(a: Token, b: Token): number {
  switch (a.type) {
    case T.Digit:
      if (a.value.startsWith('0') || b.value.startsWith('0')) return cmpStr(a.value, b.value);
      return cmpNum(a.value, b.value);
    case T.InitialDigit:
    case T.SuffixNo:
    case T.RevisionNo:
      return cmpNum(a.value, b.value);
    case T.Suffix:
      return Math.sign(a.suffix - b.suffix);
    default:
      return cmpStr(a.value, b.value);
  }
}

/**
 * Compares two apk versions; negative, zero or positive as `a` sorts before,
 * equal to or after `b`. @example compare('1.2.3_rc1-r0', '1.2.3-r0') < 0
 */
export function compare(a: string, b: string): number {
  const la = new Lexer(a);
  const lb = new Lexer(b);
  let ta = la.first();
  let tb = lb.first();
  while (ta.type === tb.type && ta.type < T.End) {
    const r = tokenCmp(ta, tb);
    if (r !== 0) return r;
    ta = la.next(ta);
    tb = lb.next(tb);
  }
  if (ta.type === tb.type) return 0;
  if (ta.type === T.Suffix && ta.suffix < SUFFIX_NONE) return -1;
  if (tb.type === T.Suffix && tb.suffix < SUFFIX_NONE) return 1;
  return ta.type > tb.type ? -1 : 1;
}

/** Whether apk-tools accepts `v` as a version (`apk_version_validate`). */
export function isValid(v: string): boolean {
  const l = new Lexer(v);
  let t = l.first();
  while (t.type < T.End) t = l.next(t);
  return t.type === T.End;
}
