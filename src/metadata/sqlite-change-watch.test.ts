/**
 * The SQLite store serves repository rows, registry settings and pulled manifests from memory while the database
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
import { DEFAULT_REPOSITORY_SETTINGS, type MetadataStore } from './types.js';
import { openSqliteMetadataStore } from './sqlite.js';
import { writtenTable } from './sqlite-change-watch.js';
import { MANIFEST_TABLES } from './kysely/manifests.js';
import { REGISTRY_SETTINGS_TABLES, REPOSITORY_TABLES } from './kysely/repositories.js';

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

  describe('manifests as pulls read them', () => {
    const d = (n: number): string => `sha256:${String(n).padStart(64, '0')}`;
    /** Stores manifest `n` (content `{"n":n}` padded to `size` bytes) and points `tag` at it. */
    async function push(store: MetadataStore, repositoryId: number, tag: string, n: number, size = 0): Promise<void> {
      const content = Buffer.from(JSON.stringify({ n, pad: 'x'.repeat(size) }));
      await store.tx(async (tx) => {
        await tx.manifests.put(
          { repositoryId, digest: d(n), mediaType: 'application/vnd.oci.image.manifest.v1+json', size: content.length, artifactType: null, subjectDigest: null, annotations: { n: String(n) }, pushedAt: 1, lastPulledAt: null },
          content,
          [],
        );
        await tx.tags.set(repositoryId, tag, d(n), 1);
      });
    }

    it('sees a tag moved or deleted by this connection at once', async () => {
      const store = await openSqliteMetadataStore(join(dir, 'tags-own.db'));
      try {
        const repo = await store.repositories.ensure('pull/own', 1);
        await push(store, repo.id, 'latest', 1);
        expect((await store.tags.resolveByName('pull/own', 'latest'))?.digest).toBe(d(1));
        expect((await store.manifests.getByName('pull/own', d(1)))?.digest).toBe(d(1));
        await push(store, repo.id, 'latest', 2);
        expect((await store.tags.resolveByName('pull/own', 'latest'))?.digest).toBe(d(2));
        await store.tags.delete(repo.id, 'latest');
        expect(await store.tags.resolveByName('pull/own', 'latest')).toBeNull();
        await store.manifests.delete(repo.id, d(1));
        expect(await store.manifests.getByName('pull/own', d(1))).toBeNull();
      } finally {
        await store.close();
      }
    });

    it("sees another connection's tag move from the next turn on, and keeps an unchanged manifest frozen", async () => {
      const path = join(dir, 'tags-other.db');
      const store = await openSqliteMetadataStore(path);
      const other = new Database(path);
      try {
        const repo = await store.repositories.ensure('pull/other', 1);
        await push(store, repo.id, 'latest', 1);
        await push(store, repo.id, 'v2', 2);
        await nextTurn();
        const first = await store.tags.resolveByName('pull/other', 'latest');
        await nextTurn();
        const again = await store.tags.resolveByName('pull/other', 'latest');
        expect(again).toBe(first);
        expect(Object.isFrozen(again)).toBe(true);
        expect(Object.isFrozen(again?.annotations)).toBe(true);
        expect(again?.content.toString()).toContain('"n":1');

        other.prepare('update tags set digest = ? where repository_id = ? and name = ?').run(d(2), repo.id, 'latest');
        await nextTurn();
        expect((await store.tags.resolveByName('pull/other', 'latest'))?.digest).toBe(d(2));
        other.prepare('delete from manifests where repository_id = ? and digest = ?').run(repo.id, d(1));
        await nextTurn();
        expect(await store.manifests.getByName('pull/other', d(1))).toBeNull();
      } finally {
        other.close();
        await store.close();
      }
    });

    it('keeps serving a manifest whose pull was recorded, and drops it on any other write to manifests', async () => {
      const store = await openSqliteMetadataStore(join(dir, 'tags-pulled.db'));
      try {
        const repo = await store.repositories.ensure('pull/recorded', 1);
        await push(store, repo.id, 'latest', 1);
        const first = await store.tags.resolveByName('pull/recorded', 'latest');
        // The store's own pull record (the statement the pull path runs).
        await store.manifests.recordPull(repo.id, d(1), 5);
        expect(await store.tags.resolveByName('pull/recorded', 'latest')).toBe(first);
        expect((await store.manifests.get(repo.id, d(1)))?.lastPulledAt).toBe(5);
        await push(store, repo.id, 'other', 2);
        const again = await store.tags.resolveByName('pull/recorded', 'latest');
        expect(again === first).toBe(false);
        expect(again?.lastPulledAt).toBe(5);
      } finally {
        await store.close();
      }
    });

    it('does not keep a manifest larger than a sixteenth of its budget', async () => {
      const path = join(dir, 'tags-big.db');
      const store = await openSqliteMetadataStore(path);
      const other = new Database(path);
      try {
        const repo = await store.repositories.ensure('pull/big', 1);
        await push(store, repo.id, 'small', 1);
        await push(store, repo.id, 'big', 2, 600 * 1024);
        await nextTurn();
        // Read once (kept if it may be), then changed by another connection in the same turn:
        // a kept copy is served until the next turn, a copy not kept is read anew.
        const small = await store.tags.resolveByName('pull/big', 'small');
        const big = await store.tags.resolveByName('pull/big', 'big');
        other.prepare('update manifests set media_type = ? where repository_id = ?').run('application/x-changed', repo.id);
        expect(await store.tags.resolveByName('pull/big', 'small')).toBe(small);
        const bigAgain = await store.tags.resolveByName('pull/big', 'big');
        // (Not `.not.toBe`: on objects that differ it compares them deeply, 600 KiB of content.)
        expect(bigAgain === big).toBe(false);
        expect(bigAgain?.mediaType).toBe('application/x-changed');
      } finally {
        other.close();
        await store.close();
      }
    });
  });

  describe('writes told apart by table', () => {
    it('reads the table a write statement names, and nothing else', () => {
      expect(writtenTable('insert into "tags" ("a") values (?)')).toBe('tags');
      expect(writtenTable('  INSERT OR REPLACE INTO main.Tags (a) values (1)')).toBe('tags');
      expect(writtenTable('replace into "manifests" values (1)')).toBe('manifests');
      expect(writtenTable('update "repositories" set "settings" = ?')).toBe('repositories');
      expect(writtenTable('update or ignore uploads set x = 1')).toBe('uploads');
      expect(writtenTable('delete from "registry_settings" where "key" = ?')).toBe('registry_settings');
      expect(writtenTable('insert into temp.preview (d) values (?)')).toBe('temp.preview');
      expect(writtenTable('update "manifests" set "last_pulled_at" = ? where "repository_id" = ?')).toBe('manifests.last_pulled_at');
      expect(writtenTable('update "manifests" set "last_pulled_at" = ?, "media_type" = ? where "repository_id" = ?')).toBe('manifests');
      // Not recognised: counted as a change of every table.
      expect(writtenTable('with x as (select 1) delete from tags')).toBeNull();
      expect(writtenTable('alter table tags rename to t2')).toBeNull();
      expect(writtenTable('pragma foreign_keys = off')).toBeNull();
      expect(writtenTable('drop table tags')).toBeNull();
    });

    it('names, for every cache, each table whose deletes or updates cascade into the ones it reads', async () => {
      const path = join(dir, 'schema.db');
      const store = await openSqliteMetadataStore(path);
      const db = new Database(path, { readonly: true });
      try {
        // (One row per column of a key: a two-column key is listed twice.)
        const cascadingParents = (table: string): string[] => [
          ...new Set(
            (db.prepare(`pragma foreign_key_list("${table}")`).all() as { table: string; on_update: string; on_delete: string }[])
              .filter((fk) => ![fk.on_delete, fk.on_update].every((a) => a === 'NO ACTION' || a === 'RESTRICT'))
              .map((fk) => fk.table.toLowerCase()),
          ),
        ];
        for (const tables of [MANIFEST_TABLES, REPOSITORY_TABLES, REGISTRY_SETTINGS_TABLES]) {
          for (const t of tables) {
            expect(db.prepare("select count(*) as n from sqlite_master where type = 'table' and name = ?").get(t)).toEqual({ n: 1 });
            for (const parent of cascadingParents(t)) expect(tables, `${t} cascades from ${parent}`).toContain(parent);
          }
        }
        // The check can fail: tags do cascade from manifests and repositories.
        expect(cascadingParents('tags').sort()).toEqual(['manifests', 'repositories']);
      } finally {
        db.close();
        await store.close();
      }
    });

    it('keeps the rows of tables a write did not touch, and drops those it did', async () => {
      const store = await openSqliteMetadataStore(join(dir, 'by-table.db'));
      try {
        const repo = await store.repositories.ensure('table/repo', 1);
        await store.registry.put('registry-policy', 'p1');
        const row = await store.repositories.get('table/repo');
        const policy = await store.registry.get('registry-policy');
        // A blob upload's writes: blobs, links, uploads.
        await store.tx(async (tx) => {
          await tx.blobs.insert({ digest: `sha256:${'a'.repeat(64)}`, size: 1, storageKey: 'k', createdAt: 1 });
          await tx.blobs.link(repo.id, `sha256:${'a'.repeat(64)}`, 1);
        });
        expect(await store.repositories.get('table/repo')).toBe(row);
        expect(await store.registry.get('registry-policy')).toBe(policy);
        await store.repositories.updateSettings(repo.id, { ...DEFAULT_REPOSITORY_SETTINGS, tagMutability: 'IMMUTABLE' });
        const changed = await store.repositories.get('table/repo');
        expect(changed === row).toBe(false);
        expect(changed?.settings.tagMutability).toBe('IMMUTABLE');
        expect(await store.registry.get('registry-policy')).toBe(policy);
      } finally {
        await store.close();
      }
    });
  });
});
