import type { Kysely } from 'kysely';
import type {
  AccessKeyRow,
  AccessKeyStatus,
  IamGroupRow,
  IamRoleRow,
  IamUserRow,
  IdentityStore,
  NamePage,
  PolicyOwner,
  PolicyOwnerKind,
} from '../identity-types.js';
import type { Database } from './schema.js';

type Db = Kysely<Database>;
type EntityTable = 'iam_users' | 'iam_groups';

const isUniqueViolation = (err: unknown): boolean => /unique|duplicate key/i.test(String((err as Error)?.message ?? err));

function entity(r: { name: string; id: string; path: string; created_at: number }): IamUserRow {
  return { name: r.name, id: r.id, path: r.path, createdAt: Number(r.created_at) };
}

function role(r: Database['iam_roles']): IamRoleRow {
  return {
    name: r.name,
    id: r.id,
    path: r.path,
    trustPolicy: r.trust_policy,
    description: r.description,
    maxSessionSeconds: Number(r.max_session_seconds),
    createdAt: Number(r.created_at),
  };
}

function key(r: Database['iam_access_keys']): AccessKeyRow {
  return {
    id: r.id,
    userName: r.user_name,
    sealedSecret: r.sealed_secret,
    status: r.status as AccessKeyStatus,
    createdAt: Number(r.created_at),
    lastUsedAt: r.last_used_at === null ? null : Number(r.last_used_at),
    lastUsedService: r.last_used_service,
    lastUsedRegion: r.last_used_region,
  };
}

export class KyselyIdentity implements IdentityStore {
  constructor(private readonly db: Db) {}

  /** Inserts; false when the name (in any case) or the id is taken. */
  private async insert(run: () => Promise<unknown>): Promise<boolean> {
    try {
      await run();
      return true;
    } catch (err) {
      if (isUniqueViolation(err)) return false;
      throw err;
    }
  }

  private async listEntities(table: EntityTable, page: NamePage): Promise<IamUserRow[]> {
    let q = this.db.selectFrom(table).selectAll();
    if (page.after !== undefined) q = q.where('name', '>', page.after);
    if (page.pathPrefix !== undefined && page.pathPrefix !== '/') {
      q = q.where('path', '>=', page.pathPrefix).where('path', '<', `${page.pathPrefix}\uffff`);
    }
    return (await q.orderBy('name').limit(page.limit).execute()).map(entity);
  }

  createUser(row: IamUserRow): Promise<boolean> {
    return this.insert(() => this.db.insertInto('iam_users').values({ name: row.name, id: row.id, path: row.path, created_at: row.createdAt }).execute());
  }

  async getUser(name: string): Promise<IamUserRow | null> {
    const r = await this.db.selectFrom('iam_users').selectAll().where('name', '=', name).executeTakeFirst();
    return r ? entity(r) : null;
  }

  listUsers(page: NamePage): Promise<IamUserRow[]> {
    return this.listEntities('iam_users', page);
  }

  async deleteUser(name: string): Promise<boolean> {
    await this.db.deleteFrom('iam_inline_policies').where('owner_kind', '=', 'user').where('owner_name', '=', name).execute();
    const r = await this.db.deleteFrom('iam_users').where('name', '=', name).executeTakeFirst();
    return Number(r.numDeletedRows) > 0;
  }

  createGroup(row: IamGroupRow): Promise<boolean> {
    return this.insert(() => this.db.insertInto('iam_groups').values({ name: row.name, id: row.id, path: row.path, created_at: row.createdAt }).execute());
  }

  async getGroup(name: string): Promise<IamGroupRow | null> {
    const r = await this.db.selectFrom('iam_groups').selectAll().where('name', '=', name).executeTakeFirst();
    return r ? entity(r) : null;
  }

  listGroups(page: NamePage): Promise<IamGroupRow[]> {
    return this.listEntities('iam_groups', page);
  }

  async deleteGroup(name: string): Promise<boolean> {
    await this.db.deleteFrom('iam_inline_policies').where('owner_kind', '=', 'group').where('owner_name', '=', name).execute();
    const r = await this.db.deleteFrom('iam_groups').where('name', '=', name).executeTakeFirst();
    return Number(r.numDeletedRows) > 0;
  }

  async addMember(group: string, user: string): Promise<void> {
    await this.db
      .insertInto('iam_group_members')
      .values({ group_name: group, user_name: user })
      .onConflict((oc) => oc.columns(['group_name', 'user_name']).doNothing())
      .execute();
  }

  async removeMember(group: string, user: string): Promise<boolean> {
    const r = await this.db.deleteFrom('iam_group_members').where('group_name', '=', group).where('user_name', '=', user).executeTakeFirst();
    return Number(r.numDeletedRows) > 0;
  }

  async groupsOf(user: string): Promise<string[]> {
    const rows = await this.db.selectFrom('iam_group_members').select('group_name').where('user_name', '=', user).orderBy('group_name').execute();
    return rows.map((r) => r.group_name);
  }

  async membersOf(group: string): Promise<string[]> {
    const rows = await this.db.selectFrom('iam_group_members').select('user_name').where('group_name', '=', group).orderBy('user_name').execute();
    return rows.map((r) => r.user_name);
  }

  createRole(row: IamRoleRow): Promise<boolean> {
    return this.insert(() =>
      this.db
        .insertInto('iam_roles')
        .values({
          name: row.name,
          id: row.id,
          path: row.path,
          trust_policy: row.trustPolicy,
          description: row.description,
          max_session_seconds: row.maxSessionSeconds,
          created_at: row.createdAt,
        })
        .execute(),
    );
  }

  async getRole(name: string): Promise<IamRoleRow | null> {
    const r = await this.db.selectFrom('iam_roles').selectAll().where('name', '=', name).executeTakeFirst();
    return r ? role(r) : null;
  }

  async listRoles(page: NamePage): Promise<IamRoleRow[]> {
    let q = this.db.selectFrom('iam_roles').selectAll();
    if (page.after !== undefined) q = q.where('name', '>', page.after);
    if (page.pathPrefix !== undefined && page.pathPrefix !== '/') {
      q = q.where('path', '>=', page.pathPrefix).where('path', '<', `${page.pathPrefix}\uffff`);
    }
    return (await q.orderBy('name').limit(page.limit).execute()).map(role);
  }

  async deleteRole(name: string): Promise<boolean> {
    await this.db.deleteFrom('iam_inline_policies').where('owner_kind', '=', 'role').where('owner_name', '=', name).execute();
    const r = await this.db.deleteFrom('iam_roles').where('name', '=', name).executeTakeFirst();
    return Number(r.numDeletedRows) > 0;
  }

  async updateTrustPolicy(name: string, document: string): Promise<boolean> {
    const r = await this.db.updateTable('iam_roles').set({ trust_policy: document }).where('name', '=', name).executeTakeFirst();
    return Number(r.numUpdatedRows) > 0;
  }

  async putPolicy(owner: PolicyOwner, policyName: string, document: string): Promise<void> {
    await this.db
      .insertInto('iam_inline_policies')
      .values({ owner_kind: owner.kind, owner_name: owner.name, policy_name: policyName, document })
      .onConflict((oc) => oc.columns(['owner_kind', 'owner_name', 'policy_name']).doUpdateSet({ document }))
      .execute();
  }

  async getPolicy(owner: PolicyOwner, policyName: string): Promise<string | null> {
    const r = await this.db
      .selectFrom('iam_inline_policies')
      .select('document')
      .where('owner_kind', '=', owner.kind)
      .where('owner_name', '=', owner.name)
      .where('policy_name', '=', policyName)
      .executeTakeFirst();
    return r?.document ?? null;
  }

  async deletePolicy(owner: PolicyOwner, policyName: string): Promise<boolean> {
    const r = await this.db
      .deleteFrom('iam_inline_policies')
      .where('owner_kind', '=', owner.kind)
      .where('owner_name', '=', owner.name)
      .where('policy_name', '=', policyName)
      .executeTakeFirst();
    return Number(r.numDeletedRows) > 0;
  }

  async listPolicies(owner: PolicyOwner): Promise<string[]> {
    const rows = await this.db
      .selectFrom('iam_inline_policies')
      .select('policy_name')
      .where('owner_kind', '=', owner.kind)
      .where('owner_name', '=', owner.name)
      .orderBy('policy_name')
      .execute();
    return rows.map((r) => r.policy_name);
  }

  async policiesOfUser(user: string): Promise<{ owner: PolicyOwner; policyName: string; document: string }[]> {
    const rows = await this.db
      .selectFrom('iam_inline_policies as p')
      .select(['p.owner_kind', 'p.owner_name', 'p.policy_name', 'p.document'])
      .where((eb) =>
        eb.or([
          eb.and([eb('p.owner_kind', '=', 'user'), eb('p.owner_name', '=', user)]),
          eb.and([
            eb('p.owner_kind', '=', 'group'),
            eb('p.owner_name', 'in', eb.selectFrom('iam_group_members').select('group_name').where('user_name', '=', user)),
          ]),
        ]),
      )
      .execute();
    return rows.map((r) => ({ owner: { kind: r.owner_kind as PolicyOwnerKind, name: r.owner_name }, policyName: r.policy_name, document: r.document }));
  }

  async createAccessKey(row: AccessKeyRow): Promise<void> {
    await this.db
      .insertInto('iam_access_keys')
      .values({
        id: row.id,
        user_name: row.userName,
        sealed_secret: row.sealedSecret,
        status: row.status,
        created_at: row.createdAt,
        last_used_at: row.lastUsedAt,
        last_used_service: row.lastUsedService,
        last_used_region: row.lastUsedRegion,
      })
      .execute();
  }

  async getAccessKey(id: string): Promise<AccessKeyRow | null> {
    const r = await this.db.selectFrom('iam_access_keys').selectAll().where('id', '=', id).executeTakeFirst();
    return r ? key(r) : null;
  }

  async listAccessKeys(user: string): Promise<AccessKeyRow[]> {
    return (await this.db.selectFrom('iam_access_keys').selectAll().where('user_name', '=', user).orderBy('created_at').execute()).map(key);
  }

  async setAccessKeyStatus(id: string, status: AccessKeyStatus): Promise<boolean> {
    const r = await this.db.updateTable('iam_access_keys').set({ status }).where('id', '=', id).executeTakeFirst();
    return Number(r.numUpdatedRows) > 0;
  }

  async deleteAccessKey(id: string): Promise<boolean> {
    const r = await this.db.deleteFrom('iam_access_keys').where('id', '=', id).executeTakeFirst();
    return Number(r.numDeletedRows) > 0;
  }

  async recordKeyUse(id: string, at: number, service: string, region: string): Promise<void> {
    await this.db
      .updateTable('iam_access_keys')
      .set({ last_used_at: at, last_used_service: service, last_used_region: region })
      .where('id', '=', id)
      .where((eb) => eb.or([eb('last_used_at', 'is', null), eb('last_used_at', '<', at)]))
      .execute();
  }
}
