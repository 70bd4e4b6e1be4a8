/**
 * Waiting for SQLite's write lock without blocking the event loop. better-sqlite3 is
 * synchronous: SQLite's own busy handler sleeps inside the call, so while another connection
 * (a second worker, `berth gc`, another app in the same process) holds the write lock, every
 * request of this process would wait with it, up to the busy timeout. Instead, an attempt to
 * take the lock does not wait (busy_timeout 0 for that statement) and is retried after an
 * asynchronous pause, up to the same timeout.
 *
 * Two places take the lock: BEGIN IMMEDIATE (`beginWithoutBlocking`), and a write outside a
 * transaction, which SQLite runs as its own transaction (`noWaitOutsideTransactions` makes the
 * statement fail at once with a marked error, `retryBusyWrites` repeats it). A write that fails
 * with SQLITE_BUSY in auto-commit mode changed nothing (SQLite rolls its statement back), so
 * repeating it is safe. Reads keep SQLite's handler: in WAL mode they do not wait for the
 * writer; pragmas too (`pragma optimize` is meant to give up, see sqlite.ts).
 */
import type { Database, Statement } from 'better-sqlite3';
import type { Dialect } from 'kysely';
import { wrapStatements } from './sqlite-driver-wrap.js';

export const BUSY_TIMEOUT_MS = 10_000;

/**
 * Runs statements on `db` with busy_timeout 0, restoring the usual timeout after.
 * NOTE: with `exec`, not prepared statements: SQLite applies `pragma busy_timeout = N` when the
 * statement is compiled, so a prepared one run again did not reliably change it (measured: the
 * first write after it still slept the whole timeout). `exec` costs under 1 µs per pair here.
 */
export class NoWait {
  constructor(private readonly db: Database) {}

  run<T>(fn: () => T): T {
    this.db.exec('pragma busy_timeout = 0');
    try {
      return fn();
    } finally {
      this.db.exec(`pragma busy_timeout = ${BUSY_TIMEOUT_MS}`);
    }
  }
}

const NOT_WAITED = Symbol('berth.sqliteBusyNotWaited');

function isBusy(err: unknown): boolean {
  return typeof (err as { code?: unknown })?.code === 'string' && (err as { code: string }).code.startsWith('SQLITE_BUSY');
}

/** A busy failure of a write that did not wait (marked by `noWaitOutsideTransactions`). */
function isRetryable(err: unknown): boolean {
  return isBusy(err) && (err as Record<symbol, unknown>)[NOT_WAITED] === true;
}

/** Statements that write rows (not pragmas, not transaction control). */
const ROW_WRITE = /^\s*(insert|update|delete|replace|with)\b/i;

/**
 * Makes a row-writing statement, when run outside a transaction, fail at once with a marked
 * error instead of sleeping while another connection holds the write lock.
 */
export function noWaitOutsideTransactions(stmt: Statement, db: Database, noWait: NoWait): Statement {
  if (stmt.readonly || !ROW_WRITE.test(stmt.source)) return stmt;
  const s = stmt as unknown as Record<'run' | 'all' | 'get', (...args: unknown[]) => unknown>;
  for (const method of ['run', 'all', 'get'] as const) {
    const original = s[method]!.bind(stmt);
    s[method] = (...args) => {
      if (db.inTransaction) return original(...args);
      try {
        return noWait.run(() => original(...args));
      } catch (err) {
        if (isBusy(err)) (err as Record<symbol, unknown>)[NOT_WAITED] = true;
        throw err;
      }
    };
  }
  return stmt;
}

/** A Kysely dialect that repeats, after a pause, a write that found the write lock taken. */
export function retryBusyWrites(inner: Dialect, timeoutMs = BUSY_TIMEOUT_MS): Dialect {
  return wrapStatements(inner, {
    execute: (run) => retryWhileBusy(run, isRetryable, timeoutMs),
  });
}

/**
 * BEGIN IMMEDIATE, retried after pauses while another connection holds the write lock. Runs
 * with Kysely's connection mutex held, so no other statement interleaves. Measured with
 * `--workers 2`, manifest PUTs at c16/c64: 338/424 req/s with SQLite's handler, 398/566 with an
 * earlier form of this (whose first attempt, see NoWait, still slept in SQLite's handler); that
 * form and this one measured alike, 770-1,021/840-1,206 and 848-1,076/971-1,109 in five
 * interleaved runs each.
 */
export function beginWithoutBlocking(db: Database, noWait: NoWait, timeoutMs = BUSY_TIMEOUT_MS): () => Promise<void> {
  const begin = db.prepare('begin immediate');
  return () => retryWhileBusy(() => void noWait.run(() => begin.run()), isBusy, timeoutMs);
}

/**
 * Runs `attempt` until it succeeds, pausing after each failure that `retryable` accepts; after
 * `timeoutMs` the last failure is thrown. The pauses double up to 20 ms, each a random share of
 * that plus half a millisecond, so that waiters spread out instead of retrying together.
 */
async function retryWhileBusy<T>(attempt: () => T | Promise<T>, retryable: (err: unknown) => boolean, timeoutMs: number): Promise<T> {
  const started = Date.now();
  for (let pause = 1; ; pause = Math.min(pause * 2, 20)) {
    try {
      return await attempt();
    } catch (err) {
      if (!retryable(err) || Date.now() - started > timeoutMs) throw err;
    }
    await new Promise((r) => setTimeout(r, pause * Math.random() + 0.5));
  }
}
