import Database from 'better-sqlite3';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { Kysely, SqliteDialect } from 'kysely';
import { openSqliteMetadataStore, optimizeUnlessBusy } from './sqlite.js';

describe('SQLite planner statistics', () => {
  const dirs: string[] = [];
  afterEach(() => {
    for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
  });

  it('are gathered at open, so deleting a manifest finds its tags by tags_digest, not by scanning the repository', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'berth-planner-'));
    dirs.push(dir);
    const path = join(dir, 'berth.db');
    const store = await openSqliteMetadataStore(path);
    const repo = await store.repositories.ensure('big/repo', 1);
    await store.close();
    // A repository with many tagged manifests, written behind the store's back (no statistics yet).
    const raw = new Database(path);
    const plan = () =>
      raw
        .prepare(`explain query plan delete from manifests where repository_id = ? and digest = ?`)
        .all(repo.id, 'sha256:x')
        .map((r) => (r as { detail: string }).detail)
        .find((d) => d.includes(' tags '));
    raw.transaction(() => {
      const m = raw.prepare(`insert into manifests (repository_id, digest, media_type, size, content, pushed_at) values (?, ?, 'application/vnd.oci.image.manifest.v1+json', 2, x'7b7d', ?)`);
      const t = raw.prepare(`insert into tags (repository_id, name, digest, updated_at) values (?, ?, ?, 1)`);
      for (let i = 0; i < 5000; i++) {
        const digest = `sha256:${i.toString(16).padStart(64, '0')}`;
        m.run(repo.id, digest, i);
        t.run(repo.id, `tag-${i}`, digest);
      }
    })();
    // Without statistics SQLite guesses that the primary key's repository_id prefix is selective.
    expect(plan()).toContain('USING PRIMARY KEY (repository_id=?)');
    raw.close();
    const reopened = await openSqliteMetadataStore(path);
    await reopened.close();
    const after = new Database(path, { readonly: true });
    try {
      const detail = after
        .prepare(`explain query plan delete from manifests where repository_id = ? and digest = ?`)
        .all(repo.id, 'sha256:x')
        .map((r) => (r as { detail: string }).detail)
        .find((d) => d.includes(' tags '));
      expect(detail).toContain('tags_digest');
    } finally {
      after.close();
    }
  });

  it('skips the hourly run while another process holds the write lock, without waiting for it', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'berth-planner-'));
    dirs.push(dir);
    const path = join(dir, 'berth.db');
    const raw = new Database(path);
    raw.pragma('journal_mode = WAL');
    raw.exec(`create table t (a integer, b text); create index t_b on t (b)`);
    raw.transaction(() => {
      const ins = raw.prepare('insert into t (a, b) values (?, ?)');
      for (let i = 0; i < 5000; i++) ins.run(i, `v${i % 7}`);
    })();
    const stats = (): number => (raw.prepare(`select count(*) n from sqlite_master where name = 'sqlite_stat1'`).get() as { n: number }).n;
    const db = new Database(path);
    db.pragma('busy_timeout = 10000');
    const kysely = new Kysely<unknown>({ dialect: new SqliteDialect({ database: db }) });
    try {
      raw.exec('begin immediate');
      raw.prepare('insert into t (a, b) values (1, ?)').run('held');
      const started = Date.now();
      await optimizeUnlessBusy(kysely as never);
      expect(Date.now() - started).toBeLessThan(2000); // not SQLite's 10 s busy wait
      raw.exec('commit');
      expect(stats()).toBe(0);
      await optimizeUnlessBusy(kysely as never);
      expect(stats()).toBe(1);
    } finally {
      await kysely.destroy();
      raw.close();
    }
  });
});
