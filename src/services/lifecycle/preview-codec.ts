/**
 * The stored form of a lifecycle preview (registry setting `lifecycle-preview/<repository>`).
 * Results are kept as columns, one array per field, rather than one object per image: a
 * preview over 100,000 images holds about as many results, and the columns are half the JSON
 * to write and to parse on every GetLifecyclePolicyPreview page.
 */
import type { LifecyclePreview, PreviewResult } from './lifecycle-service.js';

interface StoredColumns {
  v: 2;
  policyText: string;
  status: 'COMPLETE';
  evaluatedAt: number;
  expiringCount: number;
  bytesFreed: number;
  digest: string[];
  tags: string[][];
  pushedAt: number[];
  rulePriority: number[];
  /** One character per result: `e` expire, `t` transition. */
  action: string;
  sizeBytes: number[];
}

export function encodePreview(p: LifecyclePreview): string {
  const r = p.results;
  const stored: StoredColumns = {
    v: 2,
    policyText: p.policyText,
    status: p.status,
    evaluatedAt: p.evaluatedAt,
    expiringCount: p.expiringCount,
    bytesFreed: p.bytesFreed,
    digest: r.map((x) => x.digest),
    tags: r.map((x) => x.tags),
    pushedAt: r.map((x) => x.pushedAt),
    rulePriority: r.map((x) => x.rulePriority),
    action: r.map((x) => (x.action === 'expire' ? 'e' : 't')).join(''),
    sizeBytes: r.map((x) => x.sizeBytes),
  };
  return JSON.stringify(stored);
}

/** Reads both this form and the earlier one (the preview object as it is). */
export function decodePreview(text: string): LifecyclePreview {
  const v = JSON.parse(text) as StoredColumns | LifecyclePreview;
  if (!('v' in v)) return v;
  const results: PreviewResult[] = v.digest.map((digest, i) => ({
    digest,
    tags: v.tags[i]!,
    pushedAt: v.pushedAt[i]!,
    rulePriority: v.rulePriority[i]!,
    action: v.action[i] === 't' ? 'transition' : 'expire',
    sizeBytes: v.sizeBytes[i]!,
  }));
  return { policyText: v.policyText, status: v.status, evaluatedAt: v.evaluatedAt, results, expiringCount: v.expiringCount, bytesFreed: v.bytesFreed };
}
