/**
 * The SQLite store serves repository rows and registry settings from memory while the database
 * is unchanged: these tests change it every way a change can come (this connection, inside and
 * outside a transaction; another connection, as another worker or `berth gc` would) and check
 * that the next read sees the change, and that unchanged reads do not touch the database.
 */
import Database from 'better-sqlite3';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setImmediate as nextTurn } from 'node:timers/promises';
import { afterAll, describe, expect, it } from 'vitest';
import { DEFAULT_REPOSITORY_SETTINGS } from './types.js';
import { openSqliteMetadataStore } from './sqlite.js';

describe('SQLite reads kept while the database is unchanged', () => {
  const dir = mkdtempSync(join(tmpdir(), 'berth-change-watch-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('sees its own writes at once, in and out of transactions', async () => {
    const store = await openSqliteMetadataStore(join(dir, 'own.db'));
    try {
      expect(await store.repositories.get('own/repo')).toBeNull();
      const repo = await store.repositories.ensure('own/repo', 1);
      expect((await store.repositories.get('own/repo'))?.id).toBe(repo.id);
      // In the same turn of the event loop as the write: no stale copy.
      await store.repositories.updateSettings(repo.id, { ...DEFAULT_REPOSITORY_SETTINGS, tagMutability: 'IMMUTABLE' });
      expect((await store.repositories.get('own/repo'))?.settings.tagMutability).toBe('IMMUTABLE');
      await store.tx(async (tx) => {
        await tx.repositories.updateSettings(repo.id, { ...DEFAULT_REPOSITORY_SETTINGS, tagMutability: 'MUTABLE' });
      });
      expect((await store.repositories.get('own/repo'))?.settings.tagMutability).toBe('MUTABLE');

      expect(await store.registry.get('registry-policy')).toBeNull();
      await store.registry.put('registry-policy', '{"v":1}');
      expect(await store.registry.get('registry-policy')).toBe('{"v":1}');
      await store.tx(async (tx) => {
        await tx.registry.delete('registry-policy');
      });
      expect(await store.registry.get('registry-policy')).toBeNull();
    } finally {
      await store.close();
    }
  });

  it("sees another connection's commits from the next turn of the event loop on", async () => {
    const path = join(dir, 'other.db');
    const store = await openSqliteMetadataStore(path);
    const other = new Database(path);
    try {
      const repo = await store.repositories.ensure('other/repo', 1);
      await store.registry.put('registry-policy', 'before');
      expect(await store.registry.get('registry-policy')).toBe('before');
      expect((await store.repositories.get('other/repo'))?.settings.tagMutability).toBe('MUTABLE');
      await nextTurn();

      other.prepare("update registry_settings set value = 'after' where key = 'registry-policy'").run();
      other.prepare('update repositories set settings = ? where id = ?').run(JSON.stringify({ ...DEFAULT_REPOSITORY_SETTINGS, tagMutability: 'IMMUTABLE' }), repo.id);
      await nextTurn();
      expect(await store.registry.get('registry-policy')).toBe('after');
      expect((await store.repositories.get('other/repo'))?.settings.tagMutability).toBe('IMMUTABLE');

      other.prepare('delete from repositories where id = ?').run(repo.id);
      await nextTurn();
      expect(await store.repositories.get('other/repo')).toBeNull();
    } finally {
      other.close();
      await store.close();
    }
  });

  it('reads an unchanged row from memory, frozen', async () => {
    const path = join(dir, 'kept.db');
    const store = await openSqliteMetadataStore(path);
    try {
      await store.repositories.ensure('kept/repo', 1);
      const first = await store.repositories.get('kept/repo');
      await nextTurn();
      const again = await store.repositories.get('kept/repo');
      // The same object: no statement ran. Frozen, because every reader shares it.
      expect(again).toBe(first);
      expect(Object.isFrozen(again?.settings)).toBe(true);
      expect(() => {
        (again!.settings as { tagMutability: string }).tagMutability = 'IMMUTABLE';
      }).toThrow(TypeError);
    } finally {
      await store.close();
    }
  });
});
