/**
 * `berth admin ...`: users, access keys, groups, roles and their inline policies, through the
 * running Berth's IAM API (the same calls `aws iam --endpoint-url` makes), signed with the
 * usual AWS credentials (the root key is in <dataDir>/root-credentials).
 */
import { readFileSync } from 'node:fs';
import { Command, Option } from 'commander';
import type { IAMClient } from '@aws-sdk/client-iam';
import { DEFAULT_CREDENTIALS, DEFAULT_REGION, commandGroup, describeError, normalizeEndpoint, withGlobalOptions, type GlobalOptions } from './client.js';
import { printJson, printTable, timestamp } from './format.js';

type IamSdk = typeof import('@aws-sdk/client-iam');
type Work = (iam: IAMClient, sdk: IamSdk, args: string[], opts: Record<string, unknown>, json: boolean) => Promise<void>;

function action(work: Work): (...args: unknown[]) => Promise<void> {
  return async (...args: unknown[]) => {
    const cmd = args[args.length - 1] as Command;
    const opts = cmd.opts<GlobalOptions & Record<string, unknown>>();
    const endpoint = normalizeEndpoint(cmd, opts.endpoint);
    process.env['AWS_EC2_METADATA_DISABLED'] ??= 'true';
    process.env['AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED'] ??= 'true';
    const sdk: IamSdk = await import('@aws-sdk/client-iam');
    const region = opts.region || process.env['AWS_REGION'] || DEFAULT_REGION;
    const hasCredentials = (process.env['AWS_ACCESS_KEY_ID'] ?? '') !== '' || (process.env['AWS_PROFILE'] ?? '') !== '';
    const iam = new sdk.IAMClient({ endpoint, region, maxAttempts: 1, ...(hasCredentials ? {} : { credentials: { ...DEFAULT_CREDENTIALS } }) });
    try {
      await work(iam, sdk, cmd.args, opts, opts.output === 'json');
      process.exitCode = 0;
    } catch (err) {
      process.stderr.write(`berth: ${describeError(err, endpoint)}\n`);
      process.exitCode = 1;
    } finally {
      iam.destroy();
    }
  };
}

function leaf(name: string, description: string, args: string[], work: Work, options: Option[] = []): Command {
  const cmd = new Command(name).description(description);
  for (const a of args) cmd.argument(a);
  for (const o of options) cmd.addOption(o);
  withGlobalOptions(cmd);
  return cmd.action(action(work));
}

const ownerKinds = ['user', 'group', 'role'] as const;
type OwnerKind = (typeof ownerKinds)[number];

function ownerParams(kind: string, name: string): Record<string, string> {
  if (!ownerKinds.includes(kind as OwnerKind)) throw new Error(`the owner kind must be one of ${ownerKinds.join(', ')}, not ${kind}`);
  return { [`${kind[0]!.toUpperCase()}${kind.slice(1)}Name`]: name };
}

function policyCommand(sdk: IamSdk, verb: 'Put' | 'Get' | 'Delete' | 'List', kind: OwnerKind, input: Record<string, string>): Parameters<IAMClient['send']>[0] {
  const suffix = kind === 'user' ? 'User' : kind === 'group' ? 'Group' : 'Role';
  const name = `${verb}${suffix}${verb === 'List' ? 'Policies' : 'Policy'}Command` as keyof IamSdk;
  const Ctor = sdk[name] as unknown as new (i: Record<string, string>) => Parameters<IAMClient['send']>[0];
  return new Ctor(input);
}

export function registerAdminCommands(program: Command): void {
  const admin = commandGroup(program, 'admin', 'users, access keys, groups, roles and policies of a running Berth (IAM API)');
  const group = (name: string, description: string, leaves: Command[]): void => {
    const g = admin.command(name).description(description);
    for (const l of leaves) g.addCommand(l.copyInheritedSettings(admin));
  };

  group('users', 'IAM users', [
    leaf('create', 'create a user', ['<name>'], async (iam, sdk, [name], opts, json) => {
      const out = await iam.send(new sdk.CreateUserCommand({ UserName: name!, ...(opts.path ? { Path: opts.path as string } : {}) }));
      if (json) printJson(out.User);
      else printTable(['USER', 'ARN', 'CREATED'], [[out.User!.UserName!, out.User!.Arn!, timestamp(out.User!.CreateDate)]]);
    }, [new Option('--path <path>', 'IAM path, e.g. /ci/')]),
    leaf('list', 'list users', [], async (iam, sdk, _args, _opts, json) => {
      const users = [];
      let marker: string | undefined;
      do {
        const out = await iam.send(new sdk.ListUsersCommand({ ...(marker ? { Marker: marker } : {}) }));
        users.push(...(out.Users ?? []));
        marker = out.IsTruncated ? out.Marker : undefined;
      } while (marker);
      if (json) printJson(users);
      else printTable(['USER', 'ARN', 'CREATED'], users.map((u) => [u.UserName!, u.Arn!, timestamp(u.CreateDate)]));
    }),
    leaf('delete', 'delete a user (its keys, policies and group memberships must go first)', ['<name>'], async (iam, sdk, [name]) => {
      await iam.send(new sdk.DeleteUserCommand({ UserName: name! }));
      process.stdout.write(`deleted user ${name}\n`);
    }),
  ]);

  group('keys', 'access keys of users (at most two each, for rotation)', [
    leaf('create', 'create an access key; the secret is shown only now', ['<user>'], async (iam, sdk, [user], _opts, json) => {
      const k = (await iam.send(new sdk.CreateAccessKeyCommand({ UserName: user! }))).AccessKey!;
      if (json) printJson(k);
      else process.stdout.write(`AWS_ACCESS_KEY_ID=${k.AccessKeyId}\nAWS_SECRET_ACCESS_KEY=${k.SecretAccessKey}\n(the secret is not shown again)\n`);
    }),
    leaf('list', "list a user's keys with their last use", ['<user>'], async (iam, sdk, [user], _opts, json) => {
      const keys = (await iam.send(new sdk.ListAccessKeysCommand({ UserName: user! }))).AccessKeyMetadata ?? [];
      const used = await Promise.all(keys.map((k) => iam.send(new sdk.GetAccessKeyLastUsedCommand({ AccessKeyId: k.AccessKeyId! }))));
      const rows = keys.map((k, i) => ({ ...k, LastUsed: used[i]!.AccessKeyLastUsed }));
      if (json) printJson(rows);
      else printTable(['KEY', 'STATUS', 'CREATED', 'LAST USED', 'SERVICE'], rows.map((k) => [k.AccessKeyId!, k.Status!, timestamp(k.CreateDate), timestamp(k.LastUsed?.LastUsedDate), k.LastUsed?.ServiceName ?? '-']));
    }),
    leaf('delete', 'delete an access key (it stops working at once)', ['<user>', '<key-id>'], async (iam, sdk, [user, id]) => {
      await iam.send(new sdk.DeleteAccessKeyCommand({ UserName: user!, AccessKeyId: id! }));
      process.stdout.write(`deleted key ${id}\n`);
    }),
    leaf('deactivate', 'make an access key Inactive', ['<user>', '<key-id>'], async (iam, sdk, [user, id]) => {
      await iam.send(new sdk.UpdateAccessKeyCommand({ UserName: user!, AccessKeyId: id!, Status: 'Inactive' }));
      process.stdout.write(`key ${id} is Inactive\n`);
    }),
    leaf('activate', 'make an access key Active again', ['<user>', '<key-id>'], async (iam, sdk, [user, id]) => {
      await iam.send(new sdk.UpdateAccessKeyCommand({ UserName: user!, AccessKeyId: id!, Status: 'Active' }));
      process.stdout.write(`key ${id} is Active\n`);
    }),
  ]);

  group('groups', 'IAM groups', [
    leaf('create', 'create a group', ['<name>'], async (iam, sdk, [name]) => {
      const g = (await iam.send(new sdk.CreateGroupCommand({ GroupName: name! }))).Group!;
      process.stdout.write(`${g.Arn}\n`);
    }),
    leaf('add-user', 'add a user to a group', ['<group>', '<user>'], async (iam, sdk, [g, u]) => {
      await iam.send(new sdk.AddUserToGroupCommand({ GroupName: g!, UserName: u! }));
    }),
    leaf('remove-user', 'remove a user from a group', ['<group>', '<user>'], async (iam, sdk, [g, u]) => {
      await iam.send(new sdk.RemoveUserFromGroupCommand({ GroupName: g!, UserName: u! }));
    }),
  ]);

  group('roles', 'IAM roles', [
    leaf('create', 'create a role with a trust policy', ['<name>'], async (iam, sdk, [name], opts, json) => {
      const r = (
        await iam.send(
          new sdk.CreateRoleCommand({
            RoleName: name!,
            AssumeRolePolicyDocument: readFileSync(opts.trust as string, 'utf8'),
            ...(opts.maxSessionSeconds ? { MaxSessionDuration: Number(opts.maxSessionSeconds) } : {}),
          }),
        )
      ).Role!;
      if (json) printJson(r);
      else process.stdout.write(`${r.Arn}\n`);
    }, [new Option('--trust <file>', 'trust policy document (JSON)').makeOptionMandatory(), new Option('--max-session-seconds <n>', '3600 to 43200')]),
    leaf('list', 'list roles', [], async (iam, sdk, _a, _o, json) => {
      const roles = (await iam.send(new sdk.ListRolesCommand({}))).Roles ?? [];
      if (json) printJson(roles);
      else printTable(['ROLE', 'ARN', 'MAX SESSION'], roles.map((r) => [r.RoleName!, r.Arn!, `${r.MaxSessionDuration}s`]));
    }),
    leaf('delete', 'delete a role (its policies must go first)', ['<name>'], async (iam, sdk, [name]) => {
      await iam.send(new sdk.DeleteRoleCommand({ RoleName: name! }));
    }),
  ]);

  group('policies', 'inline policies of users, groups and roles', [
    leaf('put', 'attach or replace an inline policy', ['<user|group|role>', '<name>', '<policy-name>'], async (iam, sdk, [kind, name, policy], opts) => {
      await iam.send(policyCommand(sdk, 'Put', kind as OwnerKind, { ...ownerParams(kind!, name!), PolicyName: policy!, PolicyDocument: readFileSync(opts.file as string, 'utf8') }));
      process.stdout.write(`${kind} ${name}: policy ${policy} stored\n`);
    }, [new Option('-f, --file <file>', 'policy document (JSON)').makeOptionMandatory()]),
    leaf('get', 'print an inline policy', ['<user|group|role>', '<name>', '<policy-name>'], async (iam, sdk, [kind, name, policy]) => {
      const out = (await iam.send(policyCommand(sdk, 'Get', kind as OwnerKind, { ...ownerParams(kind!, name!), PolicyName: policy! }))) as { PolicyDocument?: string };
      printJson(JSON.parse(decodeURIComponent(out.PolicyDocument ?? '{}')));
    }),
    leaf('list', 'list inline policies', ['<user|group|role>', '<name>'], async (iam, sdk, [kind, name]) => {
      const out = (await iam.send(policyCommand(sdk, 'List', kind as OwnerKind, ownerParams(kind!, name!)))) as { PolicyNames?: string[] };
      for (const n of out.PolicyNames ?? []) process.stdout.write(`${n}\n`);
    }),
    leaf('delete', 'delete an inline policy', ['<user|group|role>', '<name>', '<policy-name>'], async (iam, sdk, [kind, name, policy]) => {
      await iam.send(policyCommand(sdk, 'Delete', kind as OwnerKind, { ...ownerParams(kind!, name!), PolicyName: policy! }));
    }),
  ]);
}
