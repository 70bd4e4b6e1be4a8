/**
 * IAM query-API handlers: input as decoded from the form, output as the model's shapes.
 * Policy documents come back URL-encoded, as IAM returns them (awscli decodes them).
 */
import { BerthError } from '../../core/errors.js';
import type { AccessKeyRow, IamGroupRow, IamRoleRow, IamUserRow, PolicyOwner } from '../../metadata/identity-types.js';
import type { IdentityService } from '../../services/identity/identity-service.js';
import { groupArn, roleArn, userArn, type Principal } from '../../services/identity/principal.js';

export interface IamCall {
  iam: IdentityService;
  principal: Principal;
  accountId: string;
}

type Input = Record<string, unknown>;
type Handler = (call: IamCall, input: Input) => Promise<Record<string, unknown>>;

const str = (input: Input, k: string): string => input[k] as string;
const opt = (input: Input, k: string): string | undefined => input[k] as string | undefined;

function user(call: IamCall, u: IamUserRow): Record<string, unknown> {
  return { Path: u.path, UserName: u.name, UserId: u.id, Arn: userArn(call.accountId, u.path, u.name), CreateDate: new Date(u.createdAt) };
}

function group(call: IamCall, g: IamGroupRow): Record<string, unknown> {
  return { Path: g.path, GroupName: g.name, GroupId: g.id, Arn: groupArn(call.accountId, g.path, g.name), CreateDate: new Date(g.createdAt) };
}

function role(call: IamCall, r: IamRoleRow): Record<string, unknown> {
  return {
    Path: r.path,
    RoleName: r.name,
    RoleId: r.id,
    Arn: roleArn(call.accountId, r.path, r.name),
    CreateDate: new Date(r.createdAt),
    AssumeRolePolicyDocument: encodeURIComponent(r.trustPolicy),
    ...(r.description !== null ? { Description: r.description } : {}),
    MaxSessionDuration: r.maxSessionSeconds,
  };
}

function keyMetadata(k: AccessKeyRow): Record<string, unknown> {
  return { UserName: k.userName, AccessKeyId: k.id, Status: k.status, CreateDate: new Date(k.createdAt) };
}

/** The user an access-key call is about: the named one, else the caller (who must be a user). */
function targetUser(call: IamCall, input: Input): string {
  const named = opt(input, 'UserName');
  if (named !== undefined) return named;
  if (call.principal.kind === 'user' && call.principal.userName) return call.principal.userName;
  throw new BerthError('INVALID_PARAMETER', "UserName is required: the root account's access key is managed with the registry's configuration, and role sessions have no user");
}

function listing<T>(items: T[], marker: string | undefined, key: string, map: (t: T) => unknown): Record<string, unknown> {
  return { [key]: items.map(map), IsTruncated: marker !== undefined, ...(marker !== undefined ? { Marker: marker } : {}) };
}

const pageArgs = (input: Input): { pathPrefix?: string; marker?: string; maxItems?: number } => ({
  ...(opt(input, 'PathPrefix') !== undefined ? { pathPrefix: str(input, 'PathPrefix') } : {}),
  ...(opt(input, 'Marker') !== undefined ? { marker: str(input, 'Marker') } : {}),
  ...(input.MaxItems !== undefined ? { maxItems: input.MaxItems as number } : {}),
});

function policyHandlers(kind: PolicyOwner['kind'], nameKey: 'UserName' | 'RoleName' | 'GroupName', suffix: 'User' | 'Role' | 'Group'): Record<string, Handler> {
  const owner = (input: Input): PolicyOwner => ({ kind, name: str(input, nameKey) });
  return {
    [`Put${suffix}Policy`]: async (call, input) => {
      await call.iam.putPolicy(owner(input), str(input, 'PolicyName'), str(input, 'PolicyDocument'));
      return {};
    },
    [`Get${suffix}Policy`]: async (call, input) => {
      const doc = await call.iam.getPolicy(owner(input), str(input, 'PolicyName'));
      return { [nameKey]: str(input, nameKey), PolicyName: str(input, 'PolicyName'), PolicyDocument: encodeURIComponent(doc) };
    },
    [`Delete${suffix}Policy`]: async (call, input) => {
      await call.iam.deletePolicy(owner(input), str(input, 'PolicyName'));
      return {};
    },
    [`List${suffix}Policies`]: async (call, input) => ({ PolicyNames: await call.iam.listPolicies(owner(input)), IsTruncated: false }),
  };
}

export const IAM_HANDLERS: Record<string, Handler> = {
  async CreateUser(call, input) {
    return { User: user(call, await call.iam.createUser(str(input, 'UserName'), opt(input, 'Path'))) };
  },
  async GetUser(call, input) {
    const name = opt(input, 'UserName') ?? (call.principal.kind === 'user' ? call.principal.userName : undefined);
    if (name === undefined) {
      // The root principal asking about itself, as IAM answers it.
      return { User: { Path: '/', UserName: 'root', UserId: call.accountId, Arn: call.principal.arn, CreateDate: new Date(0) } };
    }
    return { User: user(call, await call.iam.getUser(name)) };
  },
  async DeleteUser(call, input) {
    await call.iam.deleteUser(str(input, 'UserName'));
    return {};
  },
  async ListUsers(call, input) {
    const page = await call.iam.listUsers(pageArgs(input));
    return listing(page.items, page.marker, 'Users', (u) => user(call, u));
  },
  async CreateAccessKey(call, input) {
    const { row, secretAccessKey } = await call.iam.createAccessKey(targetUser(call, input));
    return { AccessKey: { ...keyMetadata(row), SecretAccessKey: secretAccessKey } };
  },
  async DeleteAccessKey(call, input) {
    await call.iam.deleteAccessKey(targetUser(call, input), str(input, 'AccessKeyId'));
    return {};
  },
  async UpdateAccessKey(call, input) {
    await call.iam.updateAccessKey(targetUser(call, input), str(input, 'AccessKeyId'), str(input, 'Status') as 'Active' | 'Inactive');
    return {};
  },
  async ListAccessKeys(call, input) {
    const keys = await call.iam.listAccessKeys(targetUser(call, input));
    return { AccessKeyMetadata: keys.map(keyMetadata), IsTruncated: false };
  },
  async GetAccessKeyLastUsed(call, input) {
    const k = await call.iam.accessKeyLastUsed(str(input, 'AccessKeyId'));
    return {
      UserName: k.userName,
      AccessKeyLastUsed:
        k.lastUsedAt === null
          ? { ServiceName: 'N/A', Region: 'N/A' }
          : { LastUsedDate: new Date(k.lastUsedAt), ServiceName: k.lastUsedService ?? 'N/A', Region: k.lastUsedRegion ?? 'N/A' },
    };
  },
  async CreateRole(call, input) {
    const r = await call.iam.createRole({
      name: str(input, 'RoleName'),
      trustPolicy: str(input, 'AssumeRolePolicyDocument'),
      ...(opt(input, 'Path') !== undefined ? { path: str(input, 'Path') } : {}),
      ...(opt(input, 'Description') !== undefined ? { description: str(input, 'Description') } : {}),
      ...(input.MaxSessionDuration !== undefined ? { maxSessionSeconds: input.MaxSessionDuration as number } : {}),
    });
    return { Role: role(call, r) };
  },
  async GetRole(call, input) {
    return { Role: role(call, await call.iam.getRole(str(input, 'RoleName'))) };
  },
  async DeleteRole(call, input) {
    await call.iam.deleteRole(str(input, 'RoleName'));
    return {};
  },
  async ListRoles(call, input) {
    const page = await call.iam.listRoles(pageArgs(input));
    return listing(page.items, page.marker, 'Roles', (r) => role(call, r));
  },
  async UpdateAssumeRolePolicy(call, input) {
    await call.iam.updateTrustPolicy(str(input, 'RoleName'), str(input, 'PolicyDocument'));
    return {};
  },
  async CreateGroup(call, input) {
    return { Group: group(call, await call.iam.createGroup(str(input, 'GroupName'), opt(input, 'Path'))) };
  },
  async GetGroup(call, input) {
    const { group: g, users } = await call.iam.getGroup(str(input, 'GroupName'));
    return { Group: group(call, g), Users: users.map((u) => user(call, u)), IsTruncated: false };
  },
  async DeleteGroup(call, input) {
    await call.iam.deleteGroup(str(input, 'GroupName'));
    return {};
  },
  async ListGroups(call, input) {
    const page = await call.iam.listGroups(pageArgs(input));
    return listing(page.items, page.marker, 'Groups', (g) => group(call, g));
  },
  async AddUserToGroup(call, input) {
    await call.iam.addUserToGroup(str(input, 'GroupName'), str(input, 'UserName'));
    return {};
  },
  async RemoveUserFromGroup(call, input) {
    await call.iam.removeUserFromGroup(str(input, 'GroupName'), str(input, 'UserName'));
    return {};
  },
  async ListGroupsForUser(call, input) {
    const groups = await call.iam.groupsForUser(str(input, 'UserName'));
    return { Groups: groups.map((g) => group(call, g)), IsTruncated: false };
  },
  ...policyHandlers('user', 'UserName', 'User'),
  ...policyHandlers('role', 'RoleName', 'Role'),
  ...policyHandlers('group', 'GroupName', 'Group'),
};

/** The IAM resource an action is authorized against (paths are not known before the lookup; `*` paths match). */
export function iamResource(accountId: string, principal: Principal, action: string, input: Input): string {
  const base = `arn:aws:iam::${accountId}:`;
  if (typeof input.RoleName === 'string') return `${base}role/${input.RoleName}`;
  if (typeof input.GroupName === 'string') return `${base}group/${input.GroupName}`;
  if (typeof input.UserName === 'string') return `${base}user/${input.UserName}`;
  if (/^List(Users|Roles|Groups)$/.test(action)) return `${base}${action.slice(4, -1).toLowerCase()}/*`;
  return principal.kind === 'user' && principal.userName ? `${base}user/${principal.userName}` : '*';
}
