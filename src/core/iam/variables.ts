/**
 * Policy variables (IAM policy grammar, Version 2012-10-17 only): `${key}` is replaced by the
 * request-context value of `key` (key names case-insensitive), `${key, 'default'}` falls back
 * to the quoted text (a quote inside it is written `''`), and `${*}`, `${?}`, `${$}` stand for
 * a literal `*`, `?` and `$`. A variable whose key is absent or multivalued, and has no
 * default, leaves the whole string unresolved: it then matches nothing.
 */
import { escapeGlobLiteral, escapeGlobText } from './wildcard.js';
import type { PolicyVersion } from './types.js';

/** One piece of a policy string: literal policy text, an escape, or a variable reference. */
export type TemplatePart =
  | { readonly kind: 'text'; readonly text: string }
  | { readonly kind: 'literal'; readonly text: string }
  | { readonly kind: 'variable'; readonly name: string; readonly fallback?: string };

/** A policy string after substitution: as a glob (for `*Like`, Resource) and as plain text. */
export interface Resolved {
  readonly glob: string;
  readonly text: string;
}

const NAME = /[^\s,'{}$]+/y;
const parsed = new Map<string, readonly TemplatePart[]>();

/**
 * Splits `source` into text, escapes and variables. Throws an `Error` whose message says what
 * is wrong (unterminated `${`, empty name, bad default) for the policy parser to wrap.
 */
export function parseTemplate(source: string): readonly TemplatePart[] {
  const hit = parsed.get(source);
  if (hit !== undefined) return hit;
  const parts: TemplatePart[] = [];
  let text = '';
  let i = 0;
  while (i < source.length) {
    const start = source.indexOf('${', i);
    if (start < 0) break;
    text += source.slice(i, start);
    const close = source.indexOf('}', start + 2);
    const inner = close < 0 ? '' : source.slice(start + 2, close);
    if (inner === '*' || inner === '?' || inner === '$') {
      if (text !== '') parts.push({ kind: 'text', text });
      text = '';
      parts.push({ kind: 'literal', text: inner });
      i = close + 1;
      continue;
    }
    const { part, end } = parseVariable(source, start);
    if (text !== '') parts.push({ kind: 'text', text });
    text = '';
    parts.push(part);
    i = end;
  }
  text += source.slice(i);
  if (text !== '') parts.push({ kind: 'text', text });
  if (parsed.size > 5000) parsed.clear();
  parsed.set(source, parts);
  return parts;
}

function parseVariable(source: string, start: number): { part: TemplatePart; end: number } {
  const fail = (why: string): never => {
    throw new Error(`malformed policy variable at offset ${start}: ${why}`);
  };
  let i = skipSpaces(source, start + 2);
  NAME.lastIndex = i;
  const m = NAME.exec(source);
  if (m === null) fail('expected a key name');
  const name = (m as RegExpExecArray)[0];
  i = skipSpaces(source, i + name.length);
  let fallback: string | undefined;
  if (source[i] === ',') {
    i = skipSpaces(source, i + 1);
    if (source[i] !== "'") fail("the default value must be in single quotes");
    fallback = '';
    for (i++; ; i++) {
      if (i >= source.length) fail('unterminated default value');
      if (source[i] === "'") {
        if (source[i + 1] !== "'") break;
        i++;
      }
      fallback += source[i];
    }
    i = skipSpaces(source, i + 1);
  }
  if (source[i] !== '}') fail('expected "}"');
  const part: TemplatePart =
    fallback === undefined ? { kind: 'variable', name } : { kind: 'variable', name, fallback };
  return { part, end: i + 1 };
}

function skipSpaces(s: string, i: number): number {
  while (i < s.length && (s[i] === ' ' || s[i] === '\t')) i++;
  return i;
}

/**
 * Resolves a policy string for one request. With Version 2008-10-17 nothing is substituted
 * (`${...}` is literal text). `lookup` returns the single value of a context key or undefined
 * when the key is absent or multivalued. Returns undefined when a variable without a default
 * cannot be resolved.
 */
export function resolvePolicyString(
  source: string,
  version: PolicyVersion,
  lookup: (name: string) => string | undefined,
): Resolved | undefined {
  if (version !== '2012-10-17' || !source.includes('${')) return { glob: escapeGlobText(source), text: source };
  let glob = '';
  let text = '';
  for (const part of parseTemplate(source)) {
    let value: string | undefined;
    if (part.kind === 'text') {
      glob += escapeGlobText(part.text);
      text += part.text;
      continue;
    }
    if (part.kind === 'literal') value = part.text;
    else value = lookup(part.name) ?? part.fallback;
    if (value === undefined) return undefined;
    glob += escapeGlobLiteral(value);
    text += value;
  }
  return { glob, text };
}
