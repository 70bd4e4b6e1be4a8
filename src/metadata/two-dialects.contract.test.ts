import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { afterAll, describe, expect, it } from 'vitest';
import { openPostgresMetadataStore } from './postgres.js';
import { openSqliteMetadataStore } from './sqlite.js';

const url = process.env.BERTH_TEST_PG_URL;
const schema = `berth_two_${randomUUID().replace(/-/g, '').slice(0, 12)}`;

describe.skipIf(!url)('a SQLite and a PostgreSQL store in one process (skipped without BERTH_TEST_PG_URL)', () => {
  const dir = mkdtempSync(join(tmpdir(), 'berth-two-dialects-'));
  afterAll(async () => {
    rmSync(dir, { recursive: true, force: true });
    const c = new pg.Client({ connectionString: url });
    await c.connect();
    await c.query(`drop schema if exists ${schema} cascade`);
    await c.end();
  });

  it('each runs its queries in its own dialect (the compiled-query cache is per dialect)', async () => {
    const sqlite = await openSqliteMetadataStore(join(dir, 'berth.db'));
    const postgres = await openPostgresMetadataStore({ url: url!, schema });
    try {
      // Registry settings and repositories are read through compiled-once queries.
      for (const store of [sqlite, postgres, sqlite]) {
        await store.registry.put('k', store.dialect);
        expect(await store.registry.get('k')).toBe(store.dialect);
        await store.repositories.ensure('two/dialects', 1);
        expect((await store.repositories.get('two/dialects'))?.name).toBe('two/dialects');
      }
    } finally {
      await sqlite.close();
      await postgres.close();
    }
  });
});
