/**
 * Totals of a set of lifecycle decisions, per rule and overall, for the preview summary
 * (GetLifecyclePolicyPreview's `expiringImageTotalCount` / `transitioningImageTotalCounts`) and
 * for job logs and metrics.
 */
import type { LifecycleDecision, LifecycleImage } from './types.js';

/** What one rule did. Byte counts sum the images' `sizeBytes` (see {@link LifecycleSummary}). */
export interface LifecycleRuleSummary {
  readonly rulePriority: number;
  readonly expiringImageCount: number;
  readonly transitioningImageCount: number;
  readonly expiringBytes: number;
  readonly transitioningBytes: number;
}

/**
 * Totals over all rules. `bytesFreed` is the sum of the expiring images' sizes: an upper bound
 * of what garbage collection reclaims, since blobs shared with kept images stay.
 */
export interface LifecycleSummary {
  /** One entry per rule that decided something, by ascending rulePriority. */
  readonly rules: readonly LifecycleRuleSummary[];
  readonly expiringImageCount: number;
  readonly transitioningImageCount: number;
  readonly bytesFreed: number;
  readonly bytesTransitioned: number;
}

/**
 * Counts decisions and sums sizes per rule. Images carried along with their unit count under
 * the rule that decided the unit. Decisions for digests missing from `images` count as 0 bytes.
 */
export function summarizeLifecycleDecisions(
  decisions: readonly LifecycleDecision[],
  images: readonly LifecycleImage[],
): LifecycleSummary {
  const sizes = new Map<string, number>();
  for (const image of images) if (!sizes.has(image.digest)) sizes.set(image.digest, image.sizeBytes);
  const perRule = new Map<number, { e: number; t: number; eb: number; tb: number }>();
  for (const d of decisions) {
    const row = perRule.get(d.rulePriority) ?? { e: 0, t: 0, eb: 0, tb: 0 };
    const size = sizes.get(d.digest) ?? 0;
    if (d.action === 'expire') {
      row.e++;
      row.eb += size;
    } else {
      row.t++;
      row.tb += size;
    }
    perRule.set(d.rulePriority, row);
  }
  const rules = [...perRule.entries()]
    .sort(([a], [b]) => a - b)
    .map(([rulePriority, r]) => ({
      rulePriority,
      expiringImageCount: r.e,
      transitioningImageCount: r.t,
      expiringBytes: r.eb,
      transitioningBytes: r.tb,
    }));
  const sum = (f: (r: LifecycleRuleSummary) => number): number => rules.reduce((acc, r) => acc + f(r), 0);
  return {
    rules,
    expiringImageCount: sum((r) => r.expiringImageCount),
    transitioningImageCount: sum((r) => r.transitioningImageCount),
    bytesFreed: sum((r) => r.expiringBytes),
    bytesTransitioned: sum((r) => r.transitioningBytes),
  };
}
