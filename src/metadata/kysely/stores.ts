import type { Kysely, Selectable } from 'kysely';
import type {
  BlobIndex,
  BlobRow,
  ManifestReference,
  ManifestRow,
  ManifestStore,
  ManifestWithContent,
  Page,
  RepositoryRow,
  RepositoryStore,
  TagStore,
  UploadRow,
  UploadStore,
} from '../types.js';
import type { Database } from './schema.js';

type Db = Kysely<Database>;
type Dialect = 'sqlite' | 'postgres';

export class KyselyRepositories implements RepositoryStore {
  constructor(private readonly db: Db) {}

  async ensure(name: string, now: number): Promise<RepositoryRow> {
    const found = await this.get(name);
    if (found) return found;
    await this.db
      .insertInto('repositories')
      .values({ name, created_at: now })
      .onConflict((oc) => oc.column('name').doNothing())
      .execute();
    const row = await this.get(name);
    if (!row) throw new Error(`repository ${name} vanished after insert`);
    return row;
  }

  async get(name: string): Promise<RepositoryRow | null> {
    const r = await this.db.selectFrom('repositories').selectAll().where('name', '=', name).executeTakeFirst();
    return r ? { id: Number(r.id), name: r.name, createdAt: Number(r.created_at) } : null;
  }

  async list(page: Page): Promise<string[]> {
    let q = this.db.selectFrom('repositories').select('name').orderBy('name').limit(page.limit);
    if (page.last !== undefined) q = q.where('name', '>', page.last);
    return (await q.execute()).map((r) => r.name);
  }
}

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

const toManifest = (r: Omit<Selectable<Database['manifests']>, 'content'>): ManifestRow => ({
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

const withContent = (r: Selectable<Database['manifests']>): ManifestWithContent => ({ ...toManifest(r), content: r.content });

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

export class KyselyManifests implements ManifestStore {
  constructor(private readonly db: Db) {}

  async get(repositoryId: number, digest: string): Promise<ManifestWithContent | null> {
    const r = await this.db
      .selectFrom('manifests')
      .selectAll()
      .where('repository_id', '=', repositoryId)
      .where('digest', '=', digest)
      .executeTakeFirst();
    return r ? withContent(r) : null;
  }

  async put(row: ManifestRow, content: Buffer, refs: ManifestReference[]): Promise<boolean> {
    const res = await this.db
      .insertInto('manifests')
      .values({
        repository_id: row.repositoryId,
        digest: row.digest,
        media_type: row.mediaType,
        size: row.size,
        content,
        artifact_type: row.artifactType,
        subject_digest: row.subjectDigest,
        annotations: row.annotations === null ? null : JSON.stringify(row.annotations),
        pushed_at: row.pushedAt,
        last_pulled_at: row.lastPulledAt,
      })
      .onConflict((oc) => oc.columns(['repository_id', 'digest']).doNothing())
      .executeTakeFirst();
    if (Number(res.numInsertedOrUpdatedRows ?? 0) === 0) return false;
    const unique = new Map(refs.map((r) => [`${r.kind} ${r.digest}`, r]));
    if (unique.size > 0) {
      await this.db
        .insertInto('manifest_refs')
        .values(
          [...unique.values()].map((r) => ({
            repository_id: row.repositoryId,
            parent_digest: row.digest,
            child_digest: r.digest,
            kind: r.kind,
          })),
        )
        .execute();
    }
    return true;
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

export class KyselyTags implements TagStore {
  constructor(private readonly db: Db) {}

  async resolve(repositoryId: number, tag: string): Promise<ManifestWithContent | null> {
    const r = await this.db
      .selectFrom('tags as t')
      .innerJoin('manifests as m', (j) => j.onRef('m.repository_id', '=', 't.repository_id').onRef('m.digest', '=', 't.digest'))
      .selectAll('m')
      .where('t.repository_id', '=', repositoryId)
      .where('t.name', '=', tag)
      .executeTakeFirst();
    return r ? withContent(r) : null;
  }

  async set(repositoryId: number, tag: string, digest: string, now: number): Promise<string | null> {
    const prev = await this.db
      .selectFrom('tags')
      .select('digest')
      .where('repository_id', '=', repositoryId)
      .where('name', '=', tag)
      .executeTakeFirst();
    await this.db
      .insertInto('tags')
      .values({ repository_id: repositoryId, name: tag, digest, updated_at: now })
      .onConflict((oc) => oc.columns(['repository_id', 'name']).doUpdateSet({ digest, updated_at: now }))
      .execute();
    return prev?.digest ?? null;
  }

  async delete(repositoryId: number, tag: string): Promise<boolean> {
    const r = await this.db.deleteFrom('tags').where('repository_id', '=', repositoryId).where('name', '=', tag).executeTakeFirst();
    return Number(r.numDeletedRows) > 0;
  }

  async list(repositoryId: number, page: Page): Promise<string[]> {
    let q = this.db.selectFrom('tags').select('name').where('repository_id', '=', repositoryId).orderBy('name').limit(page.limit);
    if (page.last !== undefined) q = q.where('name', '>', page.last);
    return (await q.execute()).map((r) => r.name);
  }

  async of(repositoryId: number, digest: string): Promise<string[]> {
    const rows = await this.db
      .selectFrom('tags')
      .select('name')
      .where('repository_id', '=', repositoryId)
      .where('digest', '=', digest)
      .orderBy('name')
      .execute();
    return rows.map((r) => r.name);
  }
}

const toUpload = (r: Selectable<Database['uploads']>): UploadRow => ({
  id: r.id,
  repositoryId: Number(r.repository_id),
  storageKey: r.storage_key,
  offset: Number(r.offset),
  createdAt: Number(r.created_at),
  updatedAt: Number(r.updated_at),
});

export class KyselyUploads implements UploadStore {
  constructor(private readonly db: Db) {}

  async create(row: UploadRow): Promise<void> {
    await this.db
      .insertInto('uploads')
      .values({
        id: row.id,
        repository_id: row.repositoryId,
        storage_key: row.storageKey,
        offset: row.offset,
        created_at: row.createdAt,
        updated_at: row.updatedAt,
      })
      .execute();
  }

  async get(id: string): Promise<UploadRow | null> {
    const r = await this.db.selectFrom('uploads').selectAll().where('id', '=', id).executeTakeFirst();
    return r ? toUpload(r) : null;
  }

  async advance(id: string, from: number, to: number, now: number): Promise<boolean> {
    const r = await this.db
      .updateTable('uploads')
      .set({ offset: to, updated_at: now })
      .where('id', '=', id)
      .where('offset', '=', from)
      .executeTakeFirst();
    return Number(r.numUpdatedRows) > 0;
  }

  async delete(id: string): Promise<boolean> {
    const r = await this.db.deleteFrom('uploads').where('id', '=', id).executeTakeFirst();
    return Number(r.numDeletedRows) > 0;
  }

  async listStale(before: number, limit: number): Promise<UploadRow[]> {
    const rows = await this.db
      .selectFrom('uploads')
      .selectAll()
      .where('updated_at', '<', before)
      .orderBy('updated_at')
      .limit(limit)
      .execute();
    return rows.map(toUpload);
  }
}
