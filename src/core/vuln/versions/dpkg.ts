/**
 * Debian package version ordering, as dpkg implements it (lib/dpkg/version.c,
 * `dpkg_version_compare` / `verrevcmp`) and Debian Policy §5.6.12 describes it.
 *
 * A version is `[epoch:]upstream[-revision]`: the epoch is an unsigned integer
 * (default 0), the revision is everything after the last hyphen (default empty,
 * which compares equal to "0"). Upstream and revision are compared with the
 * same routine: alternate non-digit runs (compared character by character with
 * `~` lowest, then the end of the string, then letters, then everything else)
 * and digit runs (compared numerically).
 *
 * The comparison is total: any string can be compared, as dpkg itself compares
 * whatever it is given. {@link isValid} says whether dpkg would accept the string.
 */

interface DpkgVersion {
  epoch: string;
  upstream: string;
  revision: string;
}

function parse(v: string): DpkgVersion {
  const s = v.trim();
  const colon = s.indexOf(':');
  const epoch = colon >= 0 ? s.slice(0, colon) : '0';
  const rest = colon >= 0 ? s.slice(colon + 1) : s;
  const hyphen = rest.lastIndexOf('-');
  return hyphen >= 0
    ? { epoch, upstream: rest.slice(0, hyphen), revision: rest.slice(hyphen + 1) }
    : { epoch, upstream: rest, revision: '' };
}

const isDigit = (c: string | undefined): boolean => c !== undefined && c >= '0' && c <= '9';
const isAlpha = (c: string): boolean => (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');

/** dpkg's `order()`: weight of one character in a non-digit run; undefined is the end of the run. */
function order(c: string | undefined): number {
  if (c === undefined || isDigit(c)) return 0;
  if (isAlpha(c)) return c.charCodeAt(0);
  if (c === '~') return -1;
  return c.charCodeAt(0) + 256;
}

/** Compares two digit strings numerically without converting them to numbers. */
function compareDigits(a: string, b: string): number {
  const x = a.replace(/^0+/, '');
  const y = b.replace(/^0+/, '');
  if (x.length !== y.length) return x.length - y.length;
  return x < y ? -1 : x > y ? 1 : 0;
}

/** dpkg's `verrevcmp`, applied to an upstream version or a revision. */
function verrevcmp(a: string, b: string): number {
  let i = 0;
  let j = 0;
  while (i < a.length || j < b.length) {
    while ((i < a.length && !isDigit(a[i])) || (j < b.length && !isDigit(b[j]))) {
      const ac = order(i < a.length ? a[i] : undefined);
      const bc = order(j < b.length ? b[j] : undefined);
      if (ac !== bc) return ac - bc;
      i++;
      j++;
    }
    let ei = i;
    while (isDigit(a[ei])) ei++;
    let ej = j;
    while (isDigit(b[ej])) ej++;
    const r = compareDigits(a.slice(i, ei), b.slice(j, ej));
    if (r !== 0) return r;
    i = ei;
    j = ej;
  }
  return 0;
}

/**
 * Compares two Debian versions. Returns a negative number, zero or a positive
 * number as `a` sorts before, equal to or after `b`.
 *
 * @example compare('1:1.0', '2.0') > 0; compare('1.0~rc1', '1.0') < 0
 */
export function compare(a: string, b: string): number {
  const x = parse(a);
  const y = parse(b);
  const e = compareDigits(x.epoch, y.epoch);
  if (e !== 0) return Math.sign(e);
  const u = verrevcmp(x.upstream, y.upstream);
  if (u !== 0) return Math.sign(u);
  return Math.sign(verrevcmp(x.revision, y.revision));
}

/**
 * Whether dpkg would accept `v` as a version: numeric epoch, an upstream part
 * that starts with a digit and holds only alphanumerics and `.+~-` (hyphen only
 * when there is a revision), and a revision of alphanumerics and `.+~`.
 */
export function isValid(v: string): boolean {
  const m = /^(?:(\d+):)?([^:]*?)(?:-([^-]*))?$/.exec(v);
  if (!m) return false;
  const upstream = m[2] ?? '';
  const revision = m[3];
  if (!/^\d[A-Za-z0-9.+~-]*$/.test(upstream)) return false;
  if (revision === undefined) return !upstream.includes('-');
  return /^[A-Za-z0-9.+~]+$/.test(revision);
}
