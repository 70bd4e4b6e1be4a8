import type { Kysely, Selectable } from 'kysely';
import type { OsvRecord } from '../../core/vuln/osv-schema.js';
import { parseEcosystem } from '../../core/vuln/versions/index.js';
import type { AdvisoryOutcome, PackageRef, StoredAdvisory, VulnDbImportEntry, VulnDbStatus, VulnDbStore } from '../vulndb-types.js';
import type { Database } from './schema.js';

type Db = Kysely<Database>;

/** Most values bound in one IN list (SQLite and PostgreSQL both take far more; this keeps statements small). */
const IN_CHUNK = 5000;
/** Rows per multi-row INSERT (6 columns each stays well below every parameter limit). */
const INSERT_CHUNK = 500;

const chunks = <T>(xs: readonly T[], n: number): T[][] => Array.from({ length: Math.ceil(xs.length / n) }, (_, i) => xs.slice(i * n, i * n + n));

export interface IndexKey {
  ecosystem: string;
  name: string;
  release: string;
}

/**
 * The index key of a package: ecosystem base, release (`''` when unscoped) and name.
 * Mirrors the package rule of `matchPackage` in core/vuln/osv.ts (PyPI names compare
 * PEP 503-normalised, others exactly); the contract tests check both agree on real records.
 */
export function indexKey(ecosystem: string, name: string): IndexKey {
  const e = parseEcosystem(ecosystem);
  return { ecosystem: e.base, release: e.release ?? '', name: e.base === 'PyPI' ? name.toLowerCase().replace(/[-_.]+/g, '-') : name };
}

const ms = (t: string): number => Date.parse(t);

const toStored = (r: Selectable<Database['advisories']>): StoredAdvisory => ({
  id: r.id,
  modified: Number(r.modified),
  withdrawn: r.withdrawn === null ? null : Number(r.withdrawn),
  generation: Number(r.generation),
  record: JSON.parse(r.record) as OsvRecord,
});

export class KyselyVulnDb implements VulnDbStore {
  constructor(
    private readonly db: Db,
    private readonly dialect: 'sqlite' | 'postgres',
  ) {}

  async upsert(records: readonly OsvRecord[], now: number): Promise<{ outcomes: AdvisoryOutcome[]; generation: number }> {
    // Lock the generation first (PostgreSQL; SQLite's tx holds the write lock), so the reads below
    // see every earlier batch committed and batches of concurrent imports commit in generation order.
    let gq = this.db.selectFrom('vulndb_meta').select('generation').where('id', '=', 1);
    if (this.dialect === 'postgres') gq = gq.forUpdate();
    const generation = Number((await gq.executeTakeFirstOrThrow()).generation);

    // The newest record per id; the others are 'unchanged'.
    const best = new Map<string, number>();
    records.forEach((r, i) => {
      const j = best.get(r.id);
      if (j === undefined || ms(r.modified) > ms(records[j]!.modified)) best.set(r.id, i);
    });
    const stored = new Map<string, number>();
    for (const ids of chunks([...best.keys()], IN_CHUNK)) {
      const rows = await this.db.selectFrom('advisories').select(['id', 'modified']).where('id', 'in', ids).execute();
      for (const r of rows) stored.set(r.id, Number(r.modified));
    }
    const outcomes: AdvisoryOutcome[] = records.map(() => 'unchanged');
    const changed: OsvRecord[] = [];
    for (const [id, i] of best) {
      const rec = records[i]!;
      const old = stored.get(id);
      if (old !== undefined && ms(rec.modified) <= old) continue;
      outcomes[i] = old === undefined ? 'imported' : 'updated';
      changed.push(rec);
    }
    if (changed.length === 0) return { outcomes, generation };

    const next = generation + 1;
    const updatedIds = changed.filter((r) => stored.has(r.id)).map((r) => r.id);
    for (const ids of chunks(updatedIds, IN_CHUNK)) await this.db.deleteFrom('affected_packages').where('advisory_id', 'in', ids).execute();
    for (const batch of chunks(changed, INSERT_CHUNK)) {
      await this.db
        .insertInto('advisories')
        .values(
          batch.map((r) => ({
            id: r.id,
            modified: ms(r.modified),
            withdrawn: r.withdrawn === undefined ? null : ms(r.withdrawn),
            generation: next,
            imported_at: now,
            record: JSON.stringify(r),
          })),
        )
        .onConflict((oc) =>
          oc.column('id').doUpdateSet((eb) => ({
            modified: eb.ref('excluded.modified'),
            withdrawn: eb.ref('excluded.withdrawn'),
            generation: eb.ref('excluded.generation'),
            imported_at: eb.ref('excluded.imported_at'),
            record: eb.ref('excluded.record'),
          })).where((eb) => eb('advisories.modified', '<', eb.ref('excluded.modified'))),
        )
        .execute();
    }
    const keys = new Map<string, IndexKey & { advisory_id: string }>();
    for (const r of changed) {
      for (const a of r.affected) {
        if (!a.package) continue;
        const k = { ...indexKey(a.package.ecosystem, a.package.name), advisory_id: r.id };
        keys.set(`${k.ecosystem}\0${k.name}\0${k.release}\0${r.id}`, k);
      }
    }
    for (const batch of chunks([...keys.values()], INSERT_CHUNK)) {
      await this.db.insertInto('affected_packages').values(batch).onConflict((oc) => oc.doNothing()).execute();
    }
    await this.db.updateTable('vulndb_meta').set({ generation: next }).where('id', '=', 1).execute();
    return { outcomes, generation: next };
  }

  async get(id: string): Promise<StoredAdvisory | null> {
    const r = await this.db.selectFrom('advisories').selectAll().where('id', '=', id).executeTakeFirst();
    return r ? toStored(r) : null;
  }

  async forPackages(pkgs: readonly PackageRef[]): Promise<StoredAdvisory[][]> {
    const keys = pkgs.map((p) => indexKey(p.ecosystem, p.name));
    // ecosystem → name → indexes into pkgs
    const wanted = new Map<string, Map<string, number[]>>();
    keys.forEach((k, i) => {
      const names = wanted.get(k.ecosystem) ?? new Map<string, number[]>();
      wanted.set(k.ecosystem, names);
      names.set(k.name, [...(names.get(k.name) ?? []), i]);
    });
    const hits: { i: number; id: string }[] = [];
    for (const [ecosystem, names] of wanted) {
      for (const batch of chunks([...names.keys()], IN_CHUNK)) {
        const rows = await this.db
          .selectFrom('affected_packages')
          .select(['name', 'release', 'advisory_id'])
          .where('ecosystem', '=', ecosystem)
          .where('name', 'in', batch)
          .execute();
        for (const r of rows) {
          // An unscoped entry ('') applies to every release; a scoped one only to its own.
          for (const i of names.get(r.name) ?? []) if (r.release === '' || r.release === keys[i]!.release) hits.push({ i, id: r.advisory_id });
        }
      }
    }
    const advisories = new Map<string, StoredAdvisory>();
    for (const ids of chunks([...new Set(hits.map((h) => h.id))], IN_CHUNK)) {
      const rows = await this.db.selectFrom('advisories').selectAll().where('id', 'in', ids).where('withdrawn', 'is', null).execute();
      for (const r of rows) advisories.set(r.id, toStored(r));
    }
    const out: StoredAdvisory[][] = pkgs.map(() => []);
    const seen = new Set<string>();
    for (const h of hits) {
      const a = advisories.get(h.id);
      if (!a || seen.has(`${h.i}\0${h.id}`)) continue;
      seen.add(`${h.i}\0${h.id}`);
      out[h.i]!.push(a);
    }
    return out;
  }

  async changedSince(generation: number, page: { after?: string; limit: number }): Promise<StoredAdvisory[]> {
    let q = this.db.selectFrom('advisories').selectAll().where('generation', '>', generation).orderBy('id').limit(page.limit);
    if (page.after !== undefined) q = q.where('id', '>', page.after);
    return (await q.execute()).map(toStored);
  }

  async recordImport(e: VulnDbImportEntry): Promise<void> {
    await this.db
      .insertInto('vulndb_imports')
      .values({
        source: e.source,
        started_at: e.startedAt,
        finished_at: e.finishedAt,
        from_generation: e.fromGeneration,
        to_generation: e.toGeneration,
        summary: JSON.stringify(e.summary),
      })
      .execute();
  }

  async status(): Promise<VulnDbStatus> {
    const meta = await this.db.selectFrom('vulndb_meta').select('generation').where('id', '=', 1).executeTakeFirstOrThrow();
    const counts = await this.db
      .selectFrom('advisories')
      .select((eb) => [eb.fn.countAll<number>().as('n'), eb.fn.count<number>('withdrawn').as('w')])
      .executeTakeFirstOrThrow();
    const packages = await this.db.selectFrom('affected_packages').select((eb) => eb.fn.countAll<number>().as('n')).executeTakeFirstOrThrow();
    const last = await this.db.selectFrom('vulndb_imports').selectAll().orderBy('id', 'desc').limit(1).executeTakeFirst();
    return {
      generation: Number(meta.generation),
      vulnerabilitySourceUpdatedAt: last ? Number(last.finished_at) : null,
      advisories: Number(counts.n),
      withdrawn: Number(counts.w),
      packages: Number(packages.n),
      lastImport: last
        ? {
            source: last.source,
            startedAt: Number(last.started_at),
            finishedAt: Number(last.finished_at),
            fromGeneration: Number(last.from_generation),
            toGeneration: Number(last.to_generation),
            summary: JSON.parse(last.summary) as unknown,
          }
        : null,
    };
  }
}
