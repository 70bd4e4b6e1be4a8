/**
 * Tag matching for lifecycle rules. Patterns are ECR's `tagPatternList` syntax: `*` matches
 * any run of characters (including none), every other character is literal, and the whole
 * tag must match. Matching is case-sensitive, like tags themselves.
 */
import type { LifecycleSelection } from './types.js';

/** Most `*` wildcards ECR allows in one `tagPatternList` string. */
export const MAX_PATTERN_WILDCARDS = 4;

/** True when `tag` matches the wildcard `pattern` as a whole. Linear-time; no regular expressions. */
export function matchesTagPattern(pattern: string, tag: string): boolean {
  const parts = pattern.split('*');
  if (parts.length === 1) return pattern === tag;
  const first = parts[0] ?? '';
  const last = parts[parts.length - 1] ?? '';
  if (first.length + last.length > tag.length) return false;
  if (!tag.startsWith(first) || !tag.endsWith(last)) return false;
  // Middle segments, in order, each as early as possible between the fixed head and tail.
  let at = first.length;
  const end = tag.length - last.length;
  for (let i = 1; i < parts.length - 1; i++) {
    const part = parts[i] ?? '';
    const found = tag.indexOf(part, at);
    if (found < 0 || found + part.length > end) return false;
    at = found + part.length;
  }
  return true;
}

/** True when at least one tag matches at least one of the patterns (the `protectTagPatterns` test). */
export function anyTagMatchesAnyPattern(patterns: readonly string[], tags: readonly string[]): boolean {
  return patterns.some((p) => tags.some((t) => matchesTagPattern(p, t)));
}

/**
 * The tagging requirements of a rule: `any` takes every image, `untagged` images without
 * tags, `tagged` images for which every listed prefix (or pattern) matches at least one tag
 * (not necessarily the same tag for every entry).
 */
export function matchesTagRequirements(selection: LifecycleSelection, tags: readonly string[]): boolean {
  switch (selection.tagStatus) {
    case 'any':
      return true;
    case 'untagged':
      return tags.length === 0;
    case 'tagged': {
      if (tags.length === 0) return false;
      const { tagPrefixList, tagPatternList } = selection;
      if (tagPrefixList !== undefined) return tagPrefixList.every((p) => tags.some((t) => t.startsWith(p)));
      if (tagPatternList !== undefined) return tagPatternList.every((p) => tags.some((t) => matchesTagPattern(p, t)));
      return false;
    }
  }
}

/** Number of `*` in a pattern. */
export function countWildcards(pattern: string): number {
  let n = 0;
  for (const ch of pattern) if (ch === '*') n++;
  return n;
}
