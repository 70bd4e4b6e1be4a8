import type { Kysely, Selectable } from 'kysely';
import type { BlobIndex, BlobRow } from '../types.js';
import type { Database } from './schema.js';

type Db = Kysely<Database>;
type Dialect = 'sqlite' | 'postgres';

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
    const r = await this.db.selectFrom('blobs').selectAll().where('digest', '=', digest).executeTakeFirst();
    return r ? toBlob(r) : null;
  }

  async insert(row: BlobRow): Promise<{ inserted: boolean; row: BlobRow }> {
    const res = await this.db
      .insertInto('blobs')
      .values({ digest: row.digest, size: row.size, storage_key: row.storageKey, created_at: row.createdAt })
      .onConflict((oc) => oc.column('digest').doNothing())
      .executeTakeFirst();
    if (Number(res.numInsertedOrUpdatedRows ?? 0) > 0) return { inserted: true, row };
    const existing = await this.get(row.digest);
    if (!existing) throw new Error(`blob ${row.digest} vanished after a conflicting insert`);
    return { inserted: false, row: existing };
  }

  async link(repositoryId: number, digest: string, now: number): Promise<void> {
    await this.db
      .insertInto('repository_blobs')
      .values({ repository_id: repositoryId, digest, created_at: now })
      .onConflict((oc) => oc.columns(['repository_id', 'digest']).doNothing())
      .execute();
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
    const r = await this.db
      .selectFrom('repository_blobs as l')
      .innerJoin('blobs as b', 'b.digest', 'l.digest')
      .select(['b.digest', 'b.size', 'b.storage_key', 'b.created_at'])
      .where('l.repository_id', '=', repositoryId)
      .where('l.digest', '=', digest)
      .executeTakeFirst();
    return r ? toBlob(r) : null;
  }

  async linkedAmong(repositoryId: number, digests: string[]): Promise<Set<string>> {
    if (digests.length === 0) return new Set();
    let q = this.db
      .selectFrom('repository_blobs')
      .select('digest')
      .where('repository_id', '=', repositoryId)
      .where('digest', 'in', [...new Set(digests)]);
    // NOTE: inside a PostgreSQL transaction this holds the links until commit, so a
    // concurrent unlink cannot slip between the manifest's check and its insert.
    if (this.dialect === 'postgres') q = q.forShare();
    return new Set((await q.execute()).map((r) => r.digest));
  }
}

