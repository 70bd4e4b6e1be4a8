import Database from 'better-sqlite3';
import { Kysely, Migrator, SqliteDialect } from 'kysely';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { openSqliteMetadataStore } from '../sqlite.js';
import { migrationProvider } from './migrations.js';

// The upgrade path: a database created before 0008 keeps every row and every foreign key
// when its tables are rebuilt in primary-key order.
describe('migrations 0008-0010 (SQLite tables clustered by primary key, blob bytes, link sizes)', () => {
  const dirs: string[] = [];
  afterEach(() => {
    for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
  });

  async function databaseAt0007(): Promise<string> {
    const dir = mkdtempSync(join(tmpdir(), 'berth-0008-'));
    dirs.push(dir);
    const path = join(dir, 'berth.db');
    const raw = new Database(path);
    raw.pragma('foreign_keys = ON');
    const db = new Kysely<unknown>({ dialect: new SqliteDialect({ database: raw }) });
    const migrator = new Migrator({ db, provider: migrationProvider('sqlite'), allowUnorderedMigrations: true });
    const { error } = await migrator.migrateTo('0007_scans');
    expect(error).toBeUndefined();
    raw.exec(`insert into repositories (name, created_at) values ('app', 1);
      insert into blobs values ('sha256:b1', 10, 'blobs/aa/one', 1), ('sha256:b2', 20, 'blobs/bb/two', 2);
      insert into repository_blobs values (1, 'sha256:b1', 1), (1, 'sha256:b2', 2);
      insert into manifests (repository_id, digest, media_type, size, content, pushed_at) values (1, 'sha256:m1', 'x', 2, x'7b7d', 3);
      insert into manifest_refs values (1, 'sha256:m1', 'sha256:b1', 'blob'), (1, 'sha256:m1', 'sha256:b2', 'blob');
      insert into tags values (1, 'latest', 'sha256:m1', 4);`);
    await db.destroy();
    return path;
  }

  it('keeps every row, indexes and foreign keys', async () => {
    const path = await databaseAt0007();
    const store = await openSqliteMetadataStore(path);
    expect((await store.blobs.get('sha256:b2'))?.storageKey).toBe('blobs/bb/two');
    expect(await store.blobs.hasStorageKey('blobs/aa/one')).toBe(true);
    const repo = await store.repositories.get('app');
    expect(repo).toBeTruthy();
    expect(await store.tags.list(repo!.id, { limit: 10 })).toEqual(['latest']);
    // 0009 filled in the manifest's blob bytes from its references.
    expect(await store.manifests.sizes(repo!.id, ['sha256:m1'])).toEqual(new Map([['sha256:m1', 30]]));
    expect(await store.manifests.exclusiveBytes(repo!.id, ['sha256:m1'])).toBe(30);
    await store.close();

    const raw = new Database(path);
    const sqlOf = (name: string) => (raw.prepare(`select sql from sqlite_master where name = ?`).get(name) as { sql: string }).sql;
    for (const t of ['blobs', 'repository_blobs', 'manifest_refs', 'tags']) expect(sqlOf(t)).toMatch(/without rowid$/i);
    for (const i of ['blobs_storage_key', 'repository_blobs_digest', 'manifest_refs_child', 'manifest_refs_child_digest', 'manifest_refs_links', 'tags_digest']) expect(sqlOf(i)).toMatch(/^create index/i);
    // 0010 copied each linked blob's size onto its link.
    expect(raw.prepare('select digest, size from repository_blobs order by digest').all()).toEqual([{ digest: 'sha256:b1', size: 10 }, { digest: 'sha256:b2', size: 20 }]);
    raw.pragma('foreign_keys = ON');
    expect(() => raw.prepare(`insert into repository_blobs (repository_id, digest, created_at) values (1, 'sha256:missing', 1)`).run()).toThrow(/FOREIGN KEY/);
    // Deleting the manifest still cascades to its references and tags.
    raw.prepare(`delete from manifests where digest = 'sha256:m1'`).run();
    expect(raw.prepare('select count(*) as n from manifest_refs').get()).toEqual({ n: 0 });
    expect(raw.prepare('select count(*) as n from tags').get()).toEqual({ n: 0 });
    raw.close();
  });

  it('stores the blob size on each new link (0010)', async () => {
    const path = await databaseAt0007();
    const store = await openSqliteMetadataStore(path);
    const repo = await store.repositories.ensure('other', 1);
    await store.blobs.insert({ digest: 'sha256:b3', size: 33, storageKey: 'blobs/cc/three', createdAt: 1 });
    await store.blobs.link(repo.id, 'sha256:b3', 2);
    await store.blobs.link(repo.id, 'sha256:b3', 3);
    await store.close();
    const raw = new Database(path);
    expect(raw.prepare('select size, created_at from repository_blobs where repository_id = ?').all(repo.id)).toEqual([{ size: 33, created_at: 3 }]);
    raw.close();
  });
});
