/**
 * VulnDbStore: validated OSV advisories in the metadata database, indexed by the
 * packages they name.
 *
 * Index: one row per (ecosystem base, package name, release, advisory), where an
 * `affected[].package.ecosystem` such as `Debian:12` is split into base `Debian` and
 * release `12` (`''` for unscoped ecosystems such as `npm` or a bare `Debian`), and PyPI
 * names are PEP 503-normalised. A package query for `Debian:12` returns the advisories
 * indexed under release `12` or `''`, never `13`; one for a bare `Debian` only `''`.
 * That is exactly the candidate set of `affects()` in core/vuln/osv.ts, which still
 * decides each match (versions, ranges).
 *
 * Generations: every transaction that changes advisories bumps `generation` by one and
 * stamps the changed rows with it. The bump takes a row lock held to commit (PostgreSQL;
 * SQLite has one writer), so generations commit in order: once a reader has seen
 * generation G, no row with a generation <= G can still appear. A re-match keeps the
 * generation it last saw and asks `changedSince` for the rest.
 */
import type { OsvRecord } from '../core/vuln/osv-schema.js';

export interface StoredAdvisory {
  id: string;
  /** `modified` in epoch ms. */
  modified: number;
  /** `withdrawn` in epoch ms; withdrawn advisories never match. */
  withdrawn: number | null;
  /** The generation that last changed this advisory. */
  generation: number;
  record: OsvRecord;
}

/** What `upsert` did with one record. */
export type AdvisoryOutcome = 'imported' | 'updated' | 'unchanged';

export interface PackageRef {
  /** OSV ecosystem with release for distributions: `Debian:12`, `npm`, `PyPI`. */
  ecosystem: string;
  /** For distributions the source package name (ask for binary names too where records use them, as Red Hat's do). */
  name: string;
}

export interface VulnDbImportEntry {
  source: string;
  startedAt: number;
  finishedAt: number;
  /** The generation before the import; the import's changes carry generations in (from, to]. */
  fromGeneration: number;
  toGeneration: number;
  summary: unknown;
}

export interface VulnDbStatus {
  generation: number;
  /** When the last import finished (ECR's `vulnerabilitySourceUpdatedAt`); null before the first. */
  vulnerabilitySourceUpdatedAt: number | null;
  advisories: number;
  withdrawn: number;
  /** Index rows (ecosystem, package, release, advisory). */
  packages: number;
  lastImport: VulnDbImportEntry | null;
}

export interface VulnDbStore {
  /**
   * Stores each record unless the stored one's `modified` is as new, re-indexing the
   * changed ones; outcomes are parallel to `records` (a repeated id counts once, the newest
   * wins). Call inside `tx`: the generation lock and the reads that decide each outcome
   * must share it. Returns the generation after the call.
   */
  upsert(records: readonly OsvRecord[], now: number): Promise<{ outcomes: AdvisoryOutcome[]; generation: number }>;
  get(id: string): Promise<StoredAdvisory | null>;
  /** Non-withdrawn advisories that name each package (see the index rule above); parallel to `pkgs`. */
  forPackages(pkgs: readonly PackageRef[]): Promise<StoredAdvisory[][]>;
  /** Advisories changed in a generation after `generation` (withdrawn ones included), by id after `after`. */
  changedSince(generation: number, page: { after?: string; limit: number }): Promise<StoredAdvisory[]>;
  /** Records a finished import and sets `vulnerabilitySourceUpdatedAt` to its `finishedAt`. */
  recordImport(entry: VulnDbImportEntry): Promise<void>;
  status(): Promise<VulnDbStatus>;
}
