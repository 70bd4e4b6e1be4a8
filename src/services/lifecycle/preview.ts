/**
 * A lifecycle preview and its stored form (registry setting `lifecycle-preview/<repository>`).
 * Results are columns, one array per field, rather than one object per image, in memory as in
 * storage: a preview over 100,000 images holds about as many results; the columns are half the
 * JSON to write and to parse, and neither the preview nor a page of GetLifecyclePolicyPreview
 * builds an object per result (only the page's are shaped).
 */
import type { DecidedImage } from '../../core/lifecycle/index.js';

/** One result, as a page shows it. */
export interface PreviewResult {
  digest: string;
  tags: readonly string[];
  pushedAt: number;
  rulePriority: number;
  action: 'expire' | 'transition';
  sizeBytes: number;
}

/** Every result, field by field: result `i` is the `i`-th entry of each column. */
export interface PreviewResults {
  digest: string[];
  tags: (readonly string[])[];
  pushedAt: number[];
  rulePriority: number[];
  /** One character per result: `e` expire, `t` transition. */
  action: string;
  sizeBytes: number[];
}

export interface LifecyclePreview {
  policyText: string;
  status: 'COMPLETE';
  evaluatedAt: number;
  results: PreviewResults;
  expiringCount: number;
  /** Bytes of the blobs only the expiring images use (what expiring them would free). */
  bytesFreed: number;
}

/** The results of a policy's decisions, and the digests of the images they expire. */
export function previewResultsOf(decided: readonly DecidedImage[]): { results: PreviewResults; expiring: string[] } {
  const expiring: string[] = [];
  const results: PreviewResults = { digest: [], tags: [], pushedAt: [], rulePriority: [], action: '', sizeBytes: [] };
  const actions: string[] = [];
  for (const { image, decision } of decided) {
    results.digest.push(image.digest);
    results.tags.push(image.tags);
    results.pushedAt.push(image.pushedAt);
    results.rulePriority.push(decision.rulePriority);
    actions.push(decision.action === 'expire' ? 'e' : 't');
    results.sizeBytes.push(image.sizeBytes);
    if (decision.action === 'expire') expiring.push(image.digest);
  }
  results.action = actions.join('');
  return { results, expiring };
}

export function previewResultAt(r: PreviewResults, i: number): PreviewResult {
  return {
    digest: r.digest[i]!,
    tags: r.tags[i]!,
    pushedAt: r.pushedAt[i]!,
    rulePriority: r.rulePriority[i]!,
    action: r.action[i] === 't' ? 'transition' : 'expire',
    sizeBytes: r.sizeBytes[i]!,
  };
}

type StoredColumns = Omit<LifecyclePreview, 'results'> & PreviewResults & { v: 2 };

/** The form the first previews were stored in: the preview object with one object per result. */
interface StoredObjects extends Omit<LifecyclePreview, 'results'> {
  results: PreviewResult[];
}

export function encodePreview(p: LifecyclePreview): string {
  const stored: StoredColumns = { v: 2, policyText: p.policyText, status: p.status, evaluatedAt: p.evaluatedAt, expiringCount: p.expiringCount, bytesFreed: p.bytesFreed, ...p.results };
  return JSON.stringify(stored);
}

/** Reads both this form and the earlier one. */
export function decodePreview(text: string): LifecyclePreview {
  const v = JSON.parse(text) as StoredColumns | StoredObjects;
  const header = { policyText: v.policyText, status: v.status, evaluatedAt: v.evaluatedAt, expiringCount: v.expiringCount, bytesFreed: v.bytesFreed };
  if ('v' in v) {
    const { digest, tags, pushedAt, rulePriority, action, sizeBytes } = v;
    return { ...header, results: { digest, tags, pushedAt, rulePriority, action, sizeBytes } };
  }
  const r = v.results;
  return {
    ...header,
    results: {
      digest: r.map((x) => x.digest),
      tags: r.map((x) => x.tags),
      pushedAt: r.map((x) => x.pushedAt),
      rulePriority: r.map((x) => x.rulePriority),
      action: r.map((x) => (x.action === 'transition' ? 't' : 'e')).join(''),
      sizeBytes: r.map((x) => x.sizeBytes),
    },
  };
}
