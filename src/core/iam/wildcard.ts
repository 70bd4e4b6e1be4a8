/**
 * Wildcard ("glob") matching as IAM does it: `*` matches any run of characters (including
 * none, and including `:` and `/`), `?` matches exactly one character. Everything else is
 * literal. Internally a backslash escapes the next character; IAM itself has no escape
 * syntax, so text taken from a policy goes through {@link escapeGlobText} first and only
 * policy-variable substitutions (`${*}`, `${?}`, values from the request) produce escapes.
 */

const cache = new Map<string, RegExp>();
const CACHE_LIMIT = 5000;

/** Escapes backslashes only: `*` and `?` stay wildcards. For text written in a policy. */
export function escapeGlobText(text: string): string {
  return text.replace(/\\/g, '\\\\');
}

/** Escapes backslashes, `*` and `?`: the result matches `text` literally. */
export function escapeGlobLiteral(text: string): string {
  return text.replace(/[\\*?]/g, (c) => `\\${c}`);
}

/** Removes the escapes of a glob, giving the text it stands for when read literally. */
export function unescapeGlob(glob: string): string {
  return glob.replace(/\\(.)/gs, '$1');
}

function compile(glob: string, ignoreCase: boolean): RegExp {
  const key = `${ignoreCase ? 'i' : 's'}${glob}`;
  const hit = cache.get(key);
  if (hit !== undefined) return hit;
  let source = '';
  for (let i = 0; i < glob.length; i++) {
    const c = glob[i] as string;
    if (c === '\\' && i + 1 < glob.length) source += escapeRegExp(glob[++i] as string);
    else if (c === '*') source += '.*';
    else if (c === '?') source += '.';
    else source += escapeRegExp(c);
  }
  const re = new RegExp(`^${source}$`, ignoreCase ? 'isu' : 'su');
  if (cache.size >= CACHE_LIMIT) cache.clear();
  cache.set(key, re);
  return re;
}

function escapeRegExp(c: string): string {
  return /[\\^$.*+?()[\]{}|/]/.test(c) ? `\\${c}` : c;
}

/**
 * Whether `value` matches the glob `pattern` (whole-string match). `ignoreCase` is used for
 * actions; resources and ARNs match case-sensitively.
 */
export function matchGlob(pattern: string, value: string, ignoreCase = false): boolean {
  if (pattern === '*') return true;
  if (!/[\\*?]/.test(pattern)) return ignoreCase ? pattern.toLowerCase() === value.toLowerCase() : pattern === value;
  return compile(pattern, ignoreCase).test(value);
}
