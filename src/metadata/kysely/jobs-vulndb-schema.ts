/**
 * Job queue and vulnerability database tables (migration 0005_jobs_vulndb):
 *
 *   jobs(id, kind, key, payload JSON, state, attempts, max_attempts, run_after,
 *        lease_owner, lease_expires_at, last_error, created_at, updated_at)
 *     -- unique key among queued jobs (partial index): the dedupe rule
 *   advisories(id PK, modified, withdrawn, generation, imported_at, record JSON)
 *   affected_packages(ecosystem, name, release, advisory_id)   -- PK all four; see vulndb-types.ts
 *   vulndb_meta(id = 1, generation)                            -- one row, the generation counter
 *   vulndb_imports(id, source, started_at, finished_at, from_generation, to_generation, summary JSON)
 */
import type { Generated } from 'kysely';

export interface JobsVulnDbTables {
  jobs: {
    id: Generated<number>;
    kind: string;
    key: string | null;
    payload: string;
    state: string;
    attempts: number;
    max_attempts: number;
    run_after: number;
    lease_owner: string | null;
    lease_expires_at: number | null;
    last_error: string | null;
    created_at: number;
    updated_at: number;
  };
  advisories: { id: string; modified: number; withdrawn: number | null; generation: number; imported_at: number; record: string };
  affected_packages: { ecosystem: string; name: string; release: string; advisory_id: string };
  vulndb_meta: { id: number; generation: number };
  vulndb_imports: {
    id: Generated<number>;
    source: string;
    started_at: number;
    finished_at: number;
    from_generation: number;
    to_generation: number;
    summary: string;
  };
}

type Dialect = 'sqlite' | 'postgres';

export function jobsVulnDbSchema(d: Dialect): string[] {
  const id = d === 'sqlite' ? 'integer primary key autoincrement' : 'bigserial primary key';
  return [
    `create table jobs (id ${id}, kind text not null, key text, payload text not null, state text not null,
       attempts integer not null, max_attempts integer not null, run_after bigint not null,
       lease_owner text, lease_expires_at bigint, last_error text, created_at bigint not null, updated_at bigint not null)`,
    // NOTE: the dedupe guarantee is this index, not application code: two nodes enqueueing the same key at once cannot both insert.
    `create unique index jobs_queued_key on jobs (key) where state = 'queued'`,
    `create index jobs_due on jobs (run_after, id) where state = 'queued'`,
    `create index jobs_leases on jobs (lease_expires_at) where state = 'running'`,
    `create index jobs_settled on jobs (state, updated_at)`,
    `create table advisories (id text primary key, modified bigint not null, withdrawn bigint, generation bigint not null,
       imported_at bigint not null, record text not null)`,
    `create index advisories_generation on advisories (generation)`,
    `create table affected_packages (ecosystem text not null, name text not null, release text not null,
       advisory_id text not null references advisories(id) on delete cascade,
       primary key (ecosystem, name, release, advisory_id))`,
    `create index affected_packages_advisory on affected_packages (advisory_id)`,
    `create table vulndb_meta (id integer primary key, generation bigint not null)`,
    `insert into vulndb_meta (id, generation) values (1, 0)`,
    `create table vulndb_imports (id ${id}, source text not null, started_at bigint not null, finished_at bigint not null,
       from_generation bigint not null, to_generation bigint not null, summary text not null)`,
  ];
}
