import Database from 'better-sqlite3';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { openSqliteMetadataStore } from './sqlite.js';
import { WalGroupCommit } from './sqlite-group-commit.js';

describe('WAL group commit', () => {
  const dirs: string[] = [];
  afterEach(() => {
    for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
  });

  function setup(syncMs: number) {
    const dir = mkdtempSync(join(tmpdir(), 'berth-group-'));
    dirs.push(dir);
    const db = new Database(join(dir, 'db'));
    db.pragma('journal_mode = WAL');
    db.pragma('synchronous = NORMAL');
    db.exec('create table t (v integer)');
    // Each sync records which rows existed when it started: those are the ones it makes durable.
    const started: number[] = [];
    const count = db.prepare('select count(*) as n from t').pluck();
    const group = new WalGroupCommit(db, join(dir, 'db-wal'), async () => {
      started.push(count.get() as number);
      await new Promise((r) => setTimeout(r, syncMs));
    });
    const insert = group.track(db.prepare('insert into t (v) values (?)'));
    const commitStatement = db.prepare('commit');
    const commitOne = (v: number): Promise<number> => {
      db.prepare('begin immediate').run();
      insert.run(v);
      const durable = group.commit(commitStatement);
      return durable().then(() => v);
    };
    return { db, group, started, commitOne, insert, close: () => (group.close(), db.close()) };
  }

  it('makes each commit wait for a sync that started after it, shared by the commits made meanwhile', async () => {
    const { group, started, commitOne, close } = setup(30);
    const order: number[] = [];
    const track = (p: Promise<number>) => p.then((v) => order.push(v));
    const first = [1, 2].map((v) => track(commitOne(v)));
    // Let the first sync start (it covers commits 1 and 2), then commit while it runs.
    while (started.length === 0) await new Promise((r) => setTimeout(r, 1));
    const rest = [3, 4, 5].map((v) => track(commitOne(v)));
    await new Promise((r) => setTimeout(r, 10));
    expect(order).toEqual([]); // nobody is acknowledged before a sync has finished
    await Promise.all([...first, ...rest]);
    expect(started).toEqual([2, 5]);
    expect(group.syncs).toBe(2);
    expect(order).toEqual([1, 2, 3, 4, 5]);
    await close();
  });

  it('fails the commits waiting on a sync that fails', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'berth-group-fail-'));
    dirs.push(dir);
    const db = new Database(join(dir, 'db'));
    db.pragma('journal_mode = WAL');
    db.exec('create table t (v integer)');
    const group = new WalGroupCommit(db, join(dir, 'db-wal'), async () => {
      throw new Error('EIO');
    });
    group.track(db.prepare('insert into t (v) values (1)')).run();
    await expect(group.afterStatement()).rejects.toThrow('EIO');
    await group.close();
    db.close();
  });

  it('syncs a write made outside a transaction before it returns, and nothing for reads', async () => {
    const { db, group, insert, close } = setup(1);
    await group.afterStatement();
    expect(group.syncs).toBe(0);
    insert.run(7);
    await group.afterStatement();
    expect(group.syncs).toBe(1);
    db.prepare('begin immediate').run();
    insert.run(8);
    await group.afterStatement(); // inside a transaction: at its commit instead
    expect(group.syncs).toBe(1);
    await group.commit(db.prepare('commit'))();
    expect(group.syncs).toBe(2);
    db.prepare('begin immediate').run();
    await group.commit(db.prepare('commit'))(); // wrote nothing
    expect(group.syncs).toBe(2);
    // Writes to the connection's temporary tables do not touch the WAL.
    for (const source of ['create temp table if not exists s (d text)', 'insert or ignore into temp.s (d) values (1)', 'delete from temp.s']) {
      group.track(db.prepare(source)).run();
      await group.afterStatement();
    }
    expect(group.syncs).toBe(2);
    await close();
  });

  it('syncs a write with RETURNING (a statement that reads like a query) when it changed rows', async () => {
    const { db, group, close } = setup(1);
    const insertReturning = group.track(db.prepare('insert into t (v) values (?) returning v'));
    const updateReturning = group.track(db.prepare('update t set v = v + 1 where v = ? returning v'));
    const read = group.track(db.prepare('select v from t'));
    expect(insertReturning.reader).toBe(true);
    expect(insertReturning.all(41)).toEqual([{ v: 41 }]);
    await group.afterStatement();
    expect(group.syncs).toBe(1);
    expect(updateReturning.get(41)).toEqual({ v: 42 });
    await group.afterStatement();
    expect(group.syncs).toBe(2);
    // Changed nothing (no row returned), or only read: nothing to sync.
    expect(updateReturning.all(1000)).toEqual([]);
    expect(read.all()).toEqual([{ v: 42 }]);
    await group.afterStatement();
    expect(group.syncs).toBe(2);
    await close();
  });

  it('keeps what the store commits through it after reopening', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'berth-group-store-'));
    dirs.push(dir);
    const store = await openSqliteMetadataStore(join(dir, 'berth.db'));
    await Promise.all(Array.from({ length: 20 }, (_, i) => store.tx((tx) => tx.registry.put(`k${i}`, `v${i}`))));
    await store.registry.put('single', 'write');
    await store.close();
    const again = await openSqliteMetadataStore(join(dir, 'berth.db'));
    expect(await again.registry.get('k19')).toBe('v19');
    expect(await again.registry.get('single')).toBe('write');
    await again.close();
  });
});
