/**
 * Opening the stores the configuration names. Its own module, loading each driver only when asked
 * for, so that a process needing only the database (the supervisor of `berth serve --workers`, which
 * migrates it once before forking; `berth audit`) does not load the registry: the supervisor's
 * resident set was 97 MB when it imported the composition root (build.ts) to reach these.
 */
import { mkdirSync } from 'node:fs';
import { resolve } from 'node:path';
import type { BlobStore } from '../blobstore/types.js';
import type { Config } from '../config/schema.js';
import type { KyselyMetadataStore } from '../metadata/kysely/kysely-metadata-store.js';

export async function openMetadataStore(config: Config): Promise<KyselyMetadataStore> {
  if (config.metadata.driver === 'postgres') {
    const pg = config.metadata.postgres!;
    const { openPostgresMetadataStore } = await import('../metadata/postgres.js');
    return openPostgresMetadataStore({ url: pg.url, poolSize: pg.poolSize, ...(pg.schema ? { schema: pg.schema } : {}) });
  }
  const { openSqliteMetadataStore } = await import('../metadata/sqlite.js');
  const dataDir = resolve(config.dataDir);
  mkdirSync(dataDir, { recursive: true });
  return openSqliteMetadataStore(resolve(dataDir, config.metadata.sqlite.path ?? 'berth.db'), { synchronous: config.metadata.sqlite.synchronous });
}

export async function openBlobStore(config: Config): Promise<BlobStore> {
  if (config.storage.driver === 's3') {
    const s3 = config.storage.s3!;
    const { S3BlobStore } = await import('../blobstore/s3/s3-blob-store.js');
    return new S3BlobStore({
      bucket: s3.bucket,
      region: s3.region,
      forcePathStyle: s3.forcePathStyle || s3.endpoint !== undefined,
      prefix: s3.prefix,
      partSize: s3.partSizeMiB * 1024 * 1024,
      ...(s3.endpoint ? { endpoint: s3.endpoint } : {}),
      ...(s3.accessKeyId ? { accessKeyId: s3.accessKeyId } : {}),
      ...(s3.secretAccessKey ? { secretAccessKey: s3.secretAccessKey } : {}),
    });
  }
  const { FsBlobStore } = await import('../blobstore/fs/fs-blob-store.js');
  const root = resolve(config.dataDir, config.storage.fs.path ?? 'blobs');
  mkdirSync(root, { recursive: true });
  return new FsBlobStore(root, { directWrites: config.storage.fs.directWrites });
}
