import Database from 'better-sqlite3';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { Kysely, SqliteDialect, sql } from 'kysely';
import type { KyselyMetadataStore } from './kysely/kysely-metadata-store.js';
import { openSqliteMetadataStore } from './sqlite.js';
import { NoWait, noWaitOutsideTransactions, retryBusyWrites } from './sqlite-write-wait.js';

describe('SQLite writes while another connection holds the write lock', () => {
  const dirs: string[] = [];
  afterEach(() => {
    for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
  });

  /**
   * Another process's writer (here another connection in this thread) holds the lock for 300 ms;
   * it lets go from a timer, which can only fire if the waiting write does not block the event
   * loop (SQLite's own busy handler would sleep inside the call until its 10 s timeout).
   */
  async function whileLockedFor300ms(write: (store: KyselyMetadataStore) => Promise<void>): Promise<KyselyMetadataStore> {
    const dir = mkdtempSync(join(tmpdir(), 'berth-lock-'));
    dirs.push(dir);
    const path = join(dir, 'berth.db');
    const store = await openSqliteMetadataStore(path);
    const other = new Database(path);
    other.exec('begin immediate');
    other.prepare(`insert into registry_settings (key, value) values ('other', 'first')`).run();
    let ticks = 0;
    const ticker = setInterval(() => ticks++, 10);
    setTimeout(() => other.exec('commit'), 300);
    const started = Date.now();
    try {
      await write(store);
    } finally {
      clearInterval(ticker);
      other.close();
    }
    expect(Date.now() - started).toBeGreaterThanOrEqual(250);
    expect(Date.now() - started).toBeLessThan(5000);
    expect(ticks).toBeGreaterThan(10);
    return store;
  }

  it('a write transaction waits without blocking the event loop, then commits', async () => {
    const store = await whileLockedFor300ms((s) =>
      s.tx(async (tx) => {
        expect(await tx.registry.get('other')).toBe('first'); // it ran after the other commit
        await tx.registry.put('mine', 'second');
      }),
    );
    expect(await store.registry.get('mine')).toBe('second');
    await store.close();
  });

  it('a single write outside a transaction waits the same way, and is made once', async () => {
    const store = await whileLockedFor300ms((s) => s.registry.put('mine', 'single'));
    expect(await store.registry.get('mine')).toBe('single');
    expect(await store.registry.get('other')).toBe('first');
    await store.close();
  });

  it('a single write still fails, with SQLITE_BUSY, when the lock is held past the timeout', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'berth-lock-'));
    dirs.push(dir);
    const path = join(dir, 'x.db');
    const db = new Database(path);
    db.pragma('journal_mode = WAL');
    db.exec('create table t (a integer)');
    const noWait = new NoWait(db);
    const database = { prepare: (s: string) => noWaitOutsideTransactions(db.prepare(s), db, noWait), close: () => db.close() };
    const kysely = new Kysely<unknown>({ dialect: retryBusyWrites(new SqliteDialect({ database: database as never }), 200) });
    const other = new Database(path);
    other.exec('begin immediate');
    const started = Date.now();
    await expect(sql`insert into t (a) values (1)`.execute(kysely)).rejects.toMatchObject({ code: 'SQLITE_BUSY' });
    expect(Date.now() - started).toBeGreaterThanOrEqual(190);
    expect(Date.now() - started).toBeLessThan(2000);
    other.exec('rollback');
    await sql`insert into t (a) values (2)`.execute(kysely);
    expect(db.prepare('select a from t').pluck().all()).toEqual([2]);
    other.close();
    await kysely.destroy();
  });
});
