import type { BlobStore } from '../../blobstore/types.js';
import type { MetadataStore } from '../../metadata/types.js';
import type { TokenService } from '../tokens.js';

export interface RegistrySettings {
  /** Upload sessions idle longer than this are purged. */
  uploadPurgeAfterMs: number;
  /** A manifest's last pull time is written at most this often per process (a pull is a read, not a write). */
  pullRecordIntervalMs: number;
  /** Largest manifest accepted, in bytes. */
  maxManifestBytes: number;
  /** Largest page of tags or repositories served in one response. */
  maxPageSize: number;
  /** Whether a push to a missing repository creates it (CREATE_ON_PUSH). */
  createOnPush: boolean;
}

/** What every registry service is built from (constructor injection from src/app). */
export interface RegistryContext {
  meta: MetadataStore;
  blobs: BlobStore;
  settings: RegistrySettings;
  now: () => number;
  /** Signs the state of /v2/ upload sessions that have no row yet (see UploadService.start). */
  tokens: TokenService;
  log: { warn(obj: object, msg: string): void; error(obj: object, msg: string): void };
}
