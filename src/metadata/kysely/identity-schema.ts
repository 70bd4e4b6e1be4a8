/**
 * IAM tables (migration 0004_identity):
 *
 *   iam_users(name PK, id UNIQUE, path, created_at)             -- unique on lower(name) too
 *   iam_groups(name PK, id UNIQUE, path, created_at)
 *   iam_group_members(group_name, user_name)                    -- PK both
 *   iam_roles(name PK, id UNIQUE, path, trust_policy, description, max_session_seconds, created_at)
 *   iam_inline_policies(owner_kind, owner_name, policy_name, document)   -- PK the first three
 *   iam_access_keys(id PK, user_name, sealed_secret, status, created_at, last_used_*)
 */
export interface IdentityTables {
  iam_users: { name: string; id: string; path: string; created_at: number };
  iam_groups: { name: string; id: string; path: string; created_at: number };
  iam_group_members: { group_name: string; user_name: string };
  iam_roles: {
    name: string;
    id: string;
    path: string;
    trust_policy: string;
    description: string | null;
    max_session_seconds: number;
    created_at: number;
  };
  iam_inline_policies: { owner_kind: string; owner_name: string; policy_name: string; document: string };
  iam_access_keys: {
    id: string;
    user_name: string;
    sealed_secret: string;
    status: string;
    created_at: number;
    last_used_at: number | null;
    last_used_service: string | null;
    last_used_region: string | null;
  };
}

type Dialect = 'sqlite' | 'postgres';

export function identitySchema(d: Dialect): string[] {
  const text = d === 'sqlite' ? 'text' : 'text collate "C"';
  const entity = (table: string): string[] => [
    `create table ${table} (name ${text} primary key, id text not null unique, path text not null, created_at bigint not null)`,
    `create unique index ${table}_lower_name on ${table} (lower(name))`,
  ];
  return [
    ...entity('iam_users'),
    ...entity('iam_groups'),
    `create table iam_group_members (group_name ${text} not null references iam_groups(name) on delete cascade,
       user_name ${text} not null references iam_users(name) on delete cascade, primary key (group_name, user_name))`,
    `create index iam_group_members_user on iam_group_members (user_name)`,
    `create table iam_roles (name ${text} primary key, id text not null unique, path text not null, trust_policy text not null,
       description text, max_session_seconds integer not null, created_at bigint not null)`,
    `create unique index iam_roles_lower_name on iam_roles (lower(name))`,
    `create table iam_inline_policies (owner_kind text not null, owner_name ${text} not null, policy_name ${text} not null,
       document text not null, primary key (owner_kind, owner_name, policy_name))`,
    `create table iam_access_keys (id text primary key, user_name ${text} not null references iam_users(name) on delete cascade,
       sealed_secret text not null, status text not null, created_at bigint not null,
       last_used_at bigint, last_used_service text, last_used_region text)`,
    `create index iam_access_keys_user on iam_access_keys (user_name)`,
  ];
}
