/**
 * An image's findings as the API shows them: the stored matches joined with the package of
 * the stored inventory (path, layer, platform) and the advisory's text, CVSS and references,
 * sorted by severity (most severe first), then advisory id, then package position.
 */
import type { OsvRecord } from '../../core/vuln/osv.js';
import { assess, type Severity } from '../../core/vuln/severity.js';
import type { ImageFinding } from '../../metadata/scans-types.js';
import type { VulnDbStore } from '../../metadata/vulndb-types.js';
import type { InventoryPackage } from '../../scan/index.js';

export const SEVERITY_ORDER: readonly Severity[] = ['CRITICAL', 'HIGH', 'MEDIUM', 'LOW', 'INFORMATIONAL', 'UNDEFINED'];

export type FindingPackage = InventoryPackage & { platform?: string };

export interface FindingDetail {
  vulnId: string;
  severity: Severity;
  fixedVersion?: string;
  fixAvailable: 'YES' | 'NO';
  firstSeenAt: number;
  package: FindingPackage;
  summary?: string;
  details?: string;
  aliases: string[];
  references: string[];
  /** The advisory page: its ADVISORY reference, else its first reference, else osv.dev. */
  uri: string;
  cvss?: { score: number; vector: string; version: string };
  severitySource?: 'vendor' | 'cvss' | 'label';
  vendorStatus?: string;
  published?: string;
  modified?: string;
}

/** Where a finding sorts; also the pagination cursor. */
export function findingCursor(f: Pick<ImageFinding, 'severity' | 'vulnId' | 'pkg'>): string {
  return `${SEVERITY_ORDER.indexOf(f.severity)}|${f.vulnId}|${String(f.pkg).padStart(8, '0')}`;
}

/** Sorted, after `after`, at most `limit`; `next` when more follow. */
export function pageOf(rows: readonly ImageFinding[], after: string | undefined, limit: number): { rows: ImageFinding[]; next?: string } {
  const sorted = rows.map((r) => ({ r, c: findingCursor(r) })).sort((a, b) => (a.c < b.c ? -1 : a.c > b.c ? 1 : 0));
  const rest = after === undefined ? sorted : sorted.filter((x) => x.c > after);
  const page = rest.slice(0, limit);
  return rest.length > limit ? { rows: page.map((x) => x.r), next: page[page.length - 1]!.c } : { rows: page.map((x) => x.r) };
}

function uriOf(record: OsvRecord | null, id: string): string {
  const refs = record?.references ?? [];
  return refs.find((r) => r.type === 'ADVISORY')?.url ?? refs[0]?.url ?? `https://osv.dev/vulnerability/${encodeURIComponent(id)}`;
}

/** Details of one page of findings (advisories read once per id). */
export async function describeFindings(vulndb: Pick<VulnDbStore, 'get'>, rows: readonly ImageFinding[], packages: readonly FindingPackage[]): Promise<FindingDetail[]> {
  const ids = [...new Set(rows.map((r) => r.vulnId))];
  const records = new Map<string, OsvRecord | null>(await Promise.all(ids.map(async (id) => [id, (await vulndb.get(id))?.record ?? null] as const)));
  return rows.map((r) => {
    const pkg = packages[r.pkg] ?? ({ ecosystem: '?', name: '?', version: '?', purl: '', path: '', layerDigest: '', extractor: '' } as FindingPackage);
    const record = records.get(r.vulnId) ?? null;
    const d: FindingDetail = {
      vulnId: r.vulnId,
      severity: r.severity,
      fixAvailable: r.fixedVersion !== undefined ? 'YES' : 'NO',
      firstSeenAt: r.firstSeenAt,
      package: pkg,
      aliases: record?.aliases ?? [],
      references: (record?.references ?? []).map((x) => x.url),
      uri: uriOf(record, r.vulnId),
    };
    if (r.fixedVersion !== undefined) d.fixedVersion = r.fixedVersion;
    if (!record) return d;
    if (record.summary) d.summary = record.summary;
    if (record.details) d.details = record.details;
    if (record.published) d.published = record.published;
    d.modified = record.modified;
    let a;
    try {
      a = assess(record, pkg);
    } catch {
      a = undefined;
    }
    if (a?.score !== undefined && a.vector) d.cvss = { score: a.score, vector: a.vector, version: /^CVSS:(3\.[01])/.exec(a.vector)?.[1] ?? '3.1' };
    if (a?.source) d.severitySource = a.source;
    if (a?.vendorStatus) d.vendorStatus = a.vendorStatus;
    return d;
  });
}
