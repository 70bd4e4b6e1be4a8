export type TagMutability = 'MUTABLE' | 'IMMUTABLE' | 'IMMUTABLE_WITH_EXCLUSION' | 'MUTABLE_WITH_EXCLUSION';

/** `*` matches any run of characters; everything else is literal. */
export function wildcardToRegExp(pattern: string): RegExp {
  return new RegExp(`^${pattern.split('*').map((p) => p.replace(/[.+?^${}()|[\]\\]/g, '\\$&')).join('.*')}$`);
}

/**
 * Whether a tag may not be moved once it exists (ECR semantics): IMMUTABLE and
 * MUTABLE_WITH_EXCLUSION freeze the tags they cover; an exclusion filter flips the
 * repository's mode for the tags it matches.
 */
export function isTagImmutable(settings: { tagMutability: TagMutability; tagMutabilityExclusions: readonly string[] }, tag: string): boolean {
  const excluded = settings.tagMutabilityExclusions.some((f) => wildcardToRegExp(f).test(tag));
  switch (settings.tagMutability) {
    case 'MUTABLE':
      return false;
    case 'IMMUTABLE':
      return true;
    case 'IMMUTABLE_WITH_EXCLUSION':
      return !excluded;
    case 'MUTABLE_WITH_EXCLUSION':
      return excluded;
  }
}
