/**
 * Image scanning tables (migration 0007_scans); see scans-types.ts for what they mean.
 *
 *   scan_inventories(digest PK, scanner, inventory deflated JSON, layer_errors, package_count,
 *                    indexed_at, generation, source_updated_at)          -- one per indexed manifest
 *   scan_packages(digest, pkg, package_key)  PK (digest, pkg)             -- inventory package -> version
 *   scan_package_versions(seq PK, key UNIQUE, ecosystem, name, version, source_name, source_version,
 *                         base, idx_name, alt_name, generation)          -- base/idx_name: the vulndb index key
 *   scan_matches(package_key, vuln_id, severity, fixed_version, first_seen_at)  PK (package_key, vuln_id)
 *   scan_match_changes(id, at, generation, package_key, vuln_id, change, severity)
 *   image_scans(repository_id, digest, status, description, trigger, requested_at, started_at,
 *               completed_at)  PK (repository_id, digest), deleted with the manifest
 *   scan_state(id = 1, generation, source_updated_at, at)               -- the last re-match; also the insert lock
 */
import type { Generated } from 'kysely';

export interface ScansTables {
  scan_inventories: {
    digest: string;
    scanner: string;
    inventory: Buffer;
    layer_errors: number;
    package_count: number;
    indexed_at: number;
    generation: number;
    source_updated_at: number | null;
  };
  scan_packages: { digest: string; pkg: number; package_key: string };
  scan_package_versions: {
    seq: Generated<number>;
    key: string;
    ecosystem: string;
    name: string;
    version: string;
    source_name: string | null;
    source_version: string | null;
    base: string;
    idx_name: string;
    alt_name: string | null;
    generation: number;
  };
  scan_matches: { package_key: string; vuln_id: string; severity: string; fixed_version: string | null; first_seen_at: number };
  scan_match_changes: {
    id: Generated<number>;
    at: number;
    generation: number;
    package_key: string;
    vuln_id: string;
    change: string;
    severity: string;
  };
  image_scans: {
    repository_id: number;
    digest: string;
    status: string;
    description: string | null;
    trigger: string;
    requested_at: number;
    started_at: number | null;
    completed_at: number | null;
  };
  scan_state: { id: number; generation: number; source_updated_at: number | null; at: number | null };
}

type Dialect = 'sqlite' | 'postgres';

export function scansSchema(d: Dialect): string[] {
  const id = d === 'sqlite' ? 'integer primary key autoincrement' : 'bigserial primary key';
  const bytes = d === 'sqlite' ? 'blob' : 'bytea';
  return [
    `create table scan_inventories (digest text primary key, scanner text not null, inventory ${bytes} not null,
       layer_errors integer not null, package_count integer not null, indexed_at bigint not null,
       generation bigint not null, source_updated_at bigint)`,
    `create table scan_package_versions (seq ${id}, key text not null unique, ecosystem text not null, name text not null,
       version text not null, source_name text, source_version text, base text not null, idx_name text not null,
       alt_name text, generation bigint not null)`,
    `create index scan_package_versions_name on scan_package_versions (base, idx_name)`,
    `create index scan_package_versions_alt on scan_package_versions (base, alt_name) where alt_name is not null`,
    `create index scan_package_versions_generation on scan_package_versions (generation)`,
    `create table scan_packages (digest text not null references scan_inventories(digest) on delete cascade,
       pkg integer not null, package_key text not null references scan_package_versions(key),
       primary key (digest, pkg))`,
    `create index scan_packages_key on scan_packages (package_key)`,
    `create table scan_matches (package_key text not null references scan_package_versions(key) on delete cascade,
       vuln_id text not null, severity text not null, fixed_version text, first_seen_at bigint not null,
       primary key (package_key, vuln_id))`,
    `create index scan_matches_vuln on scan_matches (vuln_id)`,
    `create table scan_match_changes (id ${id}, at bigint not null, generation bigint not null,
       package_key text not null, vuln_id text not null, change text not null, severity text not null)`,
    `create index scan_match_changes_key on scan_match_changes (package_key, id)`,
    `create table image_scans (repository_id bigint not null, digest text not null, status text not null, description text,
       trigger text not null, requested_at bigint not null, started_at bigint, completed_at bigint,
       primary key (repository_id, digest),
       foreign key (repository_id, digest) references manifests(repository_id, digest) on delete cascade)`,
    `create table scan_state (id integer primary key, generation bigint not null, source_updated_at bigint, at bigint)`,
    `insert into scan_state (id, generation) values (1, 0)`,
  ];
}
