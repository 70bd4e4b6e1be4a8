import { describe, expect, it } from 'vitest';
import { decodePreview, encodePreview, previewResultAt, type LifecyclePreview } from './preview.js';

const preview: LifecyclePreview = {
  policyText: '{"rules":[]}',
  status: 'COMPLETE',
  evaluatedAt: 1700000000000,
  results: { digest: ['sha256:a', 'sha256:b'], tags: [['v1', 'v2'], []], pushedAt: [5, 6], rulePriority: [1, 2], action: 'et', sizeBytes: [100, 0] },
  expiringCount: 1,
  bytesFreed: 100,
};

describe('lifecycle preview storage', () => {
  it('round-trips the columns', () => {
    expect(decodePreview(encodePreview(preview))).toEqual(preview);
    expect(previewResultAt(preview.results, 1)).toEqual({ digest: 'sha256:b', tags: [], pushedAt: 6, rulePriority: 2, action: 'transition', sizeBytes: 0 });
  });

  it('reads the earlier form, one object per result', () => {
    const { results, ...header } = preview;
    const old = JSON.stringify({ ...header, results: [0, 1].map((i) => previewResultAt(results, i)) });
    expect(decodePreview(old)).toEqual(preview);
  });
});
