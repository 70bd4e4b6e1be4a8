/**
 * Group commit for SQLite in WAL mode: every commit is on disk before it is acknowledged, as
 * with synchronous=FULL, but the WAL is synced off the main thread and once for all the
 * commits made while the previous sync ran.
 *
 * With synchronous=FULL, better-sqlite3 syncs the WAL inside COMMIT, synchronously: the whole
 * process waits for the disk once per commit, one commit at a time. Here the connection runs
 * synchronous=NORMAL (a commit only appends its frames to the WAL; SQLite still syncs the WAL
 * before each checkpoint and the database after it), and before a commit is acknowledged its
 * frames are made durable by an fdatasync of the WAL file on the thread pool. A sync covers
 * the commits made before it started; those made while it ran share the next one. Measured with 8 clients pushing small images and 16 putting manifests: synchronous
 * NORMAL (no sync at all) gave 25-35% more than FULL; this keeps FULL's guarantee.
 *
 * Which statements need the sync: those that wrote (see onEachWrite: a plain write, or a write
 * with RETURNING that returned rows) and left no transaction open. Commits of `tx()` are synced after the connection is released
 * (see `commit`), so other requests use the connection meanwhile; a single write outside a
 * transaction is synced before its statement returns.
 */
import type { Database as SqliteDatabase, Statement } from 'better-sqlite3';
import { close as closeFd, fdatasync, open as openFd } from 'node:fs';
import type { Dialect } from 'kysely';
import { wrapStatements } from './sqlite-driver-wrap.js';

const TEMP_ONLY_WRITE = /^\s*(create\s+temp(orary)?\s|(insert(\s+or\s+\w+)?\s+into|delete\s+from|drop\s+table(\s+if\s+exists)?)\s+temp\.)/i;

export class WalGroupCommit {
  private wal: number | null = null;
  private running = false;
  /** A statement wrote since the last sync was asked for. */
  private dirty = false;
  /** Commits counted in order; `durableSeq` is the last one known to be on disk. */
  private commitSeq = 0;
  private durableSeq = 0;
  private waiters: { seq: number; resolve: () => void; reject: (err: Error) => void }[] = [];
  /** Syncs done (for tests and metrics). */
  syncs = 0;

  constructor(
    private readonly db: SqliteDatabase,
    private readonly walPath: string,
    /**
     * The sync itself; tests count or delay it. NOTE: the callback form of fs: the promise form
     * costs tens of microseconds more per call on the main thread.
     */
    private readonly datasync: (fd: number) => Promise<void> = (fd) => new Promise((resolve, reject) => fdatasync(fd, (err) => (err ? reject(err) : resolve()))),
  ) {}

  /**
   * Wraps a statement so that running it marks the connection as written. Writes that name
   * only the connection's temporary tables (`temp.`) leave the WAL alone and are not tracked:
   * a lifecycle preview fills one with 93 inserts.
   */
  track(stmt: Statement): Statement {
    if (TEMP_ONLY_WRITE.test(stmt.source)) return stmt;
    return onEachWrite(stmt, () => {
      this.dirty = true;
    });
  }

  /**
   * Commits the transaction open on the connection (the caller holds it) and returns what makes
   * the commit durable, to await once the connection is released.
   */
  commit(commitStatement: Statement): () => Promise<void> {
    commitStatement.run();
    if (!this.dirty) return () => Promise.resolve();
    this.dirty = false;
    const seq = ++this.commitSeq;
    return () => this.durable(seq);
  }

  /** After any statement: a write outside a transaction is synced before it is acknowledged. */
  async afterStatement(): Promise<void> {
    if (!this.dirty || this.db.inTransaction) return;
    this.dirty = false;
    await this.durable(++this.commitSeq);
  }

  async close(): Promise<void> {
    while (this.running) await new Promise((r) => setTimeout(r, 1));
    const fd = this.wal;
    this.wal = null;
    if (fd !== null) await new Promise<void>((resolve) => closeFd(fd, () => resolve()));
  }

  /** Resolves when commit `seq` is on disk: a sync that starts after it covers it and every commit before. */
  private durable(seq: number): Promise<void> {
    if (seq <= this.durableSeq) return Promise.resolve();
    const p = new Promise<void>((resolve, reject) => this.waiters.push({ seq, resolve, reject }));
    if (!this.running) void this.drain();
    return p;
  }

  private async drain(): Promise<void> {
    this.running = true;
    try {
      while (this.waiters.length > 0) {
        let covered = this.commitSeq;
        try {
          // NOTE: SQLite keeps the WAL file while any connection is open (this one is), so the
          // handle stays on the live file.
          this.wal ??= await new Promise<number>((resolve, reject) => openFd(this.walPath, 'r', (err, fd) => (err ? reject(err) : resolve(fd))));
          covered = this.commitSeq; // what is in the WAL when the sync starts
          await this.datasync(this.wal);
          this.syncs++;
        } catch (err) {
          const waiting = this.waiters;
          this.waiters = [];
          for (const w of waiting) w.reject(err as Error);
          continue;
        }
        this.durableSeq = Math.max(this.durableSeq, covered);
        const still: typeof this.waiters = [];
        for (const w of this.waiters) (w.seq <= covered ? w.resolve() : still.push(w));
        this.waiters = still;
      }
    } finally {
      this.running = false;
    }
  }
}

/**
 * Makes `stmt` call `hook` whenever a run of it may have written. A plain write statement
 * (better-sqlite3 runs it with `run`) calls it before each run. A write with RETURNING is a
 * reader (run with `all`, `get` or `iterate`) and calls it once it returned a row: its rows are
 * the rows it changed, so none means it changed nothing. Read-only statements are left alone.
 * Everything here is synchronous, so no other code runs between the statement and the hook.
 */
export function onEachWrite(stmt: Statement, hook: () => void): Statement {
  if (stmt.readonly) return stmt;
  const s = stmt as unknown as Record<'run' | 'all' | 'get' | 'iterate', (...args: unknown[]) => unknown>;
  const run = s.run.bind(stmt);
  s.run = (...args) => {
    hook();
    return run(...args);
  };
  if (!stmt.reader) return stmt;
  const all = s.all.bind(stmt);
  const get = s.get.bind(stmt);
  const iterate = s.iterate.bind(stmt);
  s.all = (...args) => {
    const rows = all(...args) as unknown[];
    if (rows.length > 0) hook();
    return rows;
  };
  s.get = (...args) => {
    const row = get(...args);
    if (row !== undefined) hook();
    return row;
  };
  s.iterate = (...args) => {
    hook();
    return iterate(...args);
  };
  return stmt;
}

/** A Kysely dialect whose connections run `afterStatement` after each statement and commit. */
export function withGroupCommit(inner: Dialect, group: WalGroupCommit): Dialect {
  return wrapStatements(inner, {
    async execute(run) {
      const result = await run();
      await group.afterStatement();
      return result;
    },
    afterCommit: () => group.afterStatement(),
  });
}
