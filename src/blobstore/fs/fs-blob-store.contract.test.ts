import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describeBlobStoreContract } from '../contract.js';
import { FsBlobStore } from './fs-blob-store.js';

const root = await mkdtemp(join(tmpdir(), 'berth-fs-contract-'));

describeBlobStoreContract('fs', {
  open: async () => new FsBlobStore(root),
  destroy: () => rm(root, { recursive: true, force: true }),
});
