/**
 * Matching package versions against the vulnerability database, shared by the scan (new
 * versions of a freshly indexed image) and the re-match (stored versions a changed advisory
 * names). The decision itself is core/vuln's `assess` (OSV ranges, source packages,
 * releases, withdrawn records, severity and the no-fix policy); this module only finds the
 * candidate advisories in batches and keys the results by package version.
 */
import { createHash } from 'node:crypto';
import type { OsvRecord, PackageQuery } from '../../core/vuln/osv.js';
import { assess } from '../../core/vuln/severity.js';
import { parseEcosystem } from '../../core/vuln/versions/index.js';
import type { PackageVersionInput, VulnMatch } from '../../metadata/scans-types.js';
import type { PackageRef, VulnDbStore } from '../../metadata/vulndb-types.js';

/** Package refs per forPackages call: one bounded round of queries per batch. */
const LOOKUP_BATCH = 1000;

/** The stable key of a package version: what matching depends on, and nothing else (not the path or layer). */
export function packageKey(p: PackageQuery): string {
  return createHash('sha256')
    .update(JSON.stringify([p.ecosystem, p.name, p.version, p.sourceName ?? null, p.sourceVersion ?? null]))
    .digest('hex')
    .slice(0, 32);
}

export function toVersion(p: PackageQuery): PackageVersionInput {
  return {
    key: packageKey(p),
    ecosystem: p.ecosystem,
    name: p.name,
    version: p.version,
    ...(p.sourceName !== undefined ? { sourceName: p.sourceName } : {}),
    ...(p.sourceVersion !== undefined ? { sourceVersion: p.sourceVersion } : {}),
  };
}

const pep503 = (n: string): string => n.toLowerCase().replace(/[-_.]+/g, '-');

/** An index key as the vulnerability database files advisories: ecosystem base and name (PyPI normalised). */
export function indexKeyOf(ecosystem: string, name: string): { base: string; name: string } {
  const base = parseEcosystem(ecosystem).base;
  return { base, name: base === 'PyPI' ? pep503(name) : name };
}

/** The index keys a package version is found under: its source name (distributions), and Red Hat's binary name too. */
export function versionIndexKeys(p: PackageQuery): { base: string; name: string }[] {
  const keys = [indexKeyOf(p.ecosystem, p.sourceName ?? p.name)];
  if (keys[0]!.base === 'Red Hat' && p.sourceName !== undefined && p.sourceName !== p.name) keys.push(indexKeyOf(p.ecosystem, p.name));
  return keys;
}

/** The index keys an advisory names (one per `affected[].package`). */
export function advisoryIndexKeys(record: OsvRecord): { base: string; name: string }[] {
  const out = new Map<string, { base: string; name: string }>();
  for (const a of record.affected) {
    if (!a.package) continue;
    const k = indexKeyOf(a.package.ecosystem, a.package.name);
    out.set(`${k.base}\0${k.name}`, k);
  }
  return [...out.values()];
}

/**
 * Whether `record` affects the package version, as a match to store. An ecosystem without a
 * comparator makes `assess` throw; such a package cannot be matched and is skipped.
 */
export function evaluate(record: OsvRecord, p: PackageQuery): VulnMatch | undefined {
  let f;
  try {
    f = assess(record, p);
  } catch {
    return undefined;
  }
  if (!f) return undefined;
  return f.fixedVersion !== undefined ? { vulnId: record.id, severity: f.severity, fixedVersion: f.fixedVersion } : { vulnId: record.id, severity: f.severity };
}

/** Matches each version against the advisories that name it (batched lookups); keyed by version key. */
export async function matchVersions(vulndb: Pick<VulnDbStore, 'forPackages'>, versions: readonly PackageVersionInput[]): Promise<Map<string, VulnMatch[]>> {
  const out = new Map<string, VulnMatch[]>();
  const refs: { ref: PackageRef; version: PackageVersionInput }[] = [];
  for (const v of versions) {
    if (out.has(v.key)) continue;
    out.set(v.key, []);
    // forPackages files a query under the name it is given and splits the release off the ecosystem itself.
    for (const k of versionIndexKeys(v)) refs.push({ ref: { ecosystem: v.ecosystem, name: k.base === 'PyPI' ? v.name : k.name }, version: v });
  }
  for (let i = 0; i < refs.length; i += LOOKUP_BATCH) {
    const batch = refs.slice(i, i + LOOKUP_BATCH);
    const found = await vulndb.forPackages(batch.map((b) => b.ref));
    batch.forEach((b, j) => {
      const list = out.get(b.version.key)!;
      for (const adv of found[j] ?? []) {
        if (list.some((m) => m.vulnId === adv.id)) continue;
        const m = evaluate(adv.record, b.version);
        if (m) list.push(m);
      }
    });
  }
  return out;
}
