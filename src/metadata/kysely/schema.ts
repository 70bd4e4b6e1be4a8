/**
 * Table layout (one migration per dialect where the DDL differs):
 *
 *   repositories(id, name UNIQUE, created_at, settings JSON)
 *   registry_settings(key PK, value)
 *   blobs(digest PK, size, storage_key, created_at)           -- one row per distinct content
 *   repository_blobs(repository_id, digest, created_at, size)  -- which repository may serve which blob (size: the blob's)
 *   manifests(repository_id, digest, media_type, size, content, artifact_type,
 *             subject_digest, annotations, pushed_at, last_pulled_at,
 *             blob_bytes)                                     -- sum of the sizes of the blobs it references
 *   manifest_refs(repository_id, parent_digest, child_digest, kind)  -- kind: blob | manifest
 *   tags(repository_id, name, digest, updated_at)
 *   uploads(id PK, repository_id, storage_key, offset, created_at, updated_at)
 *   schedules(name PK, interval_ms, next_run_at, last_*)           -- fired once across nodes by CAS
 *   audit_events(id, at, actor, action, repository, detail JSON)
 */
import type { Generated } from 'kysely';
import type { IdentityTables } from './identity-schema.js';
import type { JobsVulnDbTables } from './jobs-vulndb-schema.js';
import type { ScansTables } from './scans-schema.js';

export interface Database extends IdentityTables, JobsVulnDbTables, ScansTables {
  repositories: { id: Generated<number>; name: string; created_at: number; settings: string | null };
  registry_settings: { key: string; value: string };
  blobs: { digest: string; size: number; storage_key: string; created_at: number };
  repository_blobs: { repository_id: number; digest: string; created_at: number; size: number | null };
  manifests: {
    repository_id: number;
    digest: string;
    media_type: string;
    size: number;
    content: Buffer;
    artifact_type: string | null;
    subject_digest: string | null;
    annotations: string | null;
    pushed_at: number;
    last_pulled_at: number | null;
    blob_bytes: Generated<number>;
  };
  manifest_refs: { repository_id: number; parent_digest: string; child_digest: string; kind: string };
  tags: { repository_id: number; name: string; digest: string; updated_at: number };
  schedules: {
    name: string;
    interval_ms: number;
    next_run_at: number;
    last_started_at: number | null;
    last_finished_at: number | null;
    last_result: string | null;
  };
  audit_events: { id: Generated<number>; at: number; actor: string; action: string; repository: string | null; detail: string | null };
  uploads: {
    id: string;
    repository_id: number;
    storage_key: string;
    offset: number;
    created_at: number;
    updated_at: number;
  };
}
