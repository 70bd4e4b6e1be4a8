import { CompiledQuery, sql, type Kysely, type QueryResult, type Selectable } from 'kysely';
// Resolves after the I/O callbacks already due (other requests) have run.
import { setImmediate as nextTurn } from 'node:timers/promises';
import type { InventoryManifest, ManifestReference, ManifestRow, ManifestStore, ManifestWithContent, Page, RepositoryInventory } from '../types.js';
import { MediaType } from '../../core/media-types.js';
import type { Database } from './schema.js';
import { $, affected, preparedQuery } from './prepared.js';
import { EpochCache, type ChangeWatch } from '../sqlite-change-watch.js';

type Db = Kysely<Database>;

export const toManifest = (r: Omit<Selectable<Database['manifests']>, 'content' | 'blob_bytes'>): ManifestRow => ({
  repositoryId: Number(r.repository_id),
  digest: r.digest,
  mediaType: r.media_type,
  size: Number(r.size),
  artifactType: r.artifact_type,
  subjectDigest: r.subject_digest,
  annotations: r.annotations === null ? null : (JSON.parse(r.annotations) as Record<string, string>),
  pushedAt: Number(r.pushed_at),
  lastPulledAt: r.last_pulled_at === null ? null : Number(r.last_pulled_at),
});

export const withContent = (r: Omit<Selectable<Database['manifests']>, 'blob_bytes'>): ManifestWithContent => ({ ...toManifest(r), content: r.content });

/** The manifest bytes a ManifestCache keeps at most (a pull's manifests are a few KiB each). */
const MANIFEST_CACHE_BYTES = 8 * 1024 * 1024;

/**
 * Manifests as pulls read them (by repository name and tag or digest), kept while the database is
 * unchanged (the main SQLite store only; see sqlite-change-watch.ts). A kept row is shared by
 * every request that reads it: the row is frozen; its content Buffer cannot be, and nothing
 * writes to it (it is only sent).
 */
export type ManifestCache = EpochCache<ManifestWithContent | null>;

/** What a ManifestCache reads from: tags and manifests joined to repositories (whose deletes cascade into both). */
export const MANIFEST_TABLES = ['repositories', 'manifests', 'tags'];

export function manifestCache(watch: ChangeWatch): ManifestCache {
  return new EpochCache(watch, { tables: MANIFEST_TABLES, maxBytes: MANIFEST_CACHE_BYTES, sizeOf: (m) => 256 + (m?.content.length ?? 0) });
}

/** Reads through `cache` when there is one (`load` reads the database). */
export async function cachedManifest(cache: ManifestCache | undefined, key: string, load: () => Promise<ManifestWithContent | null>): Promise<ManifestWithContent | null> {
  if (!cache) return load();
  return cache.get(key, async () => {
    const m = await load();
    if (m?.annotations) Object.freeze(m.annotations);
    return m && Object.freeze(m);
  });
}

const MANIFEST_COLUMNS = [
  'repository_id',
  'digest',
  'media_type',
  'size',
  'artifact_type',
  'subject_digest',
  'annotations',
  'pushed_at',
  'last_pulled_at',
] as const;

/** Up to this many blobs or references, a manifest's inserts run statements prepared for their number. */
const PREPARED_LIST = 16;

/**
 * The manifest row's insert. `values` are the columns up to last_pulled_at in table order;
 * `blobBytes` is the sum itself or the digests to sum in a subquery.
 */
function insertManifest(db: Db, values: unknown[], blobBytes: { sum: unknown } | { digests: unknown[] }) {
  const v = (i: number): never => values[i] as never;
  return db
    .insertInto('manifests')
    .values({
      repository_id: v(0),
      digest: v(1),
      media_type: v(2),
      size: v(3),
      content: v(4),
      artifact_type: v(5),
      subject_digest: v(6),
      annotations: v(7),
      pushed_at: v(8),
      last_pulled_at: v(9),
      blob_bytes: 'sum' in blobBytes ? (blobBytes.sum as never) : sql<number>`(select coalesce(sum(size), 0) from blobs where digest in (${sql.join(blobBytes.digests)}))`,
    })
    .onConflict((oc) => oc.columns(['repository_id', 'digest']).doNothing());
}

/** The references' insert: `refValues` holds child digest and kind of each, in turn. */
function insertRefs(db: Db, repositoryId: unknown, parentDigest: unknown, refValues: unknown[]) {
  const rows = [];
  for (let i = 0; i < refValues.length; i += 2) rows.push({ repository_id: repositoryId as never, parent_digest: parentDigest as never, child_digest: refValues[i] as never, kind: refValues[i + 1] as never });
  return db.insertInto('manifest_refs').values(rows);
}

const placeholders = (from: number, n: number): never[] => Array.from({ length: n }, (_, i) => $(from + i));
type PreparedWrite = (db: Db, ...values: unknown[]) => Promise<QueryResult<unknown>>;
const insertManifestQueries = new Map<number, PreparedWrite>();
/** Values: the ten columns, then the blob digests (or, with none, the sum 0). */
function insertManifestQuery(blobs: number) {
  let q = insertManifestQueries.get(blobs);
  if (!q) {
    const columns = placeholders(1, 10);
    insertManifestQueries.set(blobs, (q = preparedQuery(`manifests.insert.${blobs}`, (db: Db) => insertManifest(db, columns, blobs === 0 ? { sum: $(11) } : { digests: placeholders(11, blobs) }))));
  }
  return q;
}
const insertRefsQueries = new Map<number, PreparedWrite>();
/** Values: repository id, parent digest, then child digest and kind of each reference. */
function insertRefsQuery(refs: number) {
  let q = insertRefsQueries.get(refs);
  if (!q) insertRefsQueries.set(refs, (q = preparedQuery(`manifest_refs.insert.${refs}`, (db: Db) => insertRefs(db, $(1), $(2), placeholders(3, 2 * refs)))));
  return q;
}

export class KyselyManifests implements ManifestStore {
  /** In a snapshot: the digests `inventory` read, per repository (see exclusiveBytes). */
  private readonly inventoried: Map<number, string[]> | undefined;
  /** Pulls' reads while the database is unchanged (the main SQLite store only). */
  private readonly cache: ManifestCache | undefined;

  constructor(
    private readonly db: Db,
    private readonly dialect: 'sqlite' | 'postgres',
    o: { snapshot?: boolean; cache?: ManifestCache } = {},
  ) {
    this.inventoried = o.snapshot ? new Map() : undefined;
    this.cache = o.cache;
  }

  async get(repositoryId: number, digest: string): Promise<ManifestWithContent | null> {
    const r = await this.db
      .selectFrom('manifests')
      .selectAll()
      .where('repository_id', '=', repositoryId)
      .where('digest', '=', digest)
      .executeTakeFirst();
    return r ? withContent(r) : null;
  }

  getByName(repository: string, digest: string): Promise<ManifestWithContent | null> {
    // Names cannot hold a newline, nor a digest a space: the key is unambiguous.
    return cachedManifest(this.cache, `${repository}\n@${digest}`, () => this.readByName(repository, digest));
  }

  private async readByName(repository: string, digest: string): Promise<ManifestWithContent | null> {
    const r = await this.db
      .selectFrom('repositories as p')
      .innerJoin('manifests as m', 'm.repository_id', 'p.id')
      .selectAll('m')
      .where('p.name', '=', repository)
      .where('m.digest', '=', digest)
      .executeTakeFirst();
    return r ? withContent(r) : null;
  }

  async put(row: ManifestRow, content: Buffer, refs: ManifestReference[]): Promise<boolean> {
    const unique = [...new Map(refs.map((r) => [`${r.kind} ${r.digest}`, r])).values()];
    const blobDigests = unique.filter((r) => r.kind === 'blob').map((r) => r.digest);
    const values = [
      row.repositoryId,
      row.digest,
      row.mediaType,
      row.size,
      content,
      row.artifactType,
      row.subjectDigest,
      row.annotations === null ? null : JSON.stringify(row.annotations),
      row.pushedAt,
      row.lastPulledAt,
    ];
    // The summed sizes of its blobs (a blob without a row counts 0): a subquery of the insert (a
    // statement fewer per manifest PUT), or summed first past the bound-parameter chunk.
    const inserted =
      blobDigests.length <= PREPARED_LIST
        ? affected(await insertManifestQuery(blobDigests.length)(this.db, ...values, ...(blobDigests.length === 0 ? [0] : blobDigests)))
        : Number((await insertManifest(this.db, values, blobDigests.length <= CHUNK ? { digests: blobDigests } : { sum: await this.sumBlobSizes(blobDigests) }).executeTakeFirst()).numInsertedOrUpdatedRows ?? 0);
    if (inserted === 0) return false;
    if (unique.length === 0) return true;
    const refValues = unique.flatMap((r) => [r.digest, r.kind]);
    if (unique.length <= PREPARED_LIST) await insertRefsQuery(unique.length)(this.db, row.repositoryId, row.digest, ...refValues);
    else await insertRefs(this.db, row.repositoryId, row.digest, refValues).execute();
    return true;
  }

  /** The summed sizes of these (distinct) blobs, in chunks of bound parameters. */
  private async sumBlobSizes(digests: string[]): Promise<number> {
    let bytes = 0;
    for (const part of chunks(digests)) {
      const r = await this.db.selectFrom('blobs').select(sql<number | string | null>`sum(size)`.as('n')).where('digest', 'in', part).executeTakeFirst();
      bytes += Number(r?.n ?? 0);
    }
    return bytes;
  }

  async deleteMany(repositoryId: number, digests: string[]): Promise<number> {
    let deleted = 0;
    // The same three deletes as `delete`, each for a chunk of digests at once.
    for (const part of chunks([...new Set(digests)])) {
      await this.db.deleteFrom('tags').where('repository_id', '=', repositoryId).where('digest', 'in', part).execute();
      await this.db.deleteFrom('manifest_refs').where('repository_id', '=', repositoryId).where('parent_digest', 'in', part).execute();
      const r = await this.db.deleteFrom('manifests').where('repository_id', '=', repositoryId).where('digest', 'in', part).executeTakeFirst();
      deleted += Number(r.numDeletedRows);
    }
    return deleted;
  }

  async delete(repositoryId: number, digest: string): Promise<boolean> {
    await this.db.deleteFrom('tags').where('repository_id', '=', repositoryId).where('digest', '=', digest).execute();
    await this.db
      .deleteFrom('manifest_refs')
      .where('repository_id', '=', repositoryId)
      .where('parent_digest', '=', digest)
      .execute();
    const r = await this.db
      .deleteFrom('manifests')
      .where('repository_id', '=', repositoryId)
      .where('digest', '=', digest)
      .executeTakeFirst();
    return Number(r.numDeletedRows) > 0;
  }

  async presentAmong(repositoryId: number, digests: string[]): Promise<Set<string>> {
    if (digests.length === 0) return new Set();
    const rows = await this.db
      .selectFrom('manifests')
      .select('digest')
      .where('repository_id', '=', repositoryId)
      .where('digest', 'in', [...new Set(digests)])
      .execute();
    return new Set(rows.map((r) => r.digest));
  }

  async exclusiveBytes(repositoryId: number, digests: string[]): Promise<number> {
    // Counted by the database over the set it holds (a lifecycle preview passes ~100,000
    // digests): the references of the repository whose parent is in the set, the distinct
    // blobs they name, and of those the ones no manifest outside the set references. NOTE:
    // measured at 100,000 images, 93,500 in the set: 0.5 s on SQLite, against 2.2 s counting
    // references per chunk of digests and 1.0-1.5 s reading every reference into JS.
    const set = [...new Set(digests)];
    if (set.length === 0) return 0;
    if (this.dialect === 'postgres') return this.exclusiveBytesPostgres(repositoryId, set);
    // In a snapshot that read the repository whole, the same answer through the kept
    // manifests when they are fewer: "no reference from a kept manifest" instead of "every
    // reference from an expiring one". Exact only because nothing changes in a snapshot.
    // NOTE: 93,500 of 100,000 expiring: 0.33-0.48 s -> 0.10-0.14 s for filling the set and
    // grouping the references.
    const all = this.inventoried?.get(repositoryId);
    if (all && set.length * 2 > all.length) {
      const expiring = new Set(set);
      return this.exclusiveBytesSqlite(repositoryId, all.filter((d) => !expiring.has(d)), 'kept');
    }
    return this.exclusiveBytesSqlite(repositoryId, set, 'expiring');
  }

  /**
   * The same count as SQLite's: the repository's references grouped by blob, each group's
   * references from the set counted through a hash of the set. NOTE: the first form asked, per
   * reference, whether its parent was in the set by scanning the set (a CTE has no index): at
   * 100,000 images with 93,500 in the set it ran for more than five minutes.
   */
  private async exclusiveBytesPostgres(repositoryId: number, set: string[]): Promise<number> {
    const r = await sql<{ bytes: string | number | null }>`
      with e(d) as materialized (select distinct unnest(${set}::text[])),
      c(d) as (select r.child_digest from manifest_refs r left join e on e.d = r.parent_digest
               where r.repository_id = ${repositoryId} and r.kind = 'blob'
               group by r.child_digest having count(*) = count(e.d))
      select coalesce(sum(coalesce(l.size, (select b.size from blobs b where b.digest = c.d))), 0) as bytes
      from c left join repository_blobs l on l.repository_id = ${repositoryId} and l.digest = c.d
      where not exists (select 1 from manifest_refs o where o.child_digest = c.d and o.kind = 'blob' and o.repository_id <> ${repositoryId})`.execute(this.db);
    return Number(r.rows[0]?.bytes ?? 0);
  }

  /**
   * The set goes into a temporary table of this connection (SQLite's json_each over the same
   * set was three times slower than the table's primary key). Calls take turns: statements of
   * other requests may run between these, and none of them names the table. `set` holds the
   * expiring manifests, or (`kept`) every other manifest of the repository. The count goes
   * over ranges of blob digests, yielding to the event loop between them.
   */
  private async exclusiveBytesSqlite(repositoryId: number, set: string[], holds: 'expiring' | 'kept'): Promise<number> {
    const run = async (): Promise<number> => {
      await this.db.executeQuery(CompiledQuery.raw(`create temp table if not exists berth_digest_set (d text primary key) without rowid`));
      await this.db.executeQuery(CompiledQuery.raw(`delete from temp.berth_digest_set`));
      try {
        // In key order, each row lands beside the last (four times faster than in push order).
        // Digests are ASCII, so the default sort is byte order.
        set.sort();
        for (let i = 0; i < set.length; i += INSERT_ROWS) {
          const part = set.slice(i, i + INSERT_ROWS);
          await this.db.executeQuery(CompiledQuery.raw(`insert or ignore into temp.berth_digest_set (d) values ${part.map(() => '(?)').join(',')}`, part));
        }
        // The repository's referenced blobs in the range whose every reference here is from
        // the expiring set (none from the kept set), in the order of the (repository_id,
        // child_digest) index, sized from their links, less those another repository references.
        const freed = holds === 'expiring' ? 'count(*) = count(e.d)' : 'count(e.d) = 0';
        const query = `with c(d) as (select r.child_digest from manifest_refs r left join temp.berth_digest_set e on e.d = r.parent_digest
                         where r.repository_id = ? and r.kind = 'blob' and r.child_digest >= ? and r.child_digest < ?
                         group by r.child_digest having ${freed})
           select coalesce(sum(coalesce(l.size, (select b.size from blobs b where b.digest = c.d))), 0) as bytes
           from c left join repository_blobs l on l.repository_id = ? and l.digest = c.d
           where not exists (select 1 from manifest_refs o where o.child_digest = c.d and o.kind = 'blob' and o.repository_id <> ?)`;
        let bytes = 0;
        for (const [from, to] of DIGEST_RANGES) {
          const r = await this.db.executeQuery<{ bytes: number | null }>(CompiledQuery.raw(query, [repositoryId, from, to, repositoryId, repositoryId]));
          bytes += Number(r.rows[0]?.bytes ?? 0);
          await nextTurn();
        }
        return bytes;
      } finally {
        await this.db.executeQuery(CompiledQuery.raw(`delete from temp.berth_digest_set`));
      }
    };
    const turn = sqliteDigestSetTurn.then(run, run);
    sqliteDigestSetTurn = turn.catch(() => 0);
    return turn;
  }

  async childLinks(repositoryId: number): Promise<{ parent: string; child: string }[]> {
    // The literal kind lets both databases use the partial index manifest_refs_links (a bound
    // value would not); without it the read scanned every reference of the repository.
    return this.db
      .selectFrom('manifest_refs')
      .select(['parent_digest as parent', 'child_digest as child'])
      .where('repository_id', '=', repositoryId)
      .where(sql<boolean>`kind = 'manifest'`)
      .orderBy('parent_digest')
      .orderBy('child_digest')
      .execute();
  }

  async inventory(repositoryId: number): Promise<RepositoryInventory> {
    // NOTE: whole-repository reads without ORDER BY (sorting in SQL made SQLite walk an index
    // and fetch every row from the table by it); tags are sorted per manifest below.
    // The rows are the inventory's objects, completed in place: a second object per manifest
    // (100,000 of them in a large repository) cost more in garbage collection than in copying.
    // SQLite reads by ranges of digests (manifests and their tags together), yielding to the
    // event loop between them; PostgreSQL does not block it, and reads the whole at once.
    const rows: InventoryRow[] = [];
    for (const range of this.dialect === 'sqlite' ? DIGEST_RANGES : [undefined]) {
      const part = await this.inventoryRows(repositoryId, range);
      let q = this.db.selectFrom('tags').select(['digest', 'name']).where('repository_id', '=', repositoryId);
      if (range) q = q.where('digest', '>=', range[0]).where('digest', '<', range[1]);
      const tags = new Map<string, string[]>();
      for (const t of await q.execute()) {
        const list = tags.get(t.digest);
        if (list) list.push(t.name);
        else tags.set(t.digest, [t.name]);
      }
      for (const r of part) {
        r.isIndex = r.isIndex === true || (r.isIndex as unknown) === 1;
        r.tags = sorted(tags.get(r.digest));
        r.childOf = NONE;
        rows.push(r);
      }
      if (range) await nextTurn();
    }
    // Sizes as `sizes` computes them: a manifest's blob bytes; an index, its largest child.
    const links = await this.childLinks(repositoryId);
    if (links.length > 0) {
      const parents = new Map<string, string[]>();
      const indexSize = new Map<string, number>();
      const own = new Map(rows.map((r) => [r.digest, r.sizeBytes]));
      for (const l of links) {
        indexSize.set(l.parent, Math.max(indexSize.get(l.parent) ?? own.get(l.parent) ?? 0, own.get(l.child) ?? 0));
        const list = parents.get(l.child);
        if (list) list.push(l.parent);
        else parents.set(l.child, [l.parent]);
      }
      for (const r of rows) {
        r.childOf = sorted(parents.get(r.digest));
        r.sizeBytes = indexSize.get(r.digest) ?? r.sizeBytes;
      }
    }
    this.inventoried?.set(repositoryId, rows.map((r) => r.digest));
    return { manifests: rows as InventoryManifest[] };
  }

  /** The manifests of the repository (with a digest in `range`), their inventory fields yet to complete. */
  private async inventoryRows(repositoryId: number, range: readonly [string, string] | undefined): Promise<InventoryRow[]> {
    // PostgreSQL returns bigint as text, so its numbers come cast to float8 (exact below 2^53).
    const num = (column: 'pushed_at' | 'last_pulled_at' | 'blob_bytes') => (this.dialect === 'postgres' ? sql<number>`${sql.ref(column)}::float8` : sql<number>`${sql.ref(column)}`);
    let q = this.db
      .selectFrom('manifests')
      .select([
        'digest',
        // The media type only as "is an index" (SQLite answers 0 or 1, fixed by the caller).
        sql<boolean>`media_type in (${MediaType.OciIndex}, ${MediaType.DockerManifestList})`.as('isIndex'),
        'subject_digest as referrerOf',
        num('pushed_at').as('pushedAt'),
        sql<number | null>`${num('last_pulled_at')}`.as('lastPulledAt'),
        num('blob_bytes').as('sizeBytes'),
      ])
      .where('repository_id', '=', repositoryId);
    if (range) q = q.where('digest', '>=', range[0]).where('digest', '<', range[1]);
    return (await q.execute()) as InventoryRow[];
  }

  async parentsAmong(repositoryId: number, digests: string[]): Promise<Map<string, string[]>> {
    const out = new Map<string, string[]>();
    for (const part of chunks([...new Set(digests)])) {
      const rows = await this.db
        .selectFrom('manifest_refs')
        .select(['child_digest', 'parent_digest'])
        .where('repository_id', '=', repositoryId)
        .where('kind', '=', 'manifest')
        .where('child_digest', 'in', part)
        .execute();
      for (const r of rows) {
        const list = out.get(r.child_digest);
        if (list) list.push(r.parent_digest);
        else out.set(r.child_digest, [r.parent_digest]);
      }
    }
    // NOTE: sorted here, not by ORDER BY (see tags.ofMany: SQLite may then walk the repository's
    // rows in that order instead of looking the digests up).
    for (const list of out.values()) list.sort();
    return out;
  }

  async parentsOf(repositoryId: number, digest: string): Promise<string[]> {
    const rows = await this.db
      .selectFrom('manifest_refs')
      .select('parent_digest')
      .where('repository_id', '=', repositoryId)
      .where('child_digest', '=', digest)
      .where('kind', '=', 'manifest')
      .orderBy('parent_digest')
      .execute();
    return rows.map((r) => r.parent_digest);
  }

  async list(repositoryId: number, page: Page): Promise<ManifestRow[]> {
    let q = this.db.selectFrom('manifests').select(MANIFEST_COLUMNS).where('repository_id', '=', repositoryId).orderBy('digest').limit(page.limit);
    if (page.last !== undefined) q = q.where('digest', '>', page.last);
    return (await q.execute()).map(toManifest);
  }

  async count(repositoryId: number): Promise<number> {
    const r = await this.db
      .selectFrom('manifests')
      .select((eb) => eb.fn.countAll().as('n'))
      .where('repository_id', '=', repositoryId)
      .executeTakeFirstOrThrow();
    return Number(r.n);
  }

  async sizes(repositoryId: number, digests: string[]): Promise<Map<string, number>> {
    const out = await this.directSizes(repositoryId, digests);
    // An index is as large as its largest child (ECR: "the max size of all manifests in the list").
    // NOTE: two simple indexed queries; one self-join here made SQLite scan every reference.
    const links = await this.db
      .selectFrom('manifest_refs')
      .select(['parent_digest', 'child_digest'])
      .where('repository_id', '=', repositoryId)
      .where('kind', '=', 'manifest')
      .where('parent_digest', 'in', [...new Set(digests)])
      .execute();
    if (links.length > 0) {
      const childSizes = await this.directSizes(repositoryId, links.map((l) => l.child_digest));
      for (const l of links) out.set(l.parent_digest, Math.max(out.get(l.parent_digest) ?? 0, childSizes.get(l.child_digest) ?? 0));
    }
    return out;
  }

  /** Each manifest's blob bytes (0 when it is not stored). */
  private async directSizes(repositoryId: number, digests: string[]): Promise<Map<string, number>> {
    const out = new Map<string, number>();
    const unique = [...new Set(digests)];
    for (const part of chunks(unique)) {
      const rows = await this.db
        .selectFrom('manifests')
        .select(['digest', 'blob_bytes'])
        .where('repository_id', '=', repositoryId)
        .where('digest', 'in', part)
        .execute();
      for (const r of rows) out.set(r.digest, Number(r.blob_bytes));
    }
    for (const d of unique) if (!out.has(d)) out.set(d, 0);
    return out;
  }

  async referrers(repositoryId: number, subjectDigest: string, artifactType?: string): Promise<ManifestRow[]> {
    let q = this.db
      .selectFrom('manifests')
      .select(MANIFEST_COLUMNS)
      .where('repository_id', '=', repositoryId)
      .where('subject_digest', '=', subjectDigest);
    if (artifactType !== undefined) q = q.where('artifact_type', '=', artifactType);
    return (await q.orderBy('digest').execute()).map(toManifest);
  }

  async recordPull(repositoryId: number, digest: string, now: number): Promise<void> {
    await this.db
      .updateTable('manifests')
      .set({ last_pulled_at: now })
      .where('repository_id', '=', repositoryId)
      .where('digest', '=', digest)
      .execute();
  }
}

type InventoryRow = Omit<InventoryManifest, 'tags' | 'childOf'> & Partial<Pick<InventoryManifest, 'tags' | 'childOf'>>;

/**
 * Digest ranges [from, to) that together hold every digest (ASCII, so below U+007F), about
 * equal for sha256: SQLite's whole-repository reads go range by range, 65 of them. At 100,000
 * manifests a range takes 5-10 ms, the longest the event loop then waits.
 */
const DIGEST_RANGES: readonly (readonly [string, string])[] = (() => {
  const hex = '0123456789abcdef';
  const starts = [...hex].flatMap((a) => ['0', '4', '8', 'c'].map((b) => `sha256:${a}${b}`));
  const bounds = ['', ...starts.slice(1), 'sha256;', '\x7f'];
  return bounds.slice(1).map((to, i) => [bounds[i]!, to] as const);
})();


const CHUNK = 5000;
/** Rows per insert into the temporary digest set (two statement texts: full and last). */
const INSERT_ROWS = 1000;
/** The SQLite digest set's current user (one per process; see exclusiveBytesSqlite). */
let sqliteDigestSetTurn: Promise<unknown> = Promise.resolve();

const byteOrder = (a: string, b: string): number => (a < b ? -1 : a > b ? 1 : 0);

const NONE: readonly string[] = Object.freeze([]);

/** The list in byte order (most manifests have one tag or none). */
const sorted = (list: string[] | undefined): readonly string[] => (list === undefined ? NONE : list.length > 1 ? list.sort(byteOrder) : list);

function chunks<T>(items: T[]): T[][] {
  const out: T[][] = [];
  for (let i = 0; i < items.length; i += CHUNK) out.push(items.slice(i, i + CHUNK));
  return out;
}
