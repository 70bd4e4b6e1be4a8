/**
 * JobStore: the durable job queue in the metadata database (DESIGN.md 7.10). Jobs are
 * enqueued, ideally in the same transaction as the change that causes them, and claimed
 * by workers on any node under a lease.
 *
 * Guarantees:
 * - Delivery is at least once: a job whose worker died (lease expired) runs again, so
 *   handlers must be idempotent (keyed by digest, repository, ...).
 * - A claim hands each queued job to exactly one claimer, across connections, processes
 *   and nodes (one UPDATE; `FOR UPDATE SKIP LOCKED` on PostgreSQL, SQLite's one writer).
 * - At most one *queued* job exists per `key`: enqueueing a key that is already queued
 *   returns that job. A running job does not block a new queued one with its key (the
 *   new one may have been caused by a change the running one did not see).
 * - `complete`, `fail` and `heartbeat` act only while the caller still holds the lease.
 * - `fail` and `reclaimExpired` must run outside `tx` on PostgreSQL: in a race with an
 *   enqueue of the same key they may hit the unique index, which they handle by
 *   retiring the job (state `done`, `lastError` "superseded by job N") since the queued
 *   job with the same key will do the work; in a transaction that error would abort it.
 */

export type JobState = 'queued' | 'running' | 'done' | 'failed';

export interface JobRow {
  id: number;
  kind: string;
  /** Dedupe key, e.g. `scan:<repo>@<digest>`. */
  key: string | null;
  payload: unknown;
  state: JobState;
  /** Claims so far (incremented by `claim`). */
  attempts: number;
  maxAttempts: number;
  /** Not claimed before this time. */
  runAfter: number;
  leaseOwner: string | null;
  leaseExpiresAt: number | null;
  lastError: string | null;
  createdAt: number;
  updatedAt: number;
}

export interface NewJob {
  kind: string;
  key?: string;
  /** JSON-able. */
  payload?: unknown;
  /** Default 5. */
  maxAttempts?: number;
  /** Default: now. */
  runAfter?: number;
}

export interface ClaimOptions {
  owner: string;
  now: number;
  leaseMs: number;
  limit: number;
  /** Only these kinds (a node claims only what it has handlers for). */
  kinds?: readonly string[];
}

/** What `fail` did: queued again for `retryAt`, out of attempts, handed to a queued job with the same key, or nothing (lease lost). */
export type FailOutcome = 'retry' | 'failed' | 'superseded' | 'lost';

export interface JobStore {
  /** Adds a queued job; with a key already queued, returns that job, its payload unchanged (only its `runAfter` moves earlier if this one is due sooner). */
  enqueue(job: NewJob, now: number): Promise<{ created: boolean; job: JobRow }>;
  /** Claims up to `limit` due queued jobs (oldest `runAfter` first): `running`, leased to `owner` until `now + leaseMs`. */
  claim(o: ClaimOptions): Promise<JobRow[]>;
  /** Extends the lease to `now + leaseMs`; false when the caller no longer holds it. */
  heartbeat(id: number, owner: string, now: number, leaseMs: number): Promise<boolean>;
  /** Marks the job done; false when the caller no longer holds the lease. */
  complete(id: number, owner: string, now: number): Promise<boolean>;
  /** Records the error; queues the job again for `retryAt` while attempts remain. */
  fail(id: number, owner: string, now: number, error: string, retryAt: number): Promise<FailOutcome>;
  /** Running jobs whose lease ended before `now` (their node died) go back to the queue, or fail when out of attempts. */
  reclaimExpired(now: number, limit?: number): Promise<{ requeued: number; failed: number }>;
  /** Deletes jobs in `states` (default `done`) last updated before `before`; returns how many. */
  purge(before: number, states?: readonly ('done' | 'failed')[]): Promise<number>;
  get(id: number): Promise<JobRow | null>;
  counts(): Promise<Record<JobState, number>>;
}
