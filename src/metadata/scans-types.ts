/**
 * ScanStore: image scanning results in the metadata database.
 *
 * Layout (see kysely/scans-schema.ts): an image is indexed once per manifest digest
 * (`scan_inventories`: the package inventory, stored compressed, never read again to
 * re-match); each of its packages points at a **package version** (`scan_package_versions`,
 * one row per distinct ecosystem/name/version/source, shared by every image that has it),
 * and matches live on the package version (`scan_matches`). An image's findings are the
 * join of its packages with their versions' matches, so when the vulnerability database
 * changes only the package versions the changed advisories name are evaluated again -
 * batch by package, not by image - and every image that has them sees the result at once.
 * Per-repository scan status (ECR's imageScanStatus) lives in `image_scans`.
 *
 * Generations: a package version's `generation` is the vulnerability-database generation
 * its matches reflect (every advisory with a generation <= it has been applied). A version
 * is inserted with the generation its matching read, and only the re-match changes the
 * matches of a stored version afterwards (scans never rewrite a stored version), so there
 * is one writer per version after its insert. `putInventory` and `maxPackageSeq` take the
 * same lock (the `scan_state` row on PostgreSQL; SQLite has one writer), so once a re-match
 * has read `maxSeq`, every version with a seq up to it is committed and visible to it.
 */
import type { Severity } from '../core/vuln/severity.js';

export type ScanStatus = 'PENDING' | 'IN_PROGRESS' | 'COMPLETE' | 'FAILED' | 'UNSUPPORTED_IMAGE';

/** What a package version is matched as (a `PackageQuery` of core/vuln) plus its key. */
export interface PackageVersionInput {
  /** Stable digest of ecosystem, name, version, source name and source version (see services/scanning/package-key.ts). */
  key: string;
  ecosystem: string;
  name: string;
  version: string;
  sourceName?: string;
  sourceVersion?: string;
}

export interface PackageVersionRow extends PackageVersionInput {
  /** Insertion order (monotonic); the re-match uses it to tell rows it saw from rows inserted while it ran. */
  seq: number;
  generation: number;
}

/** One advisory that affects a package version. */
export interface VulnMatch {
  vulnId: string;
  severity: Severity;
  fixedVersion?: string;
}

export interface StoredMatch extends VulnMatch {
  packageKey: string;
  /** When this advisory was first seen affecting this package version. */
  firstSeenAt: number;
}

export interface InventoryRecord {
  digest: string;
  /** Version of the scanner that built the inventory (a newer scanner indexes again). */
  scanner: string;
  /** The inventory as JSON-able data (stored compressed). */
  inventory: unknown;
  /** Layers that were not read whole (the inventory may miss packages). */
  layerErrors: number;
  indexedAt: number;
  /** The vulnerability-database generation and `vulnerabilitySourceUpdatedAt` the scan matched against. */
  generation: number;
  sourceUpdatedAt: number | null;
}

export interface InventorySummary {
  indexedAt: number;
  sourceUpdatedAt: number | null;
  layerErrors: number;
  counts: Partial<Record<Severity, number>>;
}

export interface ImageScanRow {
  repositoryId: number;
  digest: string;
  status: ScanStatus;
  description: string | null;
  /** `push` or `manual`. */
  trigger: string;
  requestedAt: number;
  startedAt: number | null;
  completedAt: number | null;
}

/** One finding of an image: a package of its inventory (by position) and an advisory that affects it. */
export interface ImageFinding extends StoredMatch {
  /** Index into the stored inventory's `packages`. */
  pkg: number;
}

export type FindingChange = 'appeared' | 'disappeared';

export interface MatchChange {
  packageKey: string;
  vulnId: string;
  change: FindingChange;
  severity: Severity;
}

export interface ImageFindingChange extends MatchChange {
  id: number;
  at: number;
  generation: number;
  digest: string;
  pkg: number;
}

export interface RematchState {
  /** Every package version stored before the last re-match reflects the advisories up to this generation. */
  generation: number;
  /** `vulnerabilitySourceUpdatedAt` of the database at that generation. */
  sourceUpdatedAt: number | null;
  at: number | null;
}

export interface ScanStore {
  getInventory(digest: string): Promise<InventoryRecord | null>;
  /**
   * Stores (or replaces) the inventory of `digest` and its packages; call inside `tx`.
   * `packages[i]` is the version of inventory package i. Versions not stored yet are
   * inserted with `matches` (keyed by version key) at `generation`; stored versions keep
   * theirs. Returns the keys of the versions this call inserted.
   */
  putInventory(record: InventoryRecord, packages: readonly PackageVersionInput[], matches: ReadonlyMap<string, readonly VulnMatch[]>, now: number): Promise<Set<string>>;
  /** Which of `keys` are stored package versions. */
  knownPackageVersions(keys: readonly string[]): Promise<Set<string>>;
  /** The findings of an image (empty when it is not indexed). */
  findings(digest: string): Promise<ImageFinding[]>;
  /**
   * For each indexed image among `digests`: when it was indexed, the source time it matched at,
   * and its non-zero finding counts per severity (left empty with `counts: false`, which skips
   * counting them).
   */
  summaries(digests: readonly string[], o?: { counts?: boolean }): Promise<Map<string, InventorySummary>>;

  /** Creates or replaces the scan status of an image in a repository. */
  putStatus(row: ImageScanRow): Promise<void>;
  /** Moves a status from one of `from` to `row.status` (and its fields); false when it was not in `from`. */
  transitionStatus(row: ImageScanRow, from: readonly ScanStatus[]): Promise<boolean>;
  statuses(repositoryId: number, digests: readonly string[]): Promise<Map<string, ImageScanRow>>;

  /** Package versions that name one of these vulnerability-database index keys (ecosystem base + indexed name). */
  packageVersionsNamed(keys: readonly { base: string; name: string }[]): Promise<PackageVersionRow[]>;
  /**
   * The highest package-version seq (0 when none). Call inside `tx`: it takes the lock that
   * `putInventory` takes, so every version with a lower seq is committed and visible.
   */
  maxPackageSeq(): Promise<number>;
  /** The lowest generation among versions with seq <= `maxSeq` (null when none). */
  minPackageGeneration(maxSeq?: number): Promise<number | null>;
  /** Stored matches of these package versions (undefined: of any version), only of these advisories when given. */
  matchesOf(packageKeys: readonly string[] | undefined, vulnIds?: readonly string[]): Promise<StoredMatch[]>;
  /**
   * One transaction: writes `upserts` (keeping `firstSeenAt` of a match that stays),
   * deletes `deletes`, records `changes` at `generation`, and, when `fullyMatched` is
   * given, sets those versions' generation to at least `generation`.
   */
  applyMatches(o: {
    upserts: readonly (VulnMatch & { packageKey: string })[];
    deletes: readonly { packageKey: string; vulnId: string }[];
    changes: readonly MatchChange[];
    fullyMatched?: readonly string[];
    generation: number;
    now: number;
  }): Promise<void>;
  /** Raises to `generation` every version with seq <= `maxSeq` below it, and records the state; returns how many were raised. */
  finishRematch(o: { generation: number; maxSeq: number; sourceUpdatedAt: number | null; now: number }): Promise<number>;
  rematchState(): Promise<RematchState>;
  /** Finding changes of images (one per image package a version change touched), by id after `afterId`. */
  findingChanges(o: { digest?: string; afterId?: number; limit: number }): Promise<ImageFindingChange[]>;
  /**
   * Deletes inventories of digests no repository holds any more, then package versions
   * no inventory uses (with their matches and changes). Returns how many of each. Call
   * inside `tx` (it takes the insert lock).
   */
  pruneOrphans(): Promise<{ inventories: number; packageVersions: number }>;
}
