/**
 * Queries compiled once and run with new values. Kysely builds and compiles a query on every
 * call, which costs more CPU than SQLite spends running a primary-key lookup; the lookups on
 * the pull and authorization paths compile once per SQL shape and only bind new values. The
 * SQL text stays the same, so the SQLite driver's statement cache applies as well.
 *
 * `build` must produce its parameters in the order `run` passes them: build it with the
 * placeholder values `$1`, `$2`, ... and check `parameters` once (the first run asserts it).
 */
import { CompiledQuery, type Kysely } from 'kysely';

/**
 * Per dialect adapter (shared by a Kysely instance and its transactions): a process holding a
 * SQLite and a PostgreSQL store at once (the lifecycle benchmark, a copy between backends) got
 * the first store's SQL in the second's dialect when the cache was keyed by name alone.
 */
const compiledBy = new WeakMap<object, Map<string, CompiledQuery>>();

export function prepared<Row, Db>(name: string, build: (db: Kysely<Db>) => { compile(): CompiledQuery<Row> }) {
  return async (db: Kysely<Db>, ...values: unknown[]): Promise<Row[]> => {
    const adapter = db.getExecutor().adapter;
    let compiled = compiledBy.get(adapter);
    if (!compiled) compiledBy.set(adapter, (compiled = new Map()));
    let q = compiled.get(name);
    if (!q) {
      q = build(db).compile();
      const expected = values.map((_, i) => `$${i + 1}`);
      if (JSON.stringify(q.parameters) !== JSON.stringify(expected)) throw new Error(`prepared query ${name}: parameters ${JSON.stringify(q.parameters)}, expected ${JSON.stringify(expected)}`);
      compiled.set(name, q);
    }
    const result = await db.executeQuery<Row>(CompiledQuery.raw(q.sql, values));
    return result.rows;
  };
}
