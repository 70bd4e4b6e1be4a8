/**
 * Queries compiled once and run with new values. Kysely builds and compiles a query on every
 * call, which costs more CPU than SQLite spends running a primary-key lookup (about a tenth of
 * the main thread's time while small images were pushed); the statements on the pull, push and
 * authorization paths compile once per SQL shape and only bind new values. The SQL text stays
 * the same, so the SQLite driver's statement cache applies as well.
 *
 * `build` makes the query with the placeholders `$(1)`, `$(2)`, ... where the values go; a
 * placeholder may appear more than once (an upsert sets a column it also inserts). The first
 * compile checks that every parameter is a placeholder and that every value is used.
 */
import { CompiledQuery, type Kysely, type QueryResult } from 'kysely';

/** Placeholder for the n-th value (1-based) of a prepared query; typed to fit any column. */
export const $ = (n: number): never => `$${n}` as never;

interface Compiled {
  sql: string;
  /** For each bound parameter, the index of the value that fills it. */
  slots: number[];
}

/**
 * Per dialect adapter (shared by a Kysely instance and its transactions): a process holding a
 * SQLite and a PostgreSQL store at once (the lifecycle benchmark, a copy between backends) got
 * the first store's SQL in the second's dialect when the cache was keyed by name alone.
 */
const compiledBy = new WeakMap<object, Map<string, Compiled>>();

function compile(name: string, query: CompiledQuery, values: number): Compiled {
  const slots = query.parameters.map((p) => {
    const m = typeof p === 'string' ? /^\$(\d+)$/.exec(p) : null;
    const n = m ? Number(m[1]) : 0;
    if (n < 1 || n > values) throw new Error(`prepared query ${name}: parameter ${JSON.stringify(p)} is not a placeholder $1..$${values}`);
    return n - 1;
  });
  for (let i = 0; i < values; i++) if (!slots.includes(i)) throw new Error(`prepared query ${name}: value ${i + 1} is not used`);
  return { sql: query.sql, slots };
}

/** A query compiled once per name (and dialect); resolves to Kysely's full result (rows, affected rows). */
export function preparedQuery<Row, Db>(name: string, build: (db: Kysely<Db>) => { compile(): CompiledQuery<Row> }) {
  return async (db: Kysely<Db>, ...values: unknown[]): Promise<QueryResult<Row>> => {
    const adapter = db.getExecutor().adapter;
    let compiled = compiledBy.get(adapter);
    if (!compiled) compiledBy.set(adapter, (compiled = new Map()));
    let q = compiled.get(name);
    if (!q) {
      q = compile(name, build(db).compile(), values.length);
      compiled.set(name, q);
    }
    return db.executeQuery<Row>(CompiledQuery.raw(q.sql, q.slots.map((i) => values[i])));
  };
}

/** A prepared query that resolves to its rows. */
export function prepared<Row, Db>(name: string, build: (db: Kysely<Db>) => { compile(): CompiledQuery<Row> }) {
  const run = preparedQuery(name, build);
  return async (db: Kysely<Db>, ...values: unknown[]): Promise<Row[]> => (await run(db, ...values)).rows;
}

/** Rows a prepared write changed (inserted, updated or deleted). */
export const affected = (r: QueryResult<unknown>): number => Number(r.numAffectedRows ?? 0);
