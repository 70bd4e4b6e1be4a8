import type { Kysely, Selectable } from 'kysely';
import type { UploadRow, UploadStore } from '../types.js';
import type { Database } from './schema.js';
import { $, affected, prepared, preparedQuery } from './prepared.js';

type Db = Kysely<Database>;

const toUpload = (r: Selectable<Database['uploads']>): UploadRow => ({
  id: r.id,
  repositoryId: Number(r.repository_id),
  storageKey: r.storage_key,
  offset: Number(r.offset),
  createdAt: Number(r.created_at),
  updatedAt: Number(r.updated_at),
});

const getQuery = prepared('uploads.get', (db: Db) => db.selectFrom('uploads').selectAll().where('id', '=', $(1)));
const deleteQuery = preparedQuery('uploads.delete', (db: Db) => db.deleteFrom('uploads').where('id', '=', $(1)));

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
    const [r] = await getQuery(this.db, id);
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
    return affected(await deleteQuery(this.db, id)) > 0;
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
