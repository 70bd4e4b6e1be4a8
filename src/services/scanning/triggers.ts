/**
 * When an image is scanned, from the repository's `imageScanningConfiguration.scanOnPush` and
 * the registry scanning configuration's rules (ECR's rule: a CONTINUOUS_SCAN rule whose
 * wildcard filter matches the repository wins, then SCAN_ON_PUSH, then the repository's own
 * flag; nothing matching is MANUAL).
 *
 * - SCAN_ON_PUSH and CONTINUOUS_SCAN: the image is indexed when it is pushed.
 * - MANUAL: only StartImageScan (or `berth scan`) indexes it.
 * - Every indexed image is re-matched when the vulnerability database changes, whatever its
 *   frequency: the re-match reads no layer and costs per package version, not per image, so
 *   Berth keeps all findings current (ECR's basic scan freezes them at scan time; its
 *   continuous scanning is what every indexed image gets here).
 */
import { wildcardToRegExp } from '../../core/tag-mutability.js';
import type { RepositorySettings } from '../../metadata/types.js';
import type { ScanningConfig } from '../registry-config/registry-config.js';

export type ScanFrequency = 'SCAN_ON_PUSH' | 'CONTINUOUS_SCAN' | 'MANUAL';

export function scanFrequency(repository: string, settings: Pick<RepositorySettings, 'scanOnPush'>, registry: ScanningConfig): ScanFrequency {
  let frequency: ScanFrequency = 'MANUAL';
  for (const rule of registry.rules ?? []) {
    if (!rule.repositoryFilters.some((f) => wildcardToRegExp(f.filter).test(repository))) continue;
    if (rule.scanFrequency === 'CONTINUOUS_SCAN') return 'CONTINUOUS_SCAN';
    if (rule.scanFrequency === 'SCAN_ON_PUSH') frequency = 'SCAN_ON_PUSH';
  }
  return frequency === 'MANUAL' && settings.scanOnPush ? 'SCAN_ON_PUSH' : frequency;
}

export const scansOnPush = (f: ScanFrequency): boolean => f !== 'MANUAL';
