/**
 * The shared backends of multi-node tests: PostgreSQL (BERTH_TEST_PG_URL) and the S3 server
 * (S3_* from ../shared/services/s3-start.sh). Each test gets its own schema and key prefix.
 */
import { randomUUID } from 'node:crypto';
import pg from 'pg';

/** Why PostgreSQL + S3 tests cannot run here, or undefined when they can. */
export function sharedBackendsMissing(): string | undefined {
  if (!process.env.BERTH_TEST_PG_URL) return 'BERTH_TEST_PG_URL is not set';
  if (!process.env.S3_ENDPOINT) return 'S3_ENDPOINT is not set (start ../shared/services/s3-start.sh)';
  return undefined;
}

export interface SharedBackends {
  /** BERTH_ variables that put a server on this schema and prefix. */
  env: Record<string, string>;
  /** Drops the schema (S3 objects stay under their unique prefix in the test bucket). */
  cleanup(): Promise<void>;
}

export function sharedBackends(name: string): SharedBackends {
  const url = process.env.BERTH_TEST_PG_URL ?? '';
  const schema = `berth_${name}_${randomUUID().replace(/-/g, '').slice(0, 10)}`;
  return {
    env: {
      BERTH_STORAGE__DRIVER: 's3',
      BERTH_STORAGE__S3__BUCKET: process.env.S3_BUCKET ?? '',
      BERTH_STORAGE__S3__ENDPOINT: process.env.S3_ENDPOINT ?? '',
      BERTH_STORAGE__S3__REGION: process.env.S3_REGION ?? 'us-east-1',
      BERTH_STORAGE__S3__ACCESS_KEY_ID: process.env.S3_ACCESS_KEY_ID ?? '',
      BERTH_STORAGE__S3__SECRET_ACCESS_KEY: process.env.S3_SECRET_ACCESS_KEY ?? '',
      BERTH_STORAGE__S3__PREFIX: `${name}-${randomUUID()}/`,
      BERTH_STORAGE__S3__PART_SIZE_MI_B: '5',
      BERTH_METADATA__DRIVER: 'postgres',
      BERTH_METADATA__POSTGRES__URL: url,
      BERTH_METADATA__POSTGRES__SCHEMA: schema,
    },
    async cleanup() {
      const c = new pg.Client({ connectionString: url });
      await c.connect();
      await c.query(`drop schema if exists ${schema} cascade`);
      await c.end();
    },
  };
}
