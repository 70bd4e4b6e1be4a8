import type { CompiledQuery, DatabaseConnection, Dialect, Driver, Kysely, QueryResult, TransactionSettings } from 'kysely';

/** What a wrapped SQLite driver adds around the inner driver's statements. */
export interface StatementHooks {
  /** Runs one statement; `run` is the inner connection's. */
  execute<R>(run: () => Promise<QueryResult<R>>): Promise<QueryResult<R>>;
  /** After a Kysely transaction's COMMIT. */
  afterCommit?(): Promise<void>;
}

/**
 * A Kysely dialect whose connections run every statement through `hooks`. Transactions are
 * begun, committed and rolled back on the inner connection, as the inner driver expects.
 */
export function wrapStatements(inner: Dialect, hooks: StatementHooks): Dialect {
  return {
    createAdapter: () => inner.createAdapter(),
    createQueryCompiler: () => inner.createQueryCompiler(),
    createIntrospector: (db: Kysely<unknown>) => inner.createIntrospector(db),
    createDriver: () => new HookedDriver(inner.createDriver(), hooks),
  };
}

class HookedDriver implements Driver {
  private readonly originals = new WeakMap<DatabaseConnection, DatabaseConnection>();

  constructor(
    private readonly inner: Driver,
    private readonly hooks: StatementHooks,
  ) {}

  init(): Promise<void> {
    return this.inner.init();
  }

  async acquireConnection(): Promise<DatabaseConnection> {
    const conn = await this.inner.acquireConnection();
    const hooks = this.hooks;
    const wrapped: DatabaseConnection = {
      executeQuery: <R>(q: CompiledQuery) => hooks.execute(() => conn.executeQuery<R>(q)),
      streamQuery: <R>(q: CompiledQuery, chunkSize?: number) => conn.streamQuery<R>(q, chunkSize),
    };
    this.originals.set(wrapped, conn);
    return wrapped;
  }

  private original(c: DatabaseConnection): DatabaseConnection {
    return this.originals.get(c) ?? c;
  }

  beginTransaction(c: DatabaseConnection, settings: TransactionSettings): Promise<void> {
    return this.inner.beginTransaction(this.original(c), settings);
  }

  async commitTransaction(c: DatabaseConnection): Promise<void> {
    await this.inner.commitTransaction(this.original(c));
    await this.hooks.afterCommit?.();
  }

  rollbackTransaction(c: DatabaseConnection): Promise<void> {
    return this.inner.rollbackTransaction(this.original(c));
  }

  releaseConnection(c: DatabaseConnection): Promise<void> {
    return this.inner.releaseConnection(this.original(c));
  }

  destroy(): Promise<void> {
    return this.inner.destroy();
  }
}
