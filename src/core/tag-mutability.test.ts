import { describe, expect, it } from 'vitest';
import { isTagImmutable } from './tag-mutability.js';

describe('isTagImmutable', () => {
  it('follows the four ECR modes and their exclusion filters', () => {
    const ex = ['latest', 'dev-*'];
    expect(isTagImmutable({ tagMutability: 'MUTABLE', tagMutabilityExclusions: ex }, 'v1')).toBe(false);
    expect(isTagImmutable({ tagMutability: 'IMMUTABLE', tagMutabilityExclusions: [] }, 'latest')).toBe(true);
    expect(isTagImmutable({ tagMutability: 'IMMUTABLE_WITH_EXCLUSION', tagMutabilityExclusions: ex }, 'latest')).toBe(false);
    expect(isTagImmutable({ tagMutability: 'IMMUTABLE_WITH_EXCLUSION', tagMutabilityExclusions: ex }, 'dev-42')).toBe(false);
    expect(isTagImmutable({ tagMutability: 'IMMUTABLE_WITH_EXCLUSION', tagMutabilityExclusions: ex }, 'v1.2')).toBe(true);
    expect(isTagImmutable({ tagMutability: 'MUTABLE_WITH_EXCLUSION', tagMutabilityExclusions: ex }, 'dev-1')).toBe(true);
    expect(isTagImmutable({ tagMutability: 'MUTABLE_WITH_EXCLUSION', tagMutabilityExclusions: ex }, 'v1')).toBe(false);
    expect(isTagImmutable({ tagMutability: 'IMMUTABLE_WITH_EXCLUSION', tagMutabilityExclusions: ['a.b'] }, 'aXb')).toBe(true);
  });
});
