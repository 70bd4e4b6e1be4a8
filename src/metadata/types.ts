/**
 * MetadataStore: the port over the registry's one source of truth (repositories,
 * blobs and their links, manifests, tags, upload sessions). Tags and manifests live
 * only here, never also in the blob store, so there is nothing to keep in sync.
 *
 * One Kysely implementation serves SQLite and PostgreSQL (./kysely/); the contract
 * suite in ./contract.ts runs against both.
 *
 * Guarantees:
 * - Every method is atomic on its own; `tx` groups calls into one unit committed when
 *   `fn` resolves and rolled back when it throws. SQLite runs it serially (BEGIN
 *   IMMEDIATE); PostgreSQL at READ COMMITTED, where `linkedAmong` locks the links it
 *   reads and read-then-write sequences go through the compare-and-set methods.
 * - Names and tags are listed in byte-wise lexical order (COLLATE "C" on PostgreSQL).
 * - Times are epoch milliseconds.
 */

import type { TagMutability } from '../core/tag-mutability.js';
import type { IdentityStore } from './identity-types.js';
import type { JobStore } from './jobs-types.js';
import type { ScanStore } from './scans-types.js';
import type { VulnDbStore } from './vulndb-types.js';

export type { TagMutability };

/** Per-repository settings, stored as one JSON document. */
export interface RepositorySettings {
  tagMutability: TagMutability;
  /** Wildcard tag filters that invert `tagMutability` for the tags they match (the *_WITH_EXCLUSION modes). */
  tagMutabilityExclusions: string[];
  scanOnPush: boolean;
  encryption: { type: 'AES256' | 'KMS' | 'KMS_DSSE'; kmsKey?: string };
  /** Resource tags (ECR TagResource), in insertion order. */
  resourceTags: Record<string, string>;
  /** The repository policy (SetRepositoryPolicy), as given. */
  policyText?: string;
  /** The lifecycle policy (PutLifecyclePolicy), as given. */
  lifecyclePolicyText?: string;
}

export const DEFAULT_REPOSITORY_SETTINGS: Readonly<RepositorySettings> = Object.freeze<RepositorySettings>({
  tagMutability: 'MUTABLE',
  tagMutabilityExclusions: [],
  scanOnPush: false,
  encryption: { type: 'AES256' },
  resourceTags: {},
});

export interface RepositoryRow {
  id: number;
  name: string;
  createdAt: number;
  settings: RepositorySettings;
}

export interface BlobRow {
  digest: string;
  size: number;
  storageKey: string;
  createdAt: number;
}

export interface ManifestRow {
  repositoryId: number;
  digest: string;
  mediaType: string;
  size: number;
  artifactType: string | null;
  subjectDigest: string | null;
  annotations: Record<string, string> | null;
  pushedAt: number;
  lastPulledAt: number | null;
}

export interface ManifestWithContent extends ManifestRow {
  content: Buffer;
}

/** One manifest as a whole-repository read (`ManifestStore.inventory`) returns it. */
export interface InventoryManifest {
  digest: string;
  /** An OCI image index or a Docker manifest list. */
  isIndex: boolean;
  /** The subject this manifest refers to (a referrer: signature, SBOM, attestation). */
  referrerOf: string | null;
  pushedAt: number;
  lastPulledAt: number | null;
  /** Tags pointing at it, in lexical order (empty lists may be one shared frozen array). */
  tags: readonly string[];
  /** As `ManifestStore.sizes` computes it. */
  sizeBytes: number;
  /** Indexes of the repository that list it as a child manifest. */
  childOf: readonly string[];
}

export interface RepositoryInventory {
  manifests: InventoryManifest[];
}

export interface ManifestReference {
  digest: string;
  kind: 'blob' | 'manifest';
}

export interface UploadRow {
  id: string;
  repositoryId: number;
  storageKey: string;
  offset: number;
  createdAt: number;
  updatedAt: number;
}

export interface Page {
  /** Return entries strictly after this one. */
  last?: string;
  limit: number;
}

export interface RepositoryStore {
  /** Returns the repository, creating it with `settings` when missing (concurrent callers get the same row). */
  ensure(name: string, now: number, settings?: RepositorySettings): Promise<RepositoryRow>;
  /** Creates the repository; `created` is false (and `row` the existing one) when the name is taken. */
  create(name: string, settings: RepositorySettings, now: number): Promise<{ created: boolean; row: RepositoryRow }>;
  get(name: string): Promise<RepositoryRow | null>;
  list(page: Page): Promise<string[]>;
  listRows(page: Page): Promise<RepositoryRow[]>;
  updateSettings(id: number, settings: RepositorySettings): Promise<void>;
  /** Deletes the repository with its manifests, tags, blob links and upload sessions. */
  delete(id: number): Promise<boolean>;
}

/** Registry-wide key/value settings (account id, token keys, account settings). */
export interface RegistrySettingsStore {
  get(key: string): Promise<string | null>;
  /** Stores `value` unless the key has one; returns the stored value either way. */
  putIfAbsent(key: string, value: string): Promise<string>;
  put(key: string, value: string): Promise<void>;
  /** Deletes the key; true when it existed. */
  delete(key: string): Promise<boolean>;
  /** Entries whose key starts with `prefix`, in key order. */
  list(prefix: string): Promise<{ key: string; value: string }[]>;
}

export interface BlobIndex {
  get(digest: string): Promise<BlobRow | null>;
  /** Inserts the blob unless its digest is known; returns the row that is stored and whether it is this one. */
  insert(row: BlobRow): Promise<{ inserted: boolean; row: BlobRow }>;
  /** Links a known blob to a repository. Idempotent. */
  link(repositoryId: number, digest: string, now: number): Promise<void>;
  /** Removes the link; true when there was one. The bytes stay (garbage collection owns them). */
  unlink(repositoryId: number, digest: string): Promise<boolean>;
  /** The blob when it is linked to the repository, else null. */
  getLinked(repositoryId: number, digest: string): Promise<BlobRow | null>;
  /** The same, by repository name, in one query. */
  getLinkedByName(repository: string, digest: string): Promise<BlobRow | null>;
  /** Names of up to `limit` repositories the blob is linked to, in name order (automatic mounts). */
  repositoriesLinking(digest: string, limit: number): Promise<string[]>;
  /** Which of `digests` are linked to the repository (share-locks links and blob rows inside a tx on PostgreSQL). */
  linkedAmong(repositoryId: number, digests: string[]): Promise<Set<string>>;
  /**
   * Blobs no manifest references whose row and links are all older than `olderThan`
   * (garbage-collection candidates), in digest order after `after`.
   */
  gcCandidates(olderThan: number, after: string | undefined, limit: number): Promise<BlobRow[]>;
  /**
   * The same scan, cheaper: digests of blobs no manifest references and no link younger than
   * `olderThan` keeps, without reading the rows themselves (so it may list a blob younger than
   * `olderThan`; `removeIfUnused` leaves those alone).
   */
  gcCandidateDigests(olderThan: number, after: string | undefined, limit: number): Promise<string[]>;
  /**
   * Inside a tx: locks the blob rows, re-checks that each is still unused and old, and then
   * deletes the links and rows of those that are. Returns the removed rows (their objects are
   * the caller's to delete); blobs in use again are left alone.
   */
  removeIfUnused(digests: string[], olderThan: number): Promise<BlobRow[]>;
  /** Whether some blob row points at this storage key. */
  hasStorageKey(key: string): Promise<boolean>;
  /**
   * Storage per repository: bytes of the blobs linked to it, and the part of those bytes in
   * blobs that other repositories link too.
   */
  usage(repositoryIds?: number[]): Promise<Map<number, { bytes: number; sharedBytes: number }>>;
}

export interface ManifestStore {
  get(repositoryId: number, digest: string): Promise<ManifestWithContent | null>;
  /** The same, by repository name, in one query. */
  getByName(repository: string, digest: string): Promise<ManifestWithContent | null>;
  /** Inserts the manifest and its references unless the digest is already stored; true when inserted. */
  put(row: ManifestRow, content: Buffer, refs: ManifestReference[]): Promise<boolean>;
  /** Deletes the manifest, its references and the tags pointing at it; true when it existed. */
  delete(repositoryId: number, digest: string): Promise<boolean>;
  /** `delete` for many manifests in a few statements; returns how many existed. */
  deleteMany(repositoryId: number, digests: string[]): Promise<number>;
  /** Which of `digests` are manifests stored in the repository. */
  presentAmong(repositoryId: number, digests: string[]): Promise<Set<string>>;
  /**
   * Bytes that deleting `digests` (manifests of the repository) would free: blobs they
   * reference that no other manifest, in any repository, references. Takes sets of any size
   * (a lifecycle preview passes every expiring image).
   */
  exclusiveBytes(repositoryId: number, digests: string[]): Promise<number>;
  /** Every (index, child manifest) pair of the repository. */
  childLinks(repositoryId: number): Promise<{ parent: string; child: string }[]>;
  /**
   * Every manifest of the repository with its tags, size and parent indexes, in a few
   * set-wise reads (no paging, no order).
   */
  inventory(repositoryId: number): Promise<RepositoryInventory>;
  /** Digests of the manifests in the repository that reference `digest` as a child manifest. */
  parentsOf(repositoryId: number, digest: string): Promise<string[]>;
  /** `parentsOf` for each of `digests` that has parents, in one read (parents in lexical order). */
  parentsAmong(repositoryId: number, digests: string[]): Promise<Map<string, string[]>>;
  /** Manifests of the repository ordered by digest, without content. */
  list(repositoryId: number, page: Page): Promise<ManifestRow[]>;
  count(repositoryId: number): Promise<number>;
  /** Size of each manifest's blobs (config and layers); for an index, that of its largest child. */
  sizes(repositoryId: number, digests: string[]): Promise<Map<string, number>>;
  /** Manifests whose subject is `subjectDigest`, ordered by digest. */
  referrers(repositoryId: number, subjectDigest: string, artifactType?: string): Promise<ManifestRow[]>;
  recordPull(repositoryId: number, digest: string, now: number): Promise<void>;
}

export interface TagStore {
  /** The manifest a tag points at, with its content. */
  resolve(repositoryId: number, tag: string): Promise<ManifestWithContent | null>;
  /** The same, by repository name, in one query (the pull path's fast case). */
  resolveByName(repository: string, tag: string): Promise<ManifestWithContent | null>;
  /** Points the tag at a stored manifest (creating or moving it). `digestOf` tells where it pointed before. */
  set(repositoryId: number, tag: string, digest: string, now: number): Promise<void>;
  delete(repositoryId: number, tag: string): Promise<boolean>;
  list(repositoryId: number, page: Page): Promise<string[]>;
  of(repositoryId: number, digest: string): Promise<string[]>;
  /** Tags of each of `digests`, in lexical order. */
  ofMany(repositoryId: number, digests: string[]): Promise<Map<string, string[]>>;
  /** The digest a tag points at, without content. */
  digestOf(repositoryId: number, tag: string): Promise<string | null>;
}

export interface UploadStore {
  create(row: UploadRow): Promise<void>;
  get(id: string): Promise<UploadRow | null>;
  /** Compare-and-set of the offset: succeeds only when the stored offset is still `from`. */
  advance(id: string, from: number, to: number, now: number): Promise<boolean>;
  delete(id: string): Promise<boolean>;
  /** Sessions not updated since `before`, oldest first. */
  listStale(before: number, limit: number): Promise<UploadRow[]>;
}

export interface ScheduleRow {
  name: string;
  intervalMs: number;
  nextRunAt: number;
  lastStartedAt: number | null;
  lastFinishedAt: number | null;
  lastResult: string | null;
}

/** Periodic work that must run once per interval across every node sharing the database. */
export interface ScheduleStore {
  /** Creates the schedule (first run at `firstRunAt`) or updates its interval. */
  ensure(name: string, intervalMs: number, firstRunAt: number): Promise<void>;
  /** Compare-and-set: true for exactly one caller when the schedule is due; moves its next run on. */
  claimDue(name: string, now: number): Promise<boolean>;
  finish(name: string, now: number, result: string): Promise<void>;
  get(name: string): Promise<ScheduleRow | null>;
  /** Makes the schedule due now (run on demand). */
  trigger(name: string): Promise<void>;
}

export interface AuditEvent {
  id: number;
  at: number;
  actor: string;
  action: string;
  repository: string | null;
  detail: unknown;
}

export interface AuditLog {
  record(e: { at: number; actor: string; action: string; repository?: string; detail?: unknown }): Promise<void>;
  /** `record` for many events, in order, in a few statements. */
  recordMany(events: { at: number; actor: string; action: string; repository?: string; detail?: unknown }[]): Promise<void>;
  list(o: { afterId?: number; limit: number; action?: string }): Promise<AuditEvent[]>;
  /** Deletes events recorded before `at` (at most `limit`); returns how many. */
  purgeBefore(at: number, limit: number): Promise<number>;
}

export interface MetadataTx {
  readonly repositories: RepositoryStore;
  readonly blobs: BlobIndex;
  readonly manifests: ManifestStore;
  readonly tags: TagStore;
  readonly uploads: UploadStore;
  readonly registry: RegistrySettingsStore;
  readonly schedules: ScheduleStore;
  readonly audit: AuditLog;
  readonly identity: IdentityStore;
  readonly jobs: JobStore;
  readonly vulndb: VulnDbStore;
  readonly scans: ScanStore;
}

/**
 * The reads a snapshot offers. SQLite: in one snapshot, `exclusiveBytes` after `inventory` of the
 * same repository counts through the smaller of the two sets (the expiring or the kept manifests).
 */
export interface MetadataSnapshot {
  manifests: Pick<ManifestStore, 'inventory' | 'exclusiveBytes'>;
}

export interface MetadataStore extends MetadataTx {
  readonly dialect: 'sqlite' | 'postgres';
  /** Runs `fn` in one transaction (see the guarantees above). Do no slow I/O inside it. */
  tx<T>(fn: (tx: MetadataTx) => Promise<T>): Promise<T>;
  /**
   * Runs `fn` over one consistent read-only view of the store (a snapshot: writes committed
   * meanwhile are not seen), beside other requests' writes. For whole-repository reads (a
   * lifecycle preview or run). SQLite: on a connection of its own, in slices that let other
   * requests run between them (better-sqlite3 blocks the event loop while a statement runs);
   * one snapshot at a time per process.
   */
  snapshot<T>(fn: (view: MetadataSnapshot) => Promise<T>): Promise<T>;
  /** Round-trips to the database (for /healthz). */
  ping(): Promise<void>;
  close(): Promise<void>;
}
