import { sql, type Kysely } from 'kysely';
import type { AuditEvent, AuditLog, ScheduleRow, ScheduleStore } from '../types.js';
import type { Database } from './schema.js';
import { $, preparedQuery } from './prepared.js';

// Every audited request (batched by the audit trail) inserts one.
const insertAuditEvent = preparedQuery('audit_events.insert', (db: Kysely<Database>) =>
  db.insertInto('audit_events').values({ at: $(1), actor: $(2), action: $(3), repository: $(4), detail: $(5) }),
);

type Db = Kysely<Database>;

export class KyselySchedules implements ScheduleStore {
  constructor(private readonly db: Db) {}

  async ensure(name: string, intervalMs: number, firstRunAt: number): Promise<void> {
    await this.db
      .insertInto('schedules')
      .values({ name, interval_ms: intervalMs, next_run_at: firstRunAt, last_started_at: null, last_finished_at: null, last_result: null })
      .onConflict((oc) => oc.column('name').doUpdateSet({ interval_ms: intervalMs }))
      .execute();
  }

  async claimDue(name: string, now: number): Promise<boolean> {
    // One statement: the row lock (PostgreSQL) or the single writer (SQLite) lets one node win.
    const r = await this.db
      .updateTable('schedules')
      .set({ next_run_at: sql`${now} + interval_ms`, last_started_at: now })
      .where('name', '=', name)
      .where('next_run_at', '<=', now)
      .executeTakeFirst();
    return Number(r.numUpdatedRows) > 0;
  }

  async finish(name: string, now: number, result: string): Promise<void> {
    await this.db.updateTable('schedules').set({ last_finished_at: now, last_result: result }).where('name', '=', name).execute();
  }

  async get(name: string): Promise<ScheduleRow | null> {
    const r = await this.db.selectFrom('schedules').selectAll().where('name', '=', name).executeTakeFirst();
    return r
      ? {
          name: r.name,
          intervalMs: Number(r.interval_ms),
          nextRunAt: Number(r.next_run_at),
          lastStartedAt: r.last_started_at === null ? null : Number(r.last_started_at),
          lastFinishedAt: r.last_finished_at === null ? null : Number(r.last_finished_at),
          lastResult: r.last_result,
        }
      : null;
  }

  async trigger(name: string): Promise<void> {
    await this.db.updateTable('schedules').set({ next_run_at: 0 }).where('name', '=', name).execute();
  }
}

export class KyselyAuditLog implements AuditLog {
  constructor(private readonly db: Db) {}

  async record(e: { at: number; actor: string; action: string; repository?: string; detail?: unknown }): Promise<void> {
    await insertAuditEvent(this.db, e.at, e.actor, e.action, e.repository ?? null, e.detail === undefined ? null : JSON.stringify(e.detail));
  }

  async recordMany(events: { at: number; actor: string; action: string; repository?: string; detail?: unknown }[]): Promise<void> {
    // 5 bound values a row: 500 rows stay under SQLite's and PostgreSQL's parameter limits.
    for (let i = 0; i < events.length; i += 500) {
      await this.db
        .insertInto('audit_events')
        .values(events.slice(i, i + 500).map((e) => ({ at: e.at, actor: e.actor, action: e.action, repository: e.repository ?? null, detail: e.detail === undefined ? null : JSON.stringify(e.detail) })))
        .execute();
    }
  }

  async purgeBefore(at: number, limit: number): Promise<number> {
    // Oldest first by id (ids grow with time), in bounded batches so a purge never holds the writer long.
    const ids = (await this.db.selectFrom('audit_events').select('id').where('at', '<', at).orderBy('id').limit(limit).execute()).map((r) => r.id);
    if (ids.length === 0) return 0;
    const r = await this.db.deleteFrom('audit_events').where('id', 'in', ids).executeTakeFirst();
    return Number(r.numDeletedRows);
  }

  async list(o: { afterId?: number; limit: number; action?: string }): Promise<AuditEvent[]> {
    let q = this.db.selectFrom('audit_events').selectAll().orderBy('id').limit(o.limit);
    if (o.afterId !== undefined) q = q.where('id', '>', o.afterId);
    if (o.action !== undefined) q = q.where('action', '=', o.action);
    return (await q.execute()).map((r) => ({
      id: Number(r.id),
      at: Number(r.at),
      actor: r.actor,
      action: r.action,
      repository: r.repository,
      detail: r.detail === null ? null : (JSON.parse(r.detail) as unknown),
    }));
  }
}
