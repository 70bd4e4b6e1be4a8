import { sql, type Kysely, type Selectable, type UpdateQueryBuilder, type UpdateResult } from 'kysely';
import type { ClaimOptions, FailOutcome, JobRow, JobState, JobStore, NewJob } from '../jobs-types.js';
import type { Database } from './schema.js';

type Db = Kysely<Database>;
type Row = Selectable<Database['jobs']>;
type JobUpdate = UpdateQueryBuilder<Database, 'jobs', 'jobs', UpdateResult>;

const DEFAULT_MAX_ATTEMPTS = 5;

const toJob = (r: Row): JobRow => ({
  id: Number(r.id),
  kind: r.kind,
  key: r.key,
  payload: JSON.parse(r.payload) as unknown,
  state: r.state as JobState,
  attempts: Number(r.attempts),
  maxAttempts: Number(r.max_attempts),
  runAfter: Number(r.run_after),
  leaseOwner: r.lease_owner,
  leaseExpiresAt: r.lease_expires_at === null ? null : Number(r.lease_expires_at),
  lastError: r.last_error,
  createdAt: Number(r.created_at),
  updatedAt: Number(r.updated_at),
});

/** PostgreSQL 23505 or SQLite's UNIQUE constraint failure. */
function isUniqueViolation(err: unknown): boolean {
  const code = (err as { code?: unknown } | null)?.code;
  return code === '23505' || code === 'SQLITE_CONSTRAINT_UNIQUE';
}

/** Who may move a running job: the lease holder, or anyone once the lease has expired (reclaim). */
type Holder = { owner: string } | { expiredBefore: number };

export class KyselyJobs implements JobStore {
  constructor(
    private readonly db: Db,
    private readonly dialect: 'sqlite' | 'postgres',
  ) {}

  async enqueue(job: NewJob, now: number): Promise<{ created: boolean; job: JobRow }> {
    const runAfter = job.runAfter ?? now;
    const values = {
      kind: job.kind,
      key: job.key ?? null,
      payload: JSON.stringify(job.payload ?? null),
      state: 'queued',
      attempts: 0,
      max_attempts: job.maxAttempts ?? DEFAULT_MAX_ATTEMPTS,
      run_after: runAfter,
      lease_owner: null,
      lease_expires_at: null,
      last_error: null,
      created_at: now,
      updated_at: now,
    };
    // The queued job with this key can be claimed between the conflict and the read; then insert again.
    for (let i = 0; i < 5; i++) {
      const inserted = await this.db
        .insertInto('jobs')
        .values(values)
        // The predicate is a literal: PostgreSQL matches it against the partial index at plan time.
        .onConflict((oc) => oc.column('key').where(sql<boolean>`state = 'queued'`).doNothing())
        .returningAll()
        .executeTakeFirst();
      if (inserted) return { created: true, job: toJob(inserted) };
      if (job.key === undefined) throw new Error('insert of an unkeyed job returned no row');
      const existing = await this.db
        .updateTable('jobs')
        .set({ run_after: sql<number>`case when run_after > ${runAfter} then ${runAfter} else run_after end` })
        .where('key', '=', job.key)
        .where('state', '=', 'queued')
        .returningAll()
        .executeTakeFirst();
      if (existing) return { created: false, job: toJob(existing) };
    }
    throw new Error(`could not enqueue job with key ${job.key ?? ''}: it kept being claimed`);
  }

  async claim(o: ClaimOptions): Promise<JobRow[]> {
    if (o.limit <= 0 || o.kinds?.length === 0) return [];
    let due = this.db
      .selectFrom('jobs')
      .select('id')
      .where('state', '=', 'queued')
      .where('run_after', '<=', o.now)
      .orderBy('run_after')
      .orderBy('id')
      .limit(o.limit);
    if (o.kinds) due = due.where('kind', 'in', [...o.kinds]);
    // PostgreSQL: rows another claimer has locked are skipped, not waited for, and a row it
    // already moved to running fails the re-checked `state = 'queued'`. SQLite: the UPDATE is
    // one write statement, and SQLite runs one writer at a time.
    if (this.dialect === 'postgres') due = due.forUpdate().skipLocked();
    const rows = await this.db
      .updateTable('jobs')
      .set({
        state: 'running',
        attempts: sql<number>`attempts + 1`,
        lease_owner: o.owner,
        lease_expires_at: o.now + o.leaseMs,
        updated_at: o.now,
      })
      .where('id', 'in', due)
      .where('state', '=', 'queued')
      .returningAll()
      .execute();
    return rows.map(toJob).sort((a, b) => a.runAfter - b.runAfter || a.id - b.id);
  }

  async heartbeat(id: number, owner: string, now: number, leaseMs: number): Promise<boolean> {
    const r = await this.held({ owner }, this.db.updateTable('jobs').set({ lease_expires_at: now + leaseMs, updated_at: now }).where('id', '=', id)).executeTakeFirst();
    return Number(r.numUpdatedRows) > 0;
  }

  async complete(id: number, owner: string, now: number): Promise<boolean> {
    const r = await this.held(
      { owner },
      this.db.updateTable('jobs').set({ state: 'done', lease_owner: null, lease_expires_at: null, updated_at: now }).where('id', '=', id),
    ).executeTakeFirst();
    return Number(r.numUpdatedRows) > 0;
  }

  async fail(id: number, owner: string, now: number, error: string, retryAt: number): Promise<FailOutcome> {
    const row = await this.db.selectFrom('jobs').selectAll().where('id', '=', id).where('state', '=', 'running').where('lease_owner', '=', owner).executeTakeFirst();
    if (!row) return 'lost';
    return this.settle(toJob(row), { owner }, now, error, retryAt);
  }

  async reclaimExpired(now: number, limit = 100): Promise<{ requeued: number; failed: number }> {
    const rows = await this.db
      .selectFrom('jobs')
      .selectAll()
      .where('state', '=', 'running')
      .where('lease_expires_at', '<', now)
      .orderBy('lease_expires_at')
      .limit(limit)
      .execute();
    const out = { requeued: 0, failed: 0 };
    for (const r of rows) {
      const job = toJob(r);
      const error = `lease of ${job.leaseOwner ?? '?'} expired (attempt ${job.attempts})`;
      const outcome = await this.settle(job, { expiredBefore: now }, now, error, now);
      if (outcome === 'retry' || outcome === 'superseded') out.requeued++;
      else if (outcome === 'failed') out.failed++;
    }
    return out;
  }

  async purge(before: number, states: readonly ('done' | 'failed')[] = ['done']): Promise<number> {
    if (states.length === 0) return 0;
    const r = await this.db.deleteFrom('jobs').where('state', 'in', [...states]).where('updated_at', '<', before).executeTakeFirst();
    return Number(r.numDeletedRows);
  }

  async get(id: number): Promise<JobRow | null> {
    const r = await this.db.selectFrom('jobs').selectAll().where('id', '=', id).executeTakeFirst();
    return r ? toJob(r) : null;
  }

  async counts(): Promise<Record<JobState, number>> {
    const rows = await this.db.selectFrom('jobs').select(['state', (eb) => eb.fn.countAll<number>().as('n')]).groupBy('state').execute();
    const out: Record<JobState, number> = { queued: 0, running: 0, done: 0, failed: 0 };
    for (const r of rows) out[r.state as JobState] = Number(r.n);
    return out;
  }

  /** Restricts an update of a running job to the given holder. */
  private held(h: Holder, q: JobUpdate): JobUpdate {
    const running = q.where('state', '=', 'running');
    return 'owner' in h ? running.where('lease_owner', '=', h.owner) : running.where('lease_expires_at', '<', h.expiredBefore);
  }

  /** Ends a failed attempt: out of attempts → failed; else back to the queue, unless a queued job with the same key exists. */
  private async settle(job: JobRow, h: Holder, now: number, error: string, retryAt: number): Promise<FailOutcome> {
    const base = this.db.updateTable('jobs').where('id', '=', job.id);
    if (job.attempts >= job.maxAttempts) {
      const r = await this.held(h, base.set({ state: 'failed', lease_owner: null, lease_expires_at: null, last_error: error, updated_at: now })).executeTakeFirst();
      return Number(r.numUpdatedRows) > 0 ? 'failed' : 'lost';
    }
    try {
      let q = this.held(h, base.set({ state: 'queued', run_after: retryAt, lease_owner: null, lease_expires_at: null, last_error: error, updated_at: now }));
      if (job.key !== null) {
        const key = job.key;
        q = q.where((eb) => eb.not(eb.exists(eb.selectFrom('jobs as q').select('q.id').where('q.key', '=', key).where('q.state', '=', 'queued'))));
      }
      const r = await q.executeTakeFirst();
      if (Number(r.numUpdatedRows) > 0) return 'retry';
    } catch (err) {
      if (!isUniqueViolation(err)) throw err;
    }
    if (job.key === null) return 'lost';
    const sibling = await this.db.selectFrom('jobs').select('id').where('key', '=', job.key).where('state', '=', 'queued').executeTakeFirst();
    if (!sibling) return 'lost';
    const r = await this.held(
      h,
      base.set({
        state: 'done',
        lease_owner: null,
        lease_expires_at: null,
        last_error: `superseded by job ${Number(sibling.id)} (same key, queued); last error: ${error}`,
        updated_at: now,
      }),
    ).executeTakeFirst();
    return Number(r.numUpdatedRows) > 0 ? 'superseded' : 'lost';
  }
}
