/**
 * Re-matching indexed images after the vulnerability database changed, without reading a
 * layer: the advisories changed since the oldest generation any stored package version
 * reflects are read page by page; for each page, the stored package versions they name are
 * evaluated against them, and matches that appear, change or disappear are written with a
 * change record. Work is proportional to the distinct package versions the changes name,
 * not to the number of images: an advisory for a package that 10,000 images share is
 * evaluated once, and every one of those images sees the result through the join.
 *
 * Correctness across nodes (see scans-types.ts): `maxSeq` is read under the insert lock, so
 * every version up to it is visible to the page queries; the generation target is read
 * before the changes are listed, so every change up to it is listed. Versions inserted
 * while this runs keep the generation their scan matched at and are handled by the next run.
 * Evaluating an advisory again is idempotent, so a run that is interrupted is simply repeated.
 */
import type { MatchChange, StoredMatch, VulnMatch } from '../../metadata/scans-types.js';
import type { MetadataStore } from '../../metadata/types.js';
import type { StoredAdvisory } from '../../metadata/vulndb-types.js';
import { advisoryIndexKeys, evaluate, versionIndexKeys } from './matcher.js';

export interface RematchReport {
  fromGeneration: number | null;
  generation: number;
  advisories: number;
  packageVersions: number;
  appeared: number;
  disappeared: number;
  changed: number;
  durationMs: number;
}

export interface RematchOptions {
  /** Changed advisories per page (one transaction of writes each); default 500. */
  pageSize?: number;
  now?: () => number;
  log?: { info(o: object, m: string): void };
}

export class Rematcher {
  private readonly pageSize: number;
  private readonly now: () => number;

  constructor(
    private readonly meta: MetadataStore,
    private readonly o: RematchOptions = {},
  ) {
    this.pageSize = o.pageSize ?? 500;
    this.now = o.now ?? (() => Date.now());
  }

  /** Whether some stored package version lags behind the database (a run would change something). */
  async due(): Promise<boolean> {
    const [min, status] = await Promise.all([this.meta.scans.minPackageGeneration(), this.meta.vulndb.status()]);
    return min !== null && min < status.generation;
  }

  async run(signal?: AbortSignal): Promise<RematchReport> {
    const started = this.now();
    const maxSeq = await this.meta.tx((tx) => tx.scans.maxPackageSeq());
    const status = await this.meta.vulndb.status();
    const target = status.generation;
    const from = await this.meta.scans.minPackageGeneration(maxSeq);
    const report: RematchReport = { fromGeneration: from, generation: target, advisories: 0, packageVersions: 0, appeared: 0, disappeared: 0, changed: 0, durationMs: 0 };
    if (from !== null && from < target) {
      let after: string | undefined;
      for (;;) {
        signal?.throwIfAborted();
        const page = await this.meta.vulndb.changedSince(from, { limit: this.pageSize, ...(after !== undefined ? { after } : {}) });
        if (page.length === 0) break;
        await this.apply(page, target, report);
        after = page[page.length - 1]!.id;
        if (page.length < this.pageSize) break;
      }
    }
    await this.meta.scans.finishRematch({ generation: target, maxSeq, sourceUpdatedAt: status.vulnerabilitySourceUpdatedAt, now: this.now() });
    report.durationMs = this.now() - started;
    if (report.advisories > 0) this.o.log?.info({ rematch: report }, 're-matched indexed images against the changed advisories');
    return report;
  }

  /** Evaluates one page of changed advisories against the stored versions they name, and writes the differences. */
  private async apply(page: readonly StoredAdvisory[], generation: number, report: RematchReport): Promise<void> {
    report.advisories += page.length;
    const byKey = new Map<string, StoredAdvisory[]>();
    for (const adv of page) {
      for (const k of advisoryIndexKeys(adv.record)) {
        const id = `${k.base}\0${k.name}`;
        byKey.set(id, [...(byKey.get(id) ?? []), adv]);
      }
    }
    const keys = [...byKey.keys()].map((id) => {
      const [base, name] = id.split('\0') as [string, string];
      return { base, name };
    });
    const versions = keys.length > 0 ? await this.meta.scans.packageVersionsNamed(keys) : [];
    report.packageVersions += versions.length;
    // Every stored match of these advisories, including ones on versions an updated record no longer names.
    const stored = new Map<string, StoredMatch>();
    for (const m of await this.meta.scans.matchesOf(undefined, page.map((a) => a.id))) stored.set(`${m.packageKey}\0${m.vulnId}`, m);

    const upserts: (VulnMatch & { packageKey: string })[] = [];
    const changes: MatchChange[] = [];
    const evaluated = new Set<string>();
    for (const v of versions) {
      const candidates = new Set(versionIndexKeys(v).flatMap((k) => byKey.get(`${k.base}\0${k.name}`) ?? []));
      for (const adv of candidates) {
        const id = `${v.key}\0${adv.id}`;
        evaluated.add(id);
        const now = adv.withdrawn === null ? evaluate(adv.record, v) : undefined;
        const old = stored.get(id);
        if (now && !old) {
          upserts.push({ ...now, packageKey: v.key });
          changes.push({ packageKey: v.key, vulnId: adv.id, change: 'appeared', severity: now.severity });
        } else if (now && old && (now.severity !== old.severity || now.fixedVersion !== old.fixedVersion)) {
          upserts.push({ ...now, packageKey: v.key });
          report.changed++;
        } else if (!now && old) {
          changes.push({ packageKey: v.key, vulnId: adv.id, change: 'disappeared', severity: old.severity });
        }
      }
    }
    // Stored matches on versions the updated records no longer name at all.
    for (const [id, m] of stored) {
      if (!evaluated.has(id)) changes.push({ packageKey: m.packageKey, vulnId: m.vulnId, change: 'disappeared', severity: m.severity });
    }
    const deletes = changes.filter((c) => c.change === 'disappeared').map((c) => ({ packageKey: c.packageKey, vulnId: c.vulnId }));
    report.appeared += changes.length - deletes.length;
    report.disappeared += deletes.length;
    if (upserts.length + deletes.length === 0) return;
    const now = this.now();
    await this.meta.tx((tx) => tx.scans.applyMatches({ upserts, deletes, changes, generation, now }));
  }
}
