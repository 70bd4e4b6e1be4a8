import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describeMetadataStoreContract } from './contract.js';
import { openSqliteMetadataStore } from './sqlite.js';

const dir = await mkdtemp(join(tmpdir(), 'berth-sqlite-contract-'));

describeMetadataStoreContract('sqlite', {
  open: () => openSqliteMetadataStore(join(dir, 'meta.db')),
  destroy: () => rm(dir, { recursive: true, force: true }),
});
