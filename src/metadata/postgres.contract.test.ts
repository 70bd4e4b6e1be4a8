import { randomUUID } from 'node:crypto';
import pg from 'pg';
import { describeMetadataStoreContract } from './contract.js';
import { openPostgresMetadataStore } from './postgres.js';

const url = process.env.BERTH_TEST_PG_URL;
const schema = `berth_contract_${randomUUID().replace(/-/g, '').slice(0, 12)}`;

describeMetadataStoreContract(
  'postgres',
  url
    ? {
        open: () => openPostgresMetadataStore({ url, schema }),
        destroy: async () => {
          const c = new pg.Client({ connectionString: url });
          await c.connect();
          await c.query(`drop schema if exists ${schema} cascade`);
          await c.end();
        },
      }
    : null,
  'BERTH_TEST_PG_URL is not set (scripts/test.sh sets it when PostgreSQL answers on 127.0.0.1:5432)',
);
