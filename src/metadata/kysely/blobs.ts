import { sql, type Kysely, type Selectable } from 'kysely';
import type { BlobIndex, BlobRow } from '../types.js';
import type { Database } from './schema.js';
import { $, affected, prepared, preparedQuery } from './prepared.js';

type Db = Kysely<Database>;
type Dialect = 'sqlite' | 'postgres';

const getQuery = prepared('blobs.get', (db: Db) => db.selectFrom('blobs').selectAll().where('digest', '=', $(1)));
const insertQuery = preparedQuery('blobs.insert', (db: Db) =>
  db
    .insertInto('blobs')
    .values({ digest: $(1), size: $(2), storage_key: $(3), created_at: $(4) })
    .onConflict((oc) => oc.column('digest').doNothing()),
);
const linkQuery = preparedQuery('blobs.link', (db: Db) =>
  db
    .insertInto('repository_blobs')
    // The blob's size beside the link: whole-repository counts (what a lifecycle preview would
    // free) read it from the repository's own links instead of looking every blob up.
    .values({ repository_id: $(1), digest: $(2), created_at: $(3), size: sql<number | null>`(select size from blobs where digest = ${$(2)})` })
    // NOTE: a fresh link restarts the blob's garbage-collection grace period.
    .onConflict((oc) => oc.columns(['repository_id', 'digest']).doUpdateSet({ created_at: $(3) })),
);
const getLinkedQuery = prepared('blobs.getLinked', (db: Db) =>
  db
    .selectFrom('repository_blobs as l')
    .innerJoin('blobs as b', 'b.digest', 'l.digest')
    .select(['b.digest', 'b.size', 'b.storage_key', 'b.created_at'])
    .where('l.repository_id', '=', $(1))
    .where('l.digest', '=', $(2)),
);
const getLinkedByNameQuery = prepared('blobs.getLinkedByName', (db: Db) =>
  db
    .selectFrom('repositories as p')
    .innerJoin('repository_blobs as l', 'l.repository_id', 'p.id')
    .innerJoin('blobs as b', 'b.digest', 'l.digest')
    .select(['b.digest', 'b.size', 'b.storage_key', 'b.created_at'])
    .where('p.name', '=', $(1))
    .where('l.digest', '=', $(2)),
);
/** Up to this many digests, `linkedAmong` runs a statement prepared for their number. */
const PREPARED_LIST = 16;

const toBlob = (r: Selectable<Database['blobs']>): BlobRow => ({
  digest: r.digest,
  size: Number(r.size),
  storageKey: r.storage_key,
  createdAt: Number(r.created_at),
});

export class KyselyBlobs implements BlobIndex {
  constructor(
    private readonly db: Db,
    private readonly dialect: Dialect,
  ) {}

  async get(digest: string): Promise<BlobRow | null> {
    const [r] = await getQuery(this.db, digest);
    return r ? toBlob(r) : null;
  }

  async insert(row: BlobRow): Promise<{ inserted: boolean; row: BlobRow }> {
    if (affected(await insertQuery(this.db, row.digest, row.size, row.storageKey, row.createdAt)) > 0) return { inserted: true, row };
    const existing = await this.get(row.digest);
    if (!existing) throw new Error(`blob ${row.digest} vanished after a conflicting insert`);
    return { inserted: false, row: existing };
  }

  async link(repositoryId: number, digest: string, now: number): Promise<void> {
    await linkQuery(this.db, repositoryId, digest, now);
  }

  async unlink(repositoryId: number, digest: string): Promise<boolean> {
    const r = await this.db
      .deleteFrom('repository_blobs')
      .where('repository_id', '=', repositoryId)
      .where('digest', '=', digest)
      .executeTakeFirst();
    return Number(r.numDeletedRows) > 0;
  }

  async getLinked(repositoryId: number, digest: string): Promise<BlobRow | null> {
    const [r] = await getLinkedQuery(this.db, repositoryId, digest);
    return r ? toBlob(r) : null;
  }

  /** The pull path's and the push's existence check (HEAD and GET of a blob), by repository name. */
  async getLinkedByName(repository: string, digest: string): Promise<BlobRow | null> {
    const [r] = await getLinkedByNameQuery(this.db, repository, digest);
    return r ? toBlob(r) : null;
  }

  async repositoriesLinking(digest: string, limit: number): Promise<string[]> {
    const rows = await this.db
      .selectFrom('repository_blobs as l')
      .innerJoin('repositories as p', 'p.id', 'l.repository_id')
      .select('p.name')
      .where('l.digest', '=', digest)
      .limit(limit)
      .execute();
    return rows.map((r) => r.name).sort();
  }

  async linkedAmong(repositoryId: number, digests: string[]): Promise<Set<string>> {
    if (digests.length === 0) return new Set();
    const unique = [...new Set(digests)];
    const rows =
      unique.length <= PREPARED_LIST
        ? await linkedAmongQuery(this.dialect, unique.length)(this.db, repositoryId, ...unique)
        : await linkedAmong(this.db, this.dialect, repositoryId, unique).execute();
    return new Set(rows.map((r) => r.digest));
  }

  /**
   * Blobs (as `b`) that no manifest references and no repository linked at or after `olderThan`;
   * with `createdBefore`, also created before it (tested first, before the two subqueries).
   */
  private unreferenced(olderThan: number, o: { createdBefore?: boolean } = {}) {
    let q = this.db.selectFrom('blobs as b');
    if (o.createdBefore) q = q.where('b.created_at', '<', olderThan);
    return q
      .where(({ not, exists, selectFrom }) =>
        not(exists(selectFrom('manifest_refs as r').select('r.child_digest').whereRef('r.child_digest', '=', 'b.digest').where('r.kind', '=', 'blob'))),
      )
      .where(({ not, exists, selectFrom }) =>
        not(exists(selectFrom('repository_blobs as l').select('l.digest').whereRef('l.digest', '=', 'b.digest').where('l.created_at', '>=', olderThan))),
      );
  }

  async gcCandidates(olderThan: number, after: string | undefined, limit: number): Promise<BlobRow[]> {
    let q = this.unreferenced(olderThan, { createdBefore: true }).selectAll('b').orderBy('b.digest').limit(limit);
    if (after !== undefined) q = q.where('b.digest', '>', after);
    return (await q.execute()).map(toBlob);
  }

  async gcCandidateDigests(olderThan: number, after: string | undefined, limit: number): Promise<string[]> {
    // NOTE: the row's own age is not read here: that made every scanned blob a lookup in the
    // table (five times the time); removeIfUnused checks it under the lock.
    let q = this.unreferenced(olderThan).select('b.digest').orderBy('b.digest').limit(limit);
    if (after !== undefined) q = q.where('b.digest', '>', after);
    return (await q.execute()).map((r) => r.digest);
  }

  async removeIfUnused(digests: string[], olderThan: number): Promise<BlobRow[]> {
    const unique = [...new Set(digests)];
    if (unique.length === 0) return [];
    let lock = this.db.selectFrom('blobs').selectAll().where('digest', 'in', unique).where('created_at', '<', olderThan).orderBy('digest');
    if (this.dialect === 'postgres') lock = lock.forUpdate();
    const rows = await lock.execute();
    if (rows.length === 0) return [];
    const locked = rows.map((r) => r.digest);
    // Separate statements after the lock: on PostgreSQL they see manifests committed while we waited.
    const used = await this.db.selectFrom('manifest_refs').select('child_digest').distinct().where('child_digest', 'in', locked).where('kind', '=', 'blob').execute();
    const fresh = await this.db.selectFrom('repository_blobs').select('digest').distinct().where('digest', 'in', locked).where('created_at', '>=', olderThan).execute();
    const keep = new Set([...used.map((r) => r.child_digest), ...fresh.map((r) => r.digest)]);
    const gone = rows.filter((r) => !keep.has(r.digest));
    if (gone.length === 0) return [];
    const goneDigests = gone.map((r) => r.digest);
    await this.db.deleteFrom('repository_blobs').where('digest', 'in', goneDigests).execute();
    await this.db.deleteFrom('blobs').where('digest', 'in', goneDigests).execute();
    return gone.map(toBlob);
  }

  async hasStorageKey(key: string): Promise<boolean> {
    return (await this.db.selectFrom('blobs').select('digest').where('storage_key', '=', key).limit(1).executeTakeFirst()) !== undefined;
  }

  async usage(repositoryIds?: number[]): Promise<Map<number, { bytes: number; sharedBytes: number }>> {
    let q = this.db
      .selectFrom('repository_blobs as l')
      .innerJoin('blobs as b', 'b.digest', 'l.digest')
      .select([
        'l.repository_id',
        sql<number>`sum(b.size)`.as('bytes'),
        sql<number>`sum(case when (select count(*) from repository_blobs l2 where l2.digest = l.digest) > 1 then b.size else 0 end)`.as('shared'),
      ])
      .groupBy('l.repository_id');
    if (repositoryIds) {
      if (repositoryIds.length === 0) return new Map();
      q = q.where('l.repository_id', 'in', repositoryIds);
    }
    const out = new Map<number, { bytes: number; sharedBytes: number }>();
    for (const r of await q.execute()) out.set(Number(r.repository_id), { bytes: Number(r.bytes), sharedBytes: Number(r.shared) });
    return out;
  }
}

function linkedAmong(db: Db, dialect: Dialect, repositoryId: number, digests: string[]) {
  const q = db
    .selectFrom('repository_blobs as l')
    .innerJoin('blobs as b', 'b.digest', 'l.digest')
    .select('l.digest')
    .where('l.repository_id', '=', repositoryId)
    .where('l.digest', 'in', digests);
  // NOTE: inside a PostgreSQL transaction this share-locks the links and the blob rows until
  // commit; garbage collection takes the blob row FOR UPDATE before it checks references, so
  // it waits for this manifest and then sees it.
  return dialect === 'postgres' ? q.forShare() : q;
}

/** `linkedAmong` prepared per dialect and number of digests. */
const linkedAmongQueries = new Map<string, (db: Db, ...values: unknown[]) => Promise<{ digest: string }[]>>();
function linkedAmongQuery(dialect: Dialect, n: number) {
  const key = `${dialect}.${n}`;
  let q = linkedAmongQueries.get(key);
  if (!q) {
    const digests = Array.from({ length: n }, (_, i) => $(i + 2));
    linkedAmongQueries.set(key, (q = prepared(`blobs.linkedAmong.${key}`, (db: Db) => linkedAmong(db, dialect, $(1), digests))));
  }
  return q;
}
