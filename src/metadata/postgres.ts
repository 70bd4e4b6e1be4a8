import { Kysely, PostgresDialect } from 'kysely';
import pg from 'pg';
import { KyselyMetadataStore } from './kysely/kysely-metadata-store.js';
import type { Database as Schema } from './kysely/schema.js';

// int8 columns hold epoch milliseconds and sizes, all below 2^53.
pg.types.setTypeParser(20, (v) => Number(v));

export interface PostgresOptions {
  url: string;
  /** Schema to use (created when missing); tests give each run its own. */
  schema?: string;
  poolSize?: number;
}

/** Opens (and migrates) the PostgreSQL metadata store. */
export async function openPostgresMetadataStore(o: PostgresOptions): Promise<KyselyMetadataStore> {
  if (o.schema !== undefined && !/^[a-z_][a-z0-9_]*$/.test(o.schema)) {
    throw new Error(`invalid PostgreSQL schema name "${o.schema}"`);
  }
  const pool = new pg.Pool({
    connectionString: o.url,
    max: o.poolSize ?? 10,
    ...(o.schema ? { options: `-c search_path=${o.schema}` } : {}),
  });
  if (o.schema) await pool.query(`create schema if not exists ${o.schema}`);
  const store = new KyselyMetadataStore(new Kysely<Schema>({ dialect: new PostgresDialect({ pool }) }), 'postgres');
  await store.migrate();
  return store;
}
