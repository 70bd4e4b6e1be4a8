/**
 * IdentityStore: users, groups, roles, their inline policies and users' access keys (the
 * IAM part of the metadata database). Names are unique regardless of case, as in IAM
 * ("Bob" and "bob" cannot both exist); lookups are by exact name. Secrets are stored only
 * sealed (see services/access/secret-box.ts); the store never sees a plain secret.
 */

export interface IamUserRow {
  name: string;
  /** IAM's unique id (AIDA...), never reused: a re-created user is another principal. */
  id: string;
  path: string;
  createdAt: number;
}

export type IamGroupRow = IamUserRow;

export interface IamRoleRow {
  name: string;
  /** AROA...; a role deleted and re-created gets a new id, which ends the old one's sessions. */
  id: string;
  path: string;
  trustPolicy: string;
  description: string | null;
  maxSessionSeconds: number;
  createdAt: number;
}

export type AccessKeyStatus = 'Active' | 'Inactive';

export interface AccessKeyRow {
  id: string;
  userName: string;
  sealedSecret: string;
  status: AccessKeyStatus;
  createdAt: number;
  lastUsedAt: number | null;
  lastUsedService: string | null;
  lastUsedRegion: string | null;
}

export type PolicyOwnerKind = 'user' | 'group' | 'role';

export interface PolicyOwner {
  kind: PolicyOwnerKind;
  name: string;
}

export interface NamePage {
  /** Return names strictly after this one (byte-wise order). */
  after?: string;
  limit: number;
  /** Only entities whose path starts with this. */
  pathPrefix?: string;
}

export interface IdentityStore {
  /** False when a user of that name (in any case) exists. */
  createUser(row: IamUserRow): Promise<boolean>;
  getUser(name: string): Promise<IamUserRow | null>;
  listUsers(page: NamePage): Promise<IamUserRow[]>;
  deleteUser(name: string): Promise<boolean>;

  createGroup(row: IamGroupRow): Promise<boolean>;
  getGroup(name: string): Promise<IamGroupRow | null>;
  listGroups(page: NamePage): Promise<IamGroupRow[]>;
  deleteGroup(name: string): Promise<boolean>;
  /** Idempotent. */
  addMember(group: string, user: string): Promise<void>;
  removeMember(group: string, user: string): Promise<boolean>;
  groupsOf(user: string): Promise<string[]>;
  membersOf(group: string): Promise<string[]>;

  createRole(row: IamRoleRow): Promise<boolean>;
  getRole(name: string): Promise<IamRoleRow | null>;
  listRoles(page: NamePage): Promise<IamRoleRow[]>;
  deleteRole(name: string): Promise<boolean>;
  updateTrustPolicy(name: string, document: string): Promise<boolean>;

  /** Creates or replaces the inline policy. */
  putPolicy(owner: PolicyOwner, policyName: string, document: string): Promise<void>;
  getPolicy(owner: PolicyOwner, policyName: string): Promise<string | null>;
  deletePolicy(owner: PolicyOwner, policyName: string): Promise<boolean>;
  listPolicies(owner: PolicyOwner): Promise<string[]>;
  /** Every inline policy that applies to a user (its own and its groups'), in one query. */
  policiesOfUser(user: string): Promise<{ owner: PolicyOwner; policyName: string; document: string }[]>;

  createAccessKey(row: AccessKeyRow): Promise<void>;
  getAccessKey(id: string): Promise<AccessKeyRow | null>;
  listAccessKeys(user: string): Promise<AccessKeyRow[]>;
  setAccessKeyStatus(id: string, status: AccessKeyStatus): Promise<boolean>;
  deleteAccessKey(id: string): Promise<boolean>;
  recordKeyUse(id: string, at: number, service: string, region: string): Promise<void>;
}
