/**
 * In-memory copies of the SQLite rows every request reads (the repository row and the registry
 * policy of each authorized /v2/ request, the manifest a pull asks for), kept only while the
 * database is unchanged, so that a change still applies from the next request on, in this
 * process and in every other one.
 *
 * Why: on a file in WAL mode each statement outside a transaction starts and ends a read
 * transaction (locks on the shared-memory index), about 6 µs before any row is read, plus
 * Kysely's own work; a manifest GET made three such reads. Measured with wrk (c64, one process,
 * A/B in one session): 150-156 µs of server CPU per GET and 6,674-6,927 GETs/s with all three
 * read from the database; 115-118 µs and 8,892-9,116 GETs/s with these two served from memory.
 * The manifest itself (by tag or digest; tags.ts, manifests.ts) measured the same way on another
 * machine, three runs each, interleaved: 175-193 µs and 5,677-6,248 GETs/s read from the
 * database (its one statement took 24 µs on average inside the server, 7 µs in a loop), 121-146
 * µs and 7,766-9,348 GETs/s kept (with the lazy abort signal of the /v2/ handler).
 *
 * When a copy is dropped (the epoch of the tables it was read from moves on):
 * - a write statement ran on this process's connection on one of those tables, or on a table
 *   whose deletes cascade into them (each cache names them all; a test checks the names against
 *   the schema's foreign keys), or a statement whose table is not recognised: counted
 *   synchronously as it runs, so a read that follows a write in the same request (or
 *   transaction) never sees the old value. Before writes were told apart by table, every blob
 *   upload also dropped the registry policy and the repository rows, so a push read them anew
 *   on each of its requests;
 * - another connection (another worker, `berth gc`, an admin command) committed: SQLite's
 *   `pragma data_version` tells, read at most once per turn of the event loop because it costs
 *   about as much as one of the reads it saves. A commit made by another process during a turn
 *   is seen from the next turn on, as if the requests of this turn had been served a moment
 *   earlier. It drops every copy (the pragma does not say which tables changed).
 */
import type { Statement } from 'better-sqlite3';

/**
 * A write no cache needs to see: recording a pull's time. The pull path serves a cached manifest's
 * digest, type, size and content, never its `last_pulled_at` (when to record the next pull is kept
 * per process by ManifestService), and pulls of many manifests record one a minute each: as a
 * write to `manifests` each would drop every cached manifest.
 */
const PULL_TIME_WRITE = /^\s*update\s+"manifests"\s+set\s+"last_pulled_at"\s*=\s*\?\s+where\b/i;

/**
 * The table a write statement names (`insert into`, `update`, `delete from`), or null when it is
 * not one of those; a pull-time record is `manifests.last_pulled_at`, which no cache reads from.
 */
export function writtenTable(sql: string): string | null {
  if (PULL_TIME_WRITE.test(sql)) return 'manifests.last_pulled_at';
  const m = /^\s*(?:insert(?:\s+or\s+\w+)?\s+into|replace\s+into|update(?:\s+or\s+\w+)?|delete\s+from)\s+(?:"?(\w+)"?\s*\.\s*)?"?(\w+)"?/i.exec(sql);
  if (!m?.[2]) return null;
  const schema = m[1]?.toLowerCase();
  const table = m[2].toLowerCase();
  return schema && schema !== 'main' ? `${schema}.${table}` : table;
}

export class ChangeWatch {
  /** Changes that may touch any table: another connection's commits, unrecognised statements. */
  private anyTable = 0;
  /** Writes by this connection, per table. */
  private readonly byTable = new Map<string, number>();
  private dataVersion: unknown = undefined;
  private checkedThisTurn = false;
  private readonly endTurn = (): void => {
    this.checkedThisTurn = false;
  };

  /** `pragma data_version` prepared (plucked) on the watched connection. */
  constructor(private readonly dataVersionStatement: Statement) {}

  /** A statement that may write `table` (null: any table) is about to run on the watched connection. */
  noteWrite(table: string | null): void {
    if (table === null) this.anyTable++;
    else this.byTable.set(table, (this.byTable.get(table) ?? 0) + 1);
  }

  /**
   * A number that differs from any earlier one for the same `tables` if they may have changed
   * since. (A sum of counters that only grow: it moves whenever one of them does.)
   */
  epoch(tables: readonly string[]): number {
    if (!this.checkedThisTurn) {
      this.checkedThisTurn = true;
      setImmediate(this.endTurn);
      let version: unknown;
      try {
        version = this.dataVersionStatement.get();
      } catch {
        version = Symbol('unknown'); // the connection is busy (an open iterator): count as changed
      }
      if (version !== this.dataVersion) {
        this.dataVersion = version;
        this.anyTable++;
      }
    }
    let epoch = this.anyTable;
    for (const t of tables) epoch += this.byTable.get(t) ?? 0;
    return epoch;
  }
}

/** What an EpochCache reads from, and its bounds: entries, and optionally bytes as `sizeOf` counts them. */
export interface EpochCacheOptions<V> {
  /** The tables its values are read from, with every table whose deletes cascade into them. */
  tables: readonly string[];
  maxEntries?: number;
  /** With `sizeOf`: the bytes kept at most; a value larger than a sixteenth of it is never kept. */
  maxBytes?: number;
  sizeOf?: (value: V) => number;
}

/** Values by key, read through `load` and kept while the watch's epoch stays the same. */
export class EpochCache<V> {
  private epoch = -1;
  private readonly values = new Map<string, V>();
  private bytes = 0;
  private readonly maxEntries: number;
  private readonly maxBytes: number;
  private readonly sizeOf: ((value: V) => number) | undefined;

  private readonly tables: readonly string[];

  constructor(
    private readonly watch: ChangeWatch,
    o: EpochCacheOptions<V>,
  ) {
    this.tables = o.tables;
    this.maxEntries = o.maxEntries ?? 10_000;
    this.maxBytes = o.maxBytes ?? Infinity;
    this.sizeOf = o.sizeOf;
  }

  async get(key: string, load: () => Promise<V>): Promise<V> {
    const before = this.watch.epoch(this.tables);
    if (before !== this.epoch) {
      this.clear();
      this.epoch = before;
    } else if (this.values.has(key)) {
      return this.values.get(key) as V;
    }
    const value = await load();
    // Kept only if nothing may have changed while it was read (a write can land in between).
    if (this.watch.epoch(this.tables) === before && this.epoch === before) this.keep(key, value);
    return value;
  }

  private keep(key: string, value: V): void {
    const size = this.sizeOf ? this.sizeOf(value) : 0;
    if (size > this.maxBytes / 16) return;
    // Full: start over rather than track recency; an unchanged database refills it at once.
    if (this.values.size >= this.maxEntries || this.bytes + size > this.maxBytes) this.clear();
    this.values.set(key, value);
    this.bytes += size;
  }

  private clear(): void {
    this.values.clear();
    this.bytes = 0;
  }
}

/** Freezes an object and everything in it: a cached row is shared by every request that reads it. */
export function deepFreeze<T>(value: T): T {
  if (typeof value === 'object' && value !== null && !Object.isFrozen(value)) {
    Object.freeze(value);
    for (const v of Object.values(value)) deepFreeze(v);
  }
  return value;
}
