import Database from 'better-sqlite3';
import { Kysely, SqliteDialect, sql } from 'kysely';
import { KyselyMetadataStore } from './kysely/kysely-metadata-store.js';
import type { Database as Schema } from './kysely/schema.js';
import { ChangeWatch, writtenTable } from './sqlite-change-watch.js';
import { WalGroupCommit, onEachWrite, withGroupCommit } from './sqlite-group-commit.js';
import { BUSY_TIMEOUT_MS, NoWait, beginWithoutBlocking, noWaitOutsideTransactions, retryBusyWrites } from './sqlite-write-wait.js';

/**
 * Opens (and migrates) the SQLite metadata store. WAL lets readers run beside the one
 * writer, busy_timeout makes several processes on one file wait instead of failing,
 * and every commit is durable before it is acknowledged (group commit, unless
 * `synchronous: 'normal'` is chosen).
 */
export async function openSqliteMetadataStore(path: string, o: { synchronous?: 'full' | 'normal' } = {}): Promise<KyselyMetadataStore> {
  const db = new Database(path);
  db.pragma('journal_mode = WAL');
  // `full` is kept by group commit (the WAL synced off the main thread, once for the commits
  // made meanwhile); the connection itself runs NORMAL. An in-memory database has no WAL.
  const group = o.synchronous === 'normal' || db.memory ? null : new WalGroupCommit(db, `${db.name}-wal`);
  db.pragma(`synchronous = ${o.synchronous === 'normal' || group ? 'NORMAL' : 'FULL'}`);
  db.pragma(`busy_timeout = ${BUSY_TIMEOUT_MS}`);
  db.pragma('foreign_keys = ON');
  // Sorts and multi-row IN lists (garbage collection's batches) in memory instead of temp files.
  db.pragma('temp_store = MEMORY');
  // Checkpoint every 10,000 WAL pages (40 MiB) rather than 1,000: pages written again between
  // checkpoints are copied once. A garbage-collection pass deleting 500,000 blobs spent 19.2 s
  // committing with the default and 11.8 s with this.
  db.pragma('wal_autocheckpoint = 10000');
  // ANALYZE reads at most about this many rows per index, so it stays quick on a large file.
  db.pragma('analysis_limit = 1000');
  let optimizer: NodeJS.Timeout | undefined;
  const watch = new ChangeWatch(db.prepare('pragma data_version').pluck());
  const noWait = new NoWait(db);
  const sqlite = retryBusyWrites(new SqliteDialect({ database: withStatementCache(db, group, () => clearInterval(optimizer), watch, noWait) }));
  const commitStatement = db.prepare('commit');
  const kysely = new Kysely<Schema>({ dialect: group ? withGroupCommit(sqlite, group) : sqlite });
  const store = new KyselyMetadataStore(
    kysely,
    'sqlite',
    beginWithoutBlocking(db, noWait),
    group ? async () => group.commit(commitStatement) : undefined,
    db.memory ? undefined : () => openReader(path),
    watch,
  );
  await store.migrate();
  // Planner statistics, as SQLite advises for long-lived connections: at open for every table
  // (0x10002), then hourly for the tables whose size changed tenfold. NOTE: without them the
  // planner looked up a deleted manifest's tags by the tags primary key's repository_id
  // prefix instead of tags_digest (every tag of the repository per deletion), and a lifecycle
  // run expiring 93,500 images of a 100,000-image repository went at 35-45 images/s. Through
  // Kysely, so the statement waits for the connection like any other (never inside another
  // request's transaction).
  await optimizeUnlessBusy(kysely, 'optimize = 0x10002');
  optimizer = setInterval(() => void optimizeUnlessBusy(kysely), OPTIMIZE_EVERY_MS).unref();
  return store;
}

/** The read-only connection snapshots run on (see KyselyMetadataStore.snapshot). */
function openReader(path: string): Kysely<Schema> {
  const db = new Database(path, { readonly: true });
  db.pragma(`busy_timeout = ${BUSY_TIMEOUT_MS}`);
  // The digest sets of exclusiveBytes are temporary tables: in memory.
  db.pragma('temp_store = MEMORY');
  return new Kysely<Schema>({ dialect: new SqliteDialect({ database: withStatementCache(db, null, () => undefined) }) });
}

/**
 * `pragma optimize`. While another process (`berth serve` beside `berth gc`, a second worker)
 * holds the write lock it fails at once rather than sleeping in SQLite's busy handler on the
 * event loop's thread (tested); the store opens anyway, and the next hour tries again.
 */
export async function optimizeUnlessBusy(kysely: Kysely<Schema>, pragma = 'optimize'): Promise<void> {
  await sql
    .raw(`pragma ${pragma}`)
    .execute(kysely)
    .catch(() => undefined);
}

const OPTIMIZE_EVERY_MS = 3_600_000;

/**
 * Kysely prepares every query anew; preparing is a quarter of the CPU time of a manifest
 * GET. Statements are reusable in better-sqlite3 (Kysely runs each to completion
 * synchronously), so identical SQL text reuses one prepared statement.
 */
function withStatementCache(
  db: Database.Database,
  group: WalGroupCommit | null,
  onClose: () => void,
  watch?: ChangeWatch,
  noWait?: NoWait,
): { prepare: Database.Database['prepare']; close(): void } {
  const cache = new Map<string, Database.Statement>();
  return {
    prepare(source: string) {
      let stmt = cache.get(source);
      if (!stmt) {
        stmt = db.prepare(source);
        if (group) stmt = group.track(stmt);
        // Tells the watch about every statement that may write, before it runs (see sqlite-change-watch.ts).
        if (watch) {
          const table = writtenTable(source);
          stmt = onEachWrite(stmt, () => watch.noteWrite(table));
        }
        if (noWait) stmt = noWaitOutsideTransactions(stmt, db, noWait);
        if (cache.size >= 1000) cache.delete(cache.keys().next().value as string);
        cache.set(source, stmt);
      }
      return stmt;
    },
    close() {
      onClose();
      cache.clear();
      void group?.close();
      db.close();
    },
  } as { prepare: Database.Database['prepare']; close(): void };
}
