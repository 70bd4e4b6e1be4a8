import type { Kysely, Selectable } from 'kysely';
import type { UploadRow, UploadStore } from '../types.js';
import type { Database } from './schema.js';

type Db = Kysely<Database>;

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
