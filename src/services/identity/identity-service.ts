/**
 * IAM administration: users, access keys, groups, roles and inline policies, with IAM's
 * rules. Names follow IAM's grammar and are unique regardless of case; a user, group or
 * role can be deleted only when nothing is attached to it any more (DeleteConflict, as
 * IAM does); a user holds at most two access keys; every policy is parsed with the IAM
 * grammar before it is stored, and a malformed one is refused with what and where.
 * Access key secrets are sealed with the master key and returned only once, at creation.
 */
import { BerthError } from '../../core/errors.js';
import { parsePolicy } from '../../core/iam/index.js';
import type { AccessKeyRow, AccessKeyStatus, IamGroupRow, IamRoleRow, IamUserRow, IdentityStore, PolicyOwner } from '../../metadata/identity-types.js';
import { generateSecret } from '../access/credentials.js';
import type { SecretBox } from '../access/secret-box.js';
import { generateKeyId } from './authenticator.js';

const NAME = /^[\w+=,.@-]+$/;
const PATH = /^\/(?:[\x21-\x7e]*\/)?$/;
export const MAX_KEYS_PER_USER = 2;

export interface Page<T> {
  items: T[];
  /** The marker of the next page, when there is one. */
  marker?: string;
}

export interface NewAccessKey {
  row: AccessKeyRow;
  secretAccessKey: string;
}

const notFound = (what: string, name: string): BerthError => new BerthError('ENTITY_NOT_FOUND', `The ${what} with name ${name} cannot be found.`);

function checkName(kind: string, name: string, max: number): void {
  if (name.length < 1 || name.length > max || !NAME.test(name)) {
    throw new BerthError('INVALID_PARAMETER', `The specified value for ${kind}Name is invalid. It must contain only alphanumeric characters and/or the following: +=,.@_-`);
  }
}

function checkPath(path: string): void {
  if (path.length > 512 || !PATH.test(path)) throw new BerthError('INVALID_PARAMETER', `The specified value for path is invalid. It must begin and end with / and contain only printable ASCII characters.`);
}

/** Parses a policy document, turning grammar errors into MalformedPolicyDocument messages. */
export function checkPolicyDocument(text: string, kind: 'identity' | 'resource'): void {
  if (text.length > 10_240) throw new BerthError('INVALID_PARAMETER', 'MalformedPolicyDocument: the policy is longer than 10,240 characters', { detail: { malformedPolicy: true } });
  try {
    parsePolicy(text, kind);
  } catch (err) {
    throw new BerthError('INVALID_PARAMETER', err instanceof Error ? err.message : String(err), { detail: { malformedPolicy: true } });
  }
}

export class IdentityService {
  constructor(
    private readonly store: IdentityStore,
    private readonly box: SecretBox,
    private readonly now: () => number,
  ) {}

  // ---- users ----

  async createUser(name: string, path = '/'): Promise<IamUserRow> {
    checkName('user', name, 64);
    checkPath(path);
    const row: IamUserRow = { name, id: generateKeyId('AIDA'), path, createdAt: this.now() };
    if (!(await this.store.createUser(row))) throw new BerthError('ENTITY_EXISTS', `User with name ${name} already exists.`);
    return row;
  }

  async getUser(name: string): Promise<IamUserRow> {
    const u = await this.store.getUser(name);
    if (!u) throw notFound('user', name);
    return u;
  }

  async deleteUser(name: string): Promise<void> {
    await this.getUser(name);
    const [keys, policies, groups] = await Promise.all([this.store.listAccessKeys(name), this.store.listPolicies({ kind: 'user', name }), this.store.groupsOf(name)]);
    if (keys.length + policies.length + groups.length > 0) {
      throw new BerthError('DELETE_CONFLICT', `Cannot delete entity, must ${keys.length ? 'delete access keys' : policies.length ? 'delete policies' : 'remove users from group'} first.`);
    }
    await this.store.deleteUser(name);
  }

  async listUsers(o: { pathPrefix?: string; marker?: string; maxItems?: number }): Promise<Page<IamUserRow>> {
    return this.page((after, limit) => this.store.listUsers({ limit, ...(after ? { after } : {}), ...(o.pathPrefix ? { pathPrefix: o.pathPrefix } : {}) }), o, (u) => u.name);
  }

  // ---- access keys ----

  async createAccessKey(userName: string): Promise<NewAccessKey> {
    await this.getUser(userName);
    const existing = await this.store.listAccessKeys(userName);
    if (existing.length >= MAX_KEYS_PER_USER) throw new BerthError('LIMIT_EXCEEDED', `Cannot exceed quota for AccessKeysPerUser: ${MAX_KEYS_PER_USER}`);
    const secretAccessKey = generateSecret();
    const row: AccessKeyRow = {
      id: generateKeyId('AKIA'),
      userName,
      sealedSecret: this.box.seal(secretAccessKey),
      status: 'Active',
      createdAt: this.now(),
      lastUsedAt: null,
      lastUsedService: null,
      lastUsedRegion: null,
    };
    await this.store.createAccessKey(row);
    return { row, secretAccessKey };
  }

  private async keyOf(userName: string, id: string): Promise<AccessKeyRow> {
    const key = await this.store.getAccessKey(id);
    if (!key || key.userName !== userName) throw new BerthError('ENTITY_NOT_FOUND', `The Access Key with id ${id} cannot be found.`);
    return key;
  }

  async deleteAccessKey(userName: string, id: string): Promise<void> {
    await this.keyOf(userName, id);
    await this.store.deleteAccessKey(id);
  }

  async updateAccessKey(userName: string, id: string, status: AccessKeyStatus): Promise<void> {
    await this.keyOf(userName, id);
    await this.store.setAccessKeyStatus(id, status);
  }

  async listAccessKeys(userName: string): Promise<AccessKeyRow[]> {
    await this.getUser(userName);
    return this.store.listAccessKeys(userName);
  }

  async accessKeyLastUsed(id: string): Promise<AccessKeyRow> {
    const key = await this.store.getAccessKey(id);
    if (!key) throw new BerthError('ENTITY_NOT_FOUND', `The Access Key with id ${id} cannot be found.`);
    return key;
  }

  // ---- groups ----

  async createGroup(name: string, path = '/'): Promise<IamGroupRow> {
    checkName('group', name, 128);
    checkPath(path);
    const row: IamGroupRow = { name, id: generateKeyId('AGPA'), path, createdAt: this.now() };
    if (!(await this.store.createGroup(row))) throw new BerthError('ENTITY_EXISTS', `Group with name ${name} already exists.`);
    return row;
  }

  async getGroup(name: string): Promise<{ group: IamGroupRow; users: IamUserRow[] }> {
    const group = await this.store.getGroup(name);
    if (!group) throw notFound('group', name);
    const members = await this.store.membersOf(name);
    const users = (await Promise.all(members.map((m) => this.store.getUser(m)))).filter((u): u is IamUserRow => u !== null);
    return { group, users };
  }

  async deleteGroup(name: string): Promise<void> {
    await this.getGroup(name);
    const [members, policies] = await Promise.all([this.store.membersOf(name), this.store.listPolicies({ kind: 'group', name })]);
    if (members.length + policies.length > 0) throw new BerthError('DELETE_CONFLICT', `Cannot delete entity, must ${members.length ? 'remove users from group' : 'delete policies'} first.`);
    await this.store.deleteGroup(name);
  }

  async listGroups(o: { pathPrefix?: string; marker?: string; maxItems?: number }): Promise<Page<IamGroupRow>> {
    return this.page((after, limit) => this.store.listGroups({ limit, ...(after ? { after } : {}), ...(o.pathPrefix ? { pathPrefix: o.pathPrefix } : {}) }), o, (g) => g.name);
  }

  async addUserToGroup(group: string, user: string): Promise<void> {
    await Promise.all([this.getGroup(group), this.getUser(user)]);
    await this.store.addMember(group, user);
  }

  async removeUserFromGroup(group: string, user: string): Promise<void> {
    await Promise.all([this.getGroup(group), this.getUser(user)]);
    if (!(await this.store.removeMember(group, user))) throw new BerthError('ENTITY_NOT_FOUND', `User ${user} is not in group ${group}.`);
  }

  async groupsForUser(user: string): Promise<IamGroupRow[]> {
    await this.getUser(user);
    const names = await this.store.groupsOf(user);
    return (await Promise.all(names.map((n) => this.store.getGroup(n)))).filter((g): g is IamGroupRow => g !== null);
  }

  // ---- roles ----

  async createRole(o: { name: string; path?: string; trustPolicy: string; description?: string; maxSessionSeconds?: number }): Promise<IamRoleRow> {
    checkName('role', o.name, 64);
    checkPath(o.path ?? '/');
    checkPolicyDocument(o.trustPolicy, 'resource');
    const max = o.maxSessionSeconds ?? 3600;
    if (max < 3600 || max > 43_200) throw new BerthError('INVALID_PARAMETER', 'MaxSessionDuration must be between 3600 and 43200 seconds');
    const row: IamRoleRow = {
      name: o.name,
      id: generateKeyId('AROA'),
      path: o.path ?? '/',
      trustPolicy: o.trustPolicy,
      description: o.description ?? null,
      maxSessionSeconds: max,
      createdAt: this.now(),
    };
    if (!(await this.store.createRole(row))) throw new BerthError('ENTITY_EXISTS', `Role with name ${o.name} already exists.`);
    return row;
  }

  async getRole(name: string): Promise<IamRoleRow> {
    const r = await this.store.getRole(name);
    if (!r) throw notFound('role', name);
    return r;
  }

  async deleteRole(name: string): Promise<void> {
    await this.getRole(name);
    if ((await this.store.listPolicies({ kind: 'role', name })).length > 0) throw new BerthError('DELETE_CONFLICT', 'Cannot delete entity, must delete policies first.');
    await this.store.deleteRole(name);
  }

  async listRoles(o: { pathPrefix?: string; marker?: string; maxItems?: number }): Promise<Page<IamRoleRow>> {
    return this.page((after, limit) => this.store.listRoles({ limit, ...(after ? { after } : {}), ...(o.pathPrefix ? { pathPrefix: o.pathPrefix } : {}) }), o, (r) => r.name);
  }

  async updateTrustPolicy(name: string, document: string): Promise<void> {
    await this.getRole(name);
    checkPolicyDocument(document, 'resource');
    await this.store.updateTrustPolicy(name, document);
  }

  // ---- inline policies ----

  private async ownerExists(owner: PolicyOwner): Promise<void> {
    if (owner.kind === 'user') await this.getUser(owner.name);
    else if (owner.kind === 'group') await this.getGroup(owner.name);
    else await this.getRole(owner.name);
  }

  async putPolicy(owner: PolicyOwner, policyName: string, document: string): Promise<void> {
    checkName('policy', policyName, 128);
    await this.ownerExists(owner);
    checkPolicyDocument(document, 'identity');
    await this.store.putPolicy(owner, policyName, document);
  }

  async getPolicy(owner: PolicyOwner, policyName: string): Promise<string> {
    await this.ownerExists(owner);
    const doc = await this.store.getPolicy(owner, policyName);
    if (doc === null) throw new BerthError('ENTITY_NOT_FOUND', `The ${owner.kind} policy with name ${policyName} cannot be found.`);
    return doc;
  }

  async deletePolicy(owner: PolicyOwner, policyName: string): Promise<void> {
    await this.ownerExists(owner);
    if (!(await this.store.deletePolicy(owner, policyName))) throw new BerthError('ENTITY_NOT_FOUND', `The ${owner.kind} policy with name ${policyName} cannot be found.`);
  }

  async listPolicies(owner: PolicyOwner): Promise<string[]> {
    await this.ownerExists(owner);
    return this.store.listPolicies(owner);
  }

  /** Pages with IAM's Marker/MaxItems: the marker is the last name of the previous page. */
  private async page<T>(
    fetch: (after: string | undefined, limit: number) => Promise<T[]>,
    o: { marker?: string; maxItems?: number },
    nameOf: (t: T) => string,
  ): Promise<Page<T>> {
    const limit = Math.min(Math.max(o.maxItems ?? 100, 1), 1000);
    const after = o.marker === undefined ? undefined : Buffer.from(o.marker, 'base64url').toString('utf8');
    const rows = await fetch(after, limit + 1);
    const items = rows.slice(0, limit);
    const last = items[items.length - 1];
    return { items, ...(rows.length > limit && last ? { marker: Buffer.from(nameOf(last)).toString('base64url') } : {}) };
  }
}
