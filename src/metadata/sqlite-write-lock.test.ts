import Database from 'better-sqlite3';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { openSqliteMetadataStore } from './sqlite.js';

describe('SQLite write transactions while another connection holds the write lock', () => {
  const dirs: string[] = [];
  afterEach(() => {
    for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
  });

  it('wait without blocking the event loop, then commit', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'berth-lock-'));
    dirs.push(dir);
    const path = join(dir, 'berth.db');
    const store = await openSqliteMetadataStore(path);
    // Another process's writer (here another connection) holds the lock for 300 ms; it lets go
    // from a timer, which can only fire if the waiting transaction does not block the event loop
    // (SQLite's own busy handler would sleep inside the call until its 10 s timeout).
    const other = new Database(path);
    other.exec('begin immediate');
    other.prepare(`insert into registry_settings (key, value) values ('other', 'first')`).run();
    let ticks = 0;
    const ticker = setInterval(() => ticks++, 10);
    setTimeout(() => other.exec('commit'), 300);
    const started = Date.now();
    await store.tx(async (tx) => {
      expect(await tx.registry.get('other')).toBe('first'); // it ran after the other commit
      await tx.registry.put('mine', 'second');
    });
    clearInterval(ticker);
    expect(Date.now() - started).toBeGreaterThanOrEqual(250);
    expect(Date.now() - started).toBeLessThan(5000);
    expect(ticks).toBeGreaterThan(10);
    expect(await store.registry.get('mine')).toBe('second');
    other.close();
    await store.close();
  });
});
