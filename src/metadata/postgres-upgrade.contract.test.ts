import { randomUUID } from 'node:crypto';
import { Kysely, Migrator, PostgresDialect } from 'kysely';
import pg from 'pg';
import { afterAll, describe, expect, it } from 'vitest';
import { migrationProvider } from './kysely/migrations.js';
import { openPostgresMetadataStore } from './postgres.js';

// The upgrade path on PostgreSQL: a database at 0008 gets each manifest's blob bytes (0009) and
// each link's blob size (0010) filled in from the rows it already has.
const url = process.env.BERTH_TEST_PG_URL;
const schema = `berth_upgrade_${randomUUID().replace(/-/g, '').slice(0, 12)}`;
const neighbours = [1, 2].map((n) => `berth_beside${n}_${randomUUID().replace(/-/g, '').slice(0, 8)}`);

describe.skipIf(!url)('PostgreSQL migrations 0009-0010 on existing rows (skipped without BERTH_TEST_PG_URL)', () => {
  afterAll(async () => {
    const c = new pg.Client({ connectionString: url });
    await c.connect();
    for (const s of [schema, ...neighbours]) await c.query(`drop schema if exists ${s} cascade`);
    await c.end();
  });

  it('migrates a store in its own schema beside another store of the same database', async () => {
    // Kysely found the first schema's migration tables and skipped creating the second's.
    for (const s of neighbours) {
      const store = await openPostgresMetadataStore({ url: url!, schema: s });
      try {
        await store.repositories.ensure(`beside/${s}`, 1);
        expect(await store.repositories.list({ limit: 10 })).toEqual([`beside/${s}`]);
      } finally {
        await store.close();
      }
    }
  });

  it('fills in blob bytes and link sizes', async () => {
    const pool = new pg.Pool({ connectionString: url, max: 1, options: `-c search_path=${schema}` });
    await pool.query(`create schema ${schema}`);
    const db = new Kysely<unknown>({ dialect: new PostgresDialect({ pool }) });
    const { error } = await new Migrator({ db, provider: migrationProvider('postgres'), allowUnorderedMigrations: true, migrationTableSchema: schema }).migrateTo('0008_sqlite_clustered_tables');
    expect(error).toBeUndefined();
    await pool.query(`insert into repositories (name, created_at) values ('app', 1);
      insert into blobs values ('sha256:b1', 10, 'blobs/aa/one', 1), ('sha256:b2', 20, 'blobs/bb/two', 2);
      insert into repository_blobs values (1, 'sha256:b1', 1), (1, 'sha256:b2', 2);
      insert into manifests (repository_id, digest, media_type, size, content, pushed_at) values (1, 'sha256:m1', 'x', 2, '\\x7b7d', 3), (1, 'sha256:m2', 'x', 2, '\\x7b7d', 4);
      insert into manifest_refs values (1, 'sha256:m1', 'sha256:b1', 'blob'), (1, 'sha256:m1', 'sha256:b2', 'blob'), (1, 'sha256:m1', 'sha256:gone', 'blob');`);
    await db.destroy();

    const store = await openPostgresMetadataStore({ url: url!, schema });
    try {
      const repo = (await store.repositories.get('app'))!;
      expect(await store.manifests.sizes(repo.id, ['sha256:m1', 'sha256:m2'])).toEqual(new Map([['sha256:m1', 30], ['sha256:m2', 0]]));
      expect(await store.manifests.exclusiveBytes(repo.id, ['sha256:m1'])).toBe(30);
      const c = new pg.Client({ connectionString: url, options: `-c search_path=${schema}` });
      await c.connect();
      expect((await c.query('select digest, size from repository_blobs order by digest')).rows).toEqual([{ digest: 'sha256:b1', size: 10 }, { digest: 'sha256:b2', size: 20 }]);
      await c.end();
    } finally {
      await store.close();
    }
  });
});
