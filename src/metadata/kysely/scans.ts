import { deflateRawSync, inflateRawSync } from 'node:zlib';
import { sql, type Kysely, type Selectable } from 'kysely';
import type { Severity } from '../../core/vuln/severity.js';
import type {
  ImageFinding,
  ImageFindingChange,
  ImageScanRow,
  InventoryRecord,
  InventorySummary,
  MatchChange,
  PackageVersionInput,
  PackageVersionRow,
  RematchState,
  ScanStatus,
  ScanStore,
  StoredMatch,
  VulnMatch,
} from '../scans-types.js';
import type { Database } from './schema.js';
import { indexKey } from './vulndb.js';

type Db = Kysely<Database>;

/** Values per IN list, rows per multi-row INSERT: well below both databases' parameter limits. */
const IN_CHUNK = 2000;
const INSERT_CHUNK = 400;

const chunks = <T>(xs: readonly T[], n: number): T[][] => Array.from({ length: Math.ceil(xs.length / n) }, (_, i) => xs.slice(i * n, i * n + n));

const toVersion = (r: Selectable<Database['scan_package_versions']>): PackageVersionRow => ({
  seq: Number(r.seq),
  key: r.key,
  ecosystem: r.ecosystem,
  name: r.name,
  version: r.version,
  ...(r.source_name !== null ? { sourceName: r.source_name } : {}),
  ...(r.source_version !== null ? { sourceVersion: r.source_version } : {}),
  generation: Number(r.generation),
});

const toStatus = (r: Selectable<Database['image_scans']>): ImageScanRow => ({
  repositoryId: Number(r.repository_id),
  digest: r.digest,
  status: r.status as ScanStatus,
  description: r.description,
  trigger: r.trigger,
  requestedAt: Number(r.requested_at),
  startedAt: r.started_at === null ? null : Number(r.started_at),
  completedAt: r.completed_at === null ? null : Number(r.completed_at),
});

const toMatch = (r: { package_key: string; vuln_id: string; severity: string; fixed_version: string | null; first_seen_at: number }): StoredMatch => ({
  packageKey: r.package_key,
  vulnId: r.vuln_id,
  severity: r.severity as Severity,
  ...(r.fixed_version !== null ? { fixedVersion: r.fixed_version } : {}),
  firstSeenAt: Number(r.first_seen_at),
});

/** The vulndb index columns of a package version: source name for distributions, and Red Hat's binary name too. */
function indexColumns(p: PackageVersionInput): { base: string; idx_name: string; alt_name: string | null } {
  const k = indexKey(p.ecosystem, p.sourceName ?? p.name);
  const alt = k.ecosystem === 'Red Hat' && p.sourceName !== undefined && p.sourceName !== p.name ? p.name : null;
  return { base: k.ecosystem, idx_name: k.name, alt_name: alt };
}

export class KyselyScans implements ScanStore {
  constructor(
    private readonly db: Db,
    private readonly dialect: 'sqlite' | 'postgres',
  ) {}

  /** The insert lock (see scans-types.ts); SQLite's transaction already holds the only write lock. */
  private async lock(): Promise<void> {
    if (this.dialect === 'postgres') await this.db.selectFrom('scan_state').select('id').where('id', '=', 1).forUpdate().execute();
  }

  async getInventory(digest: string): Promise<InventoryRecord | null> {
    const r = await this.db.selectFrom('scan_inventories').selectAll().where('digest', '=', digest).executeTakeFirst();
    if (!r) return null;
    return {
      digest: r.digest,
      scanner: r.scanner,
      inventory: JSON.parse(inflateRawSync(r.inventory).toString('utf8')) as unknown,
      layerErrors: Number(r.layer_errors),
      indexedAt: Number(r.indexed_at),
      generation: Number(r.generation),
      sourceUpdatedAt: r.source_updated_at === null ? null : Number(r.source_updated_at),
    };
  }

  async putInventory(record: InventoryRecord, packages: readonly PackageVersionInput[], matches: ReadonlyMap<string, readonly VulnMatch[]>, now: number): Promise<Set<string>> {
    await this.lock();
    const versions = new Map<string, PackageVersionInput>();
    for (const p of packages) versions.set(p.key, p);
    const existing = await this.knownPackageVersions([...versions.keys()]);
    const missing = [...versions.values()].filter((v) => !existing.has(v.key));
    const unmatched = missing.filter((v) => !matches.has(v.key));
    // A version known when the caller matched may have been pruned since: it must be matched again.
    if (unmatched.length > 0) throw new Error(`package versions vanished while the scan ran (${unmatched.length}); retry`);
    const inserted = new Set<string>();
    for (const batch of chunks(missing, INSERT_CHUNK)) {
      const rows = await this.db
        .insertInto('scan_package_versions')
        .values(
          batch.map((v) => ({
            key: v.key,
            ecosystem: v.ecosystem,
            name: v.name,
            version: v.version,
            source_name: v.sourceName ?? null,
            source_version: v.sourceVersion ?? null,
            ...indexColumns(v),
            generation: record.generation,
          })),
        )
        .onConflict((oc) => oc.column('key').doNothing())
        .returning('key')
        .execute();
      for (const r of rows) inserted.add(r.key);
    }
    const matchRows = [...inserted].flatMap((key) =>
      (matches.get(key) ?? []).map((m) => ({ package_key: key, vuln_id: m.vulnId, severity: m.severity, fixed_version: m.fixedVersion ?? null, first_seen_at: now })),
    );
    for (const batch of chunks(matchRows, INSERT_CHUNK)) await this.db.insertInto('scan_matches').values(batch).onConflict((oc) => oc.doNothing()).execute();

    await this.db.deleteFrom('scan_packages').where('digest', '=', record.digest).execute();
    const values = {
      digest: record.digest,
      scanner: record.scanner,
      inventory: deflateRawSync(Buffer.from(JSON.stringify(record.inventory))),
      layer_errors: record.layerErrors,
      package_count: packages.length,
      indexed_at: record.indexedAt,
      generation: record.generation,
      source_updated_at: record.sourceUpdatedAt,
    };
    await this.db
      .insertInto('scan_inventories')
      .values(values)
      .onConflict((oc) => oc.column('digest').doUpdateSet({ ...values, digest: undefined } as never))
      .execute();
    const pkgRows = packages.map((p, pkg) => ({ digest: record.digest, pkg, package_key: p.key }));
    for (const batch of chunks(pkgRows, INSERT_CHUNK)) await this.db.insertInto('scan_packages').values(batch).execute();
    return inserted;
  }

  async knownPackageVersions(keys: readonly string[]): Promise<Set<string>> {
    const out = new Set<string>();
    for (const batch of chunks([...new Set(keys)], IN_CHUNK)) {
      for (const r of await this.db.selectFrom('scan_package_versions').select('key').where('key', 'in', batch).execute()) out.add(r.key);
    }
    return out;
  }

  async findings(digest: string): Promise<ImageFinding[]> {
    const rows = await this.db
      .selectFrom('scan_packages as sp')
      .innerJoin('scan_matches as m', 'm.package_key', 'sp.package_key')
      .select(['sp.pkg', 'm.package_key', 'm.vuln_id', 'm.severity', 'm.fixed_version', 'm.first_seen_at'])
      .where('sp.digest', '=', digest)
      .execute();
    return rows.map((r) => ({ ...toMatch(r), pkg: Number(r.pkg) }));
  }

  async summaries(digests: readonly string[], o: { counts?: boolean } = {}): Promise<Map<string, InventorySummary>> {
    const out = new Map<string, InventorySummary>();
    for (const batch of chunks([...new Set(digests)], IN_CHUNK)) {
      const inv = await this.db.selectFrom('scan_inventories').select(['digest', 'indexed_at', 'source_updated_at', 'layer_errors']).where('digest', 'in', batch).execute();
      for (const r of inv) {
        out.set(r.digest, {
          indexedAt: Number(r.indexed_at),
          sourceUpdatedAt: r.source_updated_at === null ? null : Number(r.source_updated_at),
          layerErrors: Number(r.layer_errors),
          counts: {},
        });
      }
      if (o.counts === false) continue;
      const rows = await this.db
        .selectFrom('scan_packages as sp')
        .innerJoin('scan_matches as m', 'm.package_key', 'sp.package_key')
        .select(['sp.digest', 'm.severity', (eb) => eb.fn.countAll<number>().as('n')])
        .where('sp.digest', 'in', batch)
        .groupBy(['sp.digest', 'm.severity'])
        .execute();
      for (const r of rows) {
        const s = out.get(r.digest);
        if (s) s.counts[r.severity as Severity] = Number(r.n);
      }
    }
    return out;
  }

  async putStatus(row: ImageScanRow): Promise<void> {
    const values = {
      repository_id: row.repositoryId,
      digest: row.digest,
      status: row.status,
      description: row.description,
      trigger: row.trigger,
      requested_at: row.requestedAt,
      started_at: row.startedAt,
      completed_at: row.completedAt,
    };
    const { repository_id: _r, digest: _d, ...rest } = values;
    await this.db
      .insertInto('image_scans')
      .values(values)
      .onConflict((oc) => oc.columns(['repository_id', 'digest']).doUpdateSet(rest))
      .execute();
  }

  async transitionStatus(row: ImageScanRow, from: readonly ScanStatus[]): Promise<boolean> {
    const r = await this.db
      .updateTable('image_scans')
      .set({ status: row.status, description: row.description, trigger: row.trigger, requested_at: row.requestedAt, started_at: row.startedAt, completed_at: row.completedAt })
      .where('repository_id', '=', row.repositoryId)
      .where('digest', '=', row.digest)
      .where('status', 'in', [...from])
      .executeTakeFirst();
    return Number(r.numUpdatedRows) > 0;
  }

  async statuses(repositoryId: number, digests: readonly string[]): Promise<Map<string, ImageScanRow>> {
    const out = new Map<string, ImageScanRow>();
    for (const batch of chunks([...new Set(digests)], IN_CHUNK)) {
      const rows = await this.db.selectFrom('image_scans').selectAll().where('repository_id', '=', repositoryId).where('digest', 'in', batch).execute();
      for (const r of rows) out.set(r.digest, toStatus(r));
    }
    return out;
  }

  async packageVersionsNamed(keys: readonly { base: string; name: string }[]): Promise<PackageVersionRow[]> {
    const byBase = new Map<string, Set<string>>();
    for (const k of keys) byBase.set(k.base, (byBase.get(k.base) ?? new Set()).add(k.name));
    const out = new Map<string, PackageVersionRow>();
    for (const [base, names] of byBase) {
      for (const batch of chunks([...names], IN_CHUNK)) {
        const rows = await this.db
          .selectFrom('scan_package_versions')
          .selectAll()
          .where('base', '=', base)
          .where((eb) => eb.or([eb('idx_name', 'in', batch), eb('alt_name', 'in', batch)]))
          .execute();
        for (const r of rows) out.set(r.key, toVersion(r));
      }
    }
    return [...out.values()];
  }

  async maxPackageSeq(): Promise<number> {
    await this.lock();
    const r = await this.db.selectFrom('scan_package_versions').select((eb) => eb.fn.max('seq').as('m')).executeTakeFirst();
    return r?.m === null || r?.m === undefined ? 0 : Number(r.m);
  }

  async minPackageGeneration(maxSeq?: number): Promise<number | null> {
    let q = this.db.selectFrom('scan_package_versions').select((eb) => eb.fn.min('generation').as('g'));
    if (maxSeq !== undefined) q = q.where('seq', '<=', maxSeq);
    const r = await q.executeTakeFirst();
    return r?.g === null || r?.g === undefined ? null : Number(r.g);
  }

  async matchesOf(packageKeys: readonly string[] | undefined, vulnIds?: readonly string[]): Promise<StoredMatch[]> {
    const out: StoredMatch[] = [];
    if (packageKeys === undefined) {
      for (const batch of chunks([...new Set(vulnIds ?? [])], IN_CHUNK)) {
        for (const r of await this.db.selectFrom('scan_matches').selectAll().where('vuln_id', 'in', batch).execute()) out.push(toMatch(r));
      }
      return out;
    }
    const only = vulnIds ? new Set(vulnIds) : undefined;
    for (const batch of chunks([...new Set(packageKeys)], IN_CHUNK)) {
      let q = this.db.selectFrom('scan_matches').selectAll().where('package_key', 'in', batch);
      if (only && only.size <= IN_CHUNK) q = q.where('vuln_id', 'in', [...only]);
      for (const r of await q.execute()) if (!only || only.has(r.vuln_id)) out.push(toMatch(r));
    }
    return out;
  }

  async applyMatches(o: {
    upserts: readonly (VulnMatch & { packageKey: string })[];
    deletes: readonly { packageKey: string; vulnId: string }[];
    changes: readonly MatchChange[];
    fullyMatched?: readonly string[];
    generation: number;
    now: number;
  }): Promise<void> {
    for (const batch of chunks(o.upserts, INSERT_CHUNK)) {
      await this.db
        .insertInto('scan_matches')
        .values(batch.map((m) => ({ package_key: m.packageKey, vuln_id: m.vulnId, severity: m.severity, fixed_version: m.fixedVersion ?? null, first_seen_at: o.now })))
        .onConflict((oc) => oc.columns(['package_key', 'vuln_id']).doUpdateSet((eb) => ({ severity: eb.ref('excluded.severity'), fixed_version: eb.ref('excluded.fixed_version') })))
        .execute();
    }
    const byVuln = new Map<string, string[]>();
    for (const d of o.deletes) byVuln.set(d.vulnId, [...(byVuln.get(d.vulnId) ?? []), d.packageKey]);
    for (const [vulnId, keys] of byVuln) {
      for (const batch of chunks(keys, IN_CHUNK)) await this.db.deleteFrom('scan_matches').where('vuln_id', '=', vulnId).where('package_key', 'in', batch).execute();
    }
    for (const batch of chunks(o.changes, INSERT_CHUNK)) {
      await this.db
        .insertInto('scan_match_changes')
        .values(batch.map((c) => ({ at: o.now, generation: o.generation, package_key: c.packageKey, vuln_id: c.vulnId, change: c.change, severity: c.severity })))
        .execute();
    }
    for (const batch of chunks(o.fullyMatched ?? [], IN_CHUNK)) {
      await this.db.updateTable('scan_package_versions').set({ generation: o.generation }).where('key', 'in', batch).where('generation', '<', o.generation).execute();
    }
  }

  async finishRematch(o: { generation: number; maxSeq: number; sourceUpdatedAt: number | null; now: number }): Promise<number> {
    const r = await this.db
      .updateTable('scan_package_versions')
      .set({ generation: o.generation })
      .where('seq', '<=', o.maxSeq)
      .where('generation', '<', o.generation)
      .executeTakeFirst();
    await this.db
      .updateTable('scan_state')
      .set({ generation: sql<number>`case when generation > ${o.generation} then generation else ${o.generation} end`, source_updated_at: o.sourceUpdatedAt, at: o.now })
      .where('id', '=', 1)
      .execute();
    return Number(r.numUpdatedRows);
  }

  async rematchState(): Promise<RematchState> {
    const r = await this.db.selectFrom('scan_state').selectAll().where('id', '=', 1).executeTakeFirstOrThrow();
    return { generation: Number(r.generation), sourceUpdatedAt: r.source_updated_at === null ? null : Number(r.source_updated_at), at: r.at === null ? null : Number(r.at) };
  }

  async findingChanges(o: { digest?: string; afterId?: number; limit: number }): Promise<ImageFindingChange[]> {
    let q = this.db
      .selectFrom('scan_match_changes as c')
      .innerJoin('scan_packages as sp', 'sp.package_key', 'c.package_key')
      .innerJoin('scan_inventories as si', 'si.digest', 'sp.digest')
      .select(['c.id', 'c.at', 'c.generation', 'c.package_key', 'c.vuln_id', 'c.change', 'c.severity', 'sp.digest', 'sp.pkg'])
      // A change older than the image's indexing happened before the image was known.
      .whereRef('c.at', '>=', 'si.indexed_at')
      .where('c.id', '>', o.afterId ?? 0)
      .orderBy('c.id')
      .orderBy('sp.digest')
      .orderBy('sp.pkg')
      .limit(o.limit);
    if (o.digest !== undefined) q = q.where('sp.digest', '=', o.digest);
    return (await q.execute()).map((r) => ({
      id: Number(r.id),
      at: Number(r.at),
      generation: Number(r.generation),
      packageKey: r.package_key,
      vulnId: r.vuln_id,
      change: r.change as 'appeared' | 'disappeared',
      severity: r.severity as Severity,
      digest: r.digest,
      pkg: Number(r.pkg),
    }));
  }

  async pruneOrphans(): Promise<{ inventories: number; packageVersions: number }> {
    await this.lock();
    // Two plain reads instead of a correlated NOT EXISTS: manifests has no index on digest alone.
    const indexed = (await this.db.selectFrom('scan_inventories').select('digest').execute()).map((r) => r.digest);
    const held = new Set<string>();
    for (const batch of chunks(indexed, IN_CHUNK)) {
      for (const r of await this.db.selectFrom('manifests').select('digest').where('digest', 'in', batch).execute()) held.add(r.digest);
    }
    let inventories = 0;
    for (const batch of chunks(indexed.filter((d) => !held.has(d)), IN_CHUNK)) {
      inventories += Number((await this.db.deleteFrom('scan_inventories').where('digest', 'in', batch).executeTakeFirst()).numDeletedRows);
    }
    if (inventories === 0) return { inventories, packageVersions: 0 };
    await this.db
      .deleteFrom('scan_match_changes')
      .where(({ not, exists, selectFrom }) => not(exists(selectFrom('scan_packages').select('scan_packages.pkg').whereRef('scan_packages.package_key', '=', 'scan_match_changes.package_key'))))
      .execute();
    const ver = await this.db
      .deleteFrom('scan_package_versions')
      .where(({ not, exists, selectFrom }) => not(exists(selectFrom('scan_packages').select('scan_packages.pkg').whereRef('scan_packages.package_key', '=', 'scan_package_versions.key'))))
      .executeTakeFirst();
    return { inventories, packageVersions: Number(ver.numDeletedRows) };
  }
}
