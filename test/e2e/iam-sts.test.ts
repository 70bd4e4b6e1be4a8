/**
 * IAM and STS end to end: Debian's `aws` CLI and the AWS SDK for JavaScript v3 create a user
 * and its key, attach a policy, assume a role and use the temporary credentials; the user's
 * registry password works with skopeo for what its policy allows and is refused (403) for
 * the rest; deleting the key ends it at once. OIDC federation: a key pair generated here
 * signs the tokens, the server reads its JWKS from a file, and the role's trust policy
 * conditions on `sub` and `aud`.
 */
import { existsSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { DescribeRepositoriesCommand, ECRClient, GetAuthorizationTokenCommand } from '@aws-sdk/client-ecr';
import {
  AddUserToGroupCommand,
  CreateAccessKeyCommand,
  CreateGroupCommand,
  CreateRoleCommand,
  CreateUserCommand,
  DeleteAccessKeyCommand,
  DeleteUserCommand,
  GetAccessKeyLastUsedCommand,
  GetRoleCommand,
  GetUserPolicyCommand,
  IAMClient,
  ListAccessKeysCommand,
  ListUsersCommand,
  PutGroupPolicyCommand,
  PutRolePolicyCommand,
  PutUserPolicyCommand,
  UpdateAccessKeyCommand,
} from '@aws-sdk/client-iam';
import { AssumeRoleCommand, AssumeRoleWithWebIdentityCommand, GetCallerIdentityCommand, GetSessionTokenCommand, STSClient } from '@aws-sdk/client-sts';
import { SignJWT, exportJWK, generateKeyPair, type CryptoKey } from 'jose';

type KeyLike = CryptoKey;
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { makeTempDir, removeDir, run, which } from '../support/clients.js';
import { writeImageLayout } from '../support/oci-layout.js';
import { TEST_ROOT_CREDENTIALS, dumpServerLogsOnFailure, startBerth, type RunningServer } from '../support/server.js';
import { Skopeo } from '../support/tools.js';

type Creds = { accessKeyId: string; secretAccessKey: string; sessionToken?: string };
const AWS = existsSync('/usr/bin/aws') ? '/usr/bin/aws' : which('aws');
const ISSUER = 'https://ci.example.test';
const ISSUER2 = 'https://tokens.example.test';
const policy = (...statements: object[]): string => JSON.stringify({ Version: '2012-10-17', Statement: statements });

describe('IAM and STS', () => {
  let server: RunningServer;
  let tmp: string;
  let accountId: string;
  let signingKey: KeyLike;
  let jwksServer: Server;
  let jwksFetches = 0;
  const iam = (c: Creds = TEST_ROOT_CREDENTIALS): IAMClient => new IAMClient({ endpoint: server.url, region: 'us-east-1', credentials: { ...c }, maxAttempts: 1 });
  const sts = (c?: Creds): STSClient =>
    new STSClient({ endpoint: server.url, region: 'us-east-1', maxAttempts: 1, ...(c ? { credentials: { ...c } } : { credentials: { accessKeyId: 'unused', secretAccessKey: 'unused' } }) });

  beforeAll(async () => {
    tmp = await makeTempDir('berth-iam-');
    const { publicKey, privateKey } = await generateKeyPair('RS256');
    signingKey = privateKey;
    const jwk = { ...(await exportJWK(publicKey)), kid: 'test-key', alg: 'RS256', use: 'sig' };
    await writeFile(join(tmp, 'jwks.json'), JSON.stringify({ keys: [jwk] }));
    // A second issuer publishes its keys over HTTP (on loopback), as real issuers do.
    jwksServer = createServer((req, res) => {
      jwksFetches++;
      res.writeHead(req.url === '/.well-known/jwks' ? 200 : 404, { 'content-type': 'application/json' }).end(JSON.stringify({ keys: [jwk] }));
    });
    await new Promise<void>((r) => jwksServer.listen(0, '127.0.0.1', r));
    const jwksUrl = `http://127.0.0.1:${(jwksServer.address() as AddressInfo).port}/.well-known/jwks`;
    await writeFile(
      join(tmp, 'berth.json'),
      JSON.stringify({ auth: { oidcProviders: [{ issuer: ISSUER, jwksFile: join(tmp, 'jwks.json') }, { issuer: ISSUER2, jwksUrl, audiences: ['berth'] }] } }),
    );
    server = await startBerth({ target: 'berth', extraArgs: ['--config', join(tmp, 'berth.json')] });
    accountId = (await sts(TEST_ROOT_CREDENTIALS).send(new GetCallerIdentityCommand({}))).Account!;
  });
  afterAll(async () => {
    await server?.stop();
    jwksServer?.close();
    await removeDir(tmp);
  });
  dumpServerLogsOnFailure(() => server);

  it('answers GetCallerIdentity for root, users and role sessions', async () => {
    const root = await sts(TEST_ROOT_CREDENTIALS).send(new GetCallerIdentityCommand({}));
    expect(root).toMatchObject({ Account: accountId, Arn: `arn:aws:iam::${accountId}:root`, UserId: accountId });
    expect(accountId).toMatch(/^\d{12}$/);
  });

  it('manages users, keys, groups, roles and policies through the SDK, with IAM errors', async () => {
    const admin = iam();
    const created = await admin.send(new CreateUserCommand({ UserName: 'sdk-user', Path: '/ci/' }));
    expect(created.User).toMatchObject({ UserName: 'sdk-user', Path: '/ci/', Arn: `arn:aws:iam::${accountId}:user/ci/sdk-user` });
    expect(created.User!.UserId).toMatch(/^AIDA/);
    await expect(admin.send(new CreateUserCommand({ UserName: 'SDK-USER' }))).rejects.toMatchObject({ name: 'EntityAlreadyExistsException' });
    await expect(admin.send(new CreateUserCommand({ UserName: 'bad name!' }))).rejects.toMatchObject({ name: 'ValidationError' });
    await expect(admin.send(new PutUserPolicyCommand({ UserName: 'sdk-user', PolicyName: 'p', PolicyDocument: '{"Version":"2012-10-17","Statement":[{"Effect":"Maybe"}]}' }))).rejects.toMatchObject({
      name: 'MalformedPolicyDocumentException',
      message: expect.stringContaining('Effect'),
    });
    const doc = policy({ Effect: 'Allow', Action: 'ecr:Describe*', Resource: '*' });
    await admin.send(new PutUserPolicyCommand({ UserName: 'sdk-user', PolicyName: 'describe', PolicyDocument: doc }));
    const got = await admin.send(new GetUserPolicyCommand({ UserName: 'sdk-user', PolicyName: 'describe' }));
    expect(decodeURIComponent(got.PolicyDocument!)).toBe(doc);

    const k1 = (await admin.send(new CreateAccessKeyCommand({ UserName: 'sdk-user' }))).AccessKey!;
    expect(k1.AccessKeyId).toMatch(/^AKIA[A-Z2-7]{16}$/);
    expect(k1.SecretAccessKey!.length).toBeGreaterThanOrEqual(40);
    await admin.send(new CreateAccessKeyCommand({ UserName: 'sdk-user' }));
    await expect(admin.send(new CreateAccessKeyCommand({ UserName: 'sdk-user' }))).rejects.toMatchObject({ name: 'LimitExceededException' });
    const listed = await admin.send(new ListAccessKeysCommand({ UserName: 'sdk-user' }));
    expect(listed.AccessKeyMetadata!.map((k) => k.Status)).toEqual(['Active', 'Active']);
    expect(JSON.stringify(listed)).not.toContain(k1.SecretAccessKey!);
    await expect(admin.send(new DeleteUserCommand({ UserName: 'sdk-user' }))).rejects.toMatchObject({ name: 'DeleteConflictException' });

    // The key works, until it is made Inactive.
    const me = await sts({ accessKeyId: k1.AccessKeyId!, secretAccessKey: k1.SecretAccessKey! }).send(new GetCallerIdentityCommand({}));
    expect(me.Arn).toBe(`arn:aws:iam::${accountId}:user/ci/sdk-user`);
    await admin.send(new UpdateAccessKeyCommand({ UserName: 'sdk-user', AccessKeyId: k1.AccessKeyId!, Status: 'Inactive' }));
    await expect(sts({ accessKeyId: k1.AccessKeyId!, secretAccessKey: k1.SecretAccessKey! }).send(new GetCallerIdentityCommand({}))).rejects.toMatchObject({
      name: 'InvalidClientTokenId',
    });

    // A user without IAM permissions may not administer IAM; a group policy gives them that.
    const fresh = await newKey(admin, 'sdk-user');
    await expect(iam(fresh).send(new ListUsersCommand({}))).rejects.toMatchObject({ name: 'AccessDenied' });
    await admin.send(new CreateGroupCommand({ GroupName: 'iam-readers' }));
    await admin.send(new PutGroupPolicyCommand({ GroupName: 'iam-readers', PolicyName: 'list', PolicyDocument: policy({ Effect: 'Allow', Action: 'iam:List*', Resource: '*' }) }));
    await admin.send(new AddUserToGroupCommand({ GroupName: 'iam-readers', UserName: 'sdk-user' }));
    const users = await iam(fresh).send(new ListUsersCommand({ PathPrefix: '/ci/' }));
    expect(users.Users!.map((u) => u.UserName)).toEqual(['sdk-user']);
  });

  /** Replaces the user's inactive key with a new one (a user holds at most two). */
  async function newKey(admin: IAMClient, user: string): Promise<Creds> {
    const keys = await admin.send(new ListAccessKeysCommand({ UserName: user }));
    const inactive = keys.AccessKeyMetadata!.find((k) => k.Status === 'Inactive');
    if (inactive) await admin.send(new DeleteAccessKeyCommand({ UserName: user, AccessKeyId: inactive.AccessKeyId! }));
    const k = (await admin.send(new CreateAccessKeyCommand({ UserName: user }))).AccessKey!;
    return { accessKeyId: k.AccessKeyId!, secretAccessKey: k.SecretAccessKey! };
  }

  it("authorizes a key's last use on the user who owns it, and answers an oversized form body in XML", async () => {
    const admin = iam();
    await admin.send(new CreateUserCommand({ UserName: 'key-owner' }));
    const owned = (await admin.send(new CreateAccessKeyCommand({ UserName: 'key-owner' }))).AccessKey!;
    await admin.send(new CreateUserCommand({ UserName: 'curious' }));
    const doc = policy({ Effect: 'Allow', Action: 'iam:GetAccessKeyLastUsed', Resource: `arn:aws:iam::${accountId}:user/curious` });
    await admin.send(new PutUserPolicyCommand({ UserName: 'curious', PolicyName: 'self', PolicyDocument: doc }));
    const k = (await admin.send(new CreateAccessKeyCommand({ UserName: 'curious' }))).AccessKey!;
    const curious = iam({ accessKeyId: k.AccessKeyId!, secretAccessKey: k.SecretAccessKey! });
    expect((await curious.send(new GetAccessKeyLastUsedCommand({ AccessKeyId: k.AccessKeyId! }))).UserName).toBe('curious');
    await expect(curious.send(new GetAccessKeyLastUsedCommand({ AccessKeyId: owned.AccessKeyId! }))).rejects.toMatchObject({ name: 'AccessDenied' });
    const huge = await fetch(server.url, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: `Action=ListUsers&Pad=${'x'.repeat(1_100_000)}` });
    expect(huge.status).toBe(413);
    expect(await huge.text()).toMatch(/^<ErrorResponse .*<Code>RequestEntityTooLarge<\/Code>/);
  });

  it('assumes a role the trust policy allows and uses its temporary credentials; GetSessionToken for users', async () => {
    const admin = iam();
    await admin.send(new CreateUserCommand({ UserName: 'deployer' }));
    const deployer = (await admin.send(new CreateAccessKeyCommand({ UserName: 'deployer' }))).AccessKey!;
    const deployerCreds = { accessKeyId: deployer.AccessKeyId!, secretAccessKey: deployer.SecretAccessKey! };
    const trust = policy({ Effect: 'Allow', Principal: { AWS: `arn:aws:iam::${accountId}:user/deployer` }, Action: 'sts:AssumeRole' });
    const role = await admin.send(new CreateRoleCommand({ RoleName: 'pusher', AssumeRolePolicyDocument: trust, MaxSessionDuration: 7200 }));
    expect(role.Role!.RoleId).toMatch(/^AROA/);
    expect(decodeURIComponent((await admin.send(new GetRoleCommand({ RoleName: 'pusher' }))).Role!.AssumeRolePolicyDocument!)).toBe(trust);
    await admin.send(new PutRolePolicyCommand({ RoleName: 'pusher', PolicyName: 'login', PolicyDocument: policy({ Effect: 'Allow', Action: 'ecr:GetAuthorizationToken', Resource: '*' }) }));

    const assumed = await sts(deployerCreds).send(new AssumeRoleCommand({ RoleArn: role.Role!.Arn!, RoleSessionName: 'build-42', DurationSeconds: 900 }));
    expect(assumed.AssumedRoleUser!.Arn).toBe(`arn:aws:sts::${accountId}:assumed-role/pusher/build-42`);
    expect(assumed.Credentials!.AccessKeyId).toMatch(/^ASIA/);
    const expiresIn = assumed.Credentials!.Expiration!.getTime() - Date.now();
    expect(expiresIn).toBeGreaterThan(800_000);
    expect(expiresIn).toBeLessThanOrEqual(900_000);
    const temp = { accessKeyId: assumed.Credentials!.AccessKeyId!, secretAccessKey: assumed.Credentials!.SecretAccessKey!, sessionToken: assumed.Credentials!.SessionToken! };
    const who = await sts(temp).send(new GetCallerIdentityCommand({}));
    expect(who).toMatchObject({ Arn: assumed.AssumedRoleUser!.Arn, UserId: `${role.Role!.RoleId}:build-42` });
    // The role's policy is what the session may do: log in, nothing else.
    const ecr = new ECRClient({ endpoint: server.url, region: 'us-east-1', credentials: { ...temp }, maxAttempts: 1 });
    expect((await ecr.send(new GetAuthorizationTokenCommand({}))).authorizationData).toHaveLength(1);
    await expect(ecr.send(new DescribeRepositoriesCommand({ repositoryNames: ['x/y'] }))).rejects.toMatchObject({ name: 'AccessDeniedException' });
    // Without the session token, or with another one, the temporary key is nothing.
    await expect(sts({ ...temp, sessionToken: undefined as unknown as string }).send(new GetCallerIdentityCommand({}))).rejects.toMatchObject({ name: 'InvalidClientTokenId' });

    // Durations outside 15 minutes .. MaxSessionDuration, and callers the trust policy does not name, are refused.
    await expect(sts(deployerCreds).send(new AssumeRoleCommand({ RoleArn: role.Role!.Arn!, RoleSessionName: 's', DurationSeconds: 7201 }))).rejects.toMatchObject({ name: 'ValidationError' });
    await admin.send(new CreateUserCommand({ UserName: 'stranger' }));
    const stranger = (await admin.send(new CreateAccessKeyCommand({ UserName: 'stranger' }))).AccessKey!;
    await expect(
      sts({ accessKeyId: stranger.AccessKeyId!, secretAccessKey: stranger.SecretAccessKey! }).send(new AssumeRoleCommand({ RoleArn: role.Role!.Arn!, RoleSessionName: 'nope' })),
    ).rejects.toMatchObject({ name: 'AccessDenied' });

    const session = await sts(deployerCreds).send(new GetSessionTokenCommand({ DurationSeconds: 3600 }));
    const sessionCreds = { accessKeyId: session.Credentials!.AccessKeyId!, secretAccessKey: session.Credentials!.SecretAccessKey!, sessionToken: session.Credentials!.SessionToken! };
    expect((await sts(sessionCreds).send(new GetCallerIdentityCommand({}))).Arn).toBe(`arn:aws:iam::${accountId}:user/deployer`);
    await expect(sts(temp).send(new GetSessionTokenCommand({}))).rejects.toMatchObject({ name: 'AccessDenied' });
  });

  describe('OIDC federation (AssumeRoleWithWebIdentity)', () => {
    const token = (claims: Record<string, unknown>, o: { issuer?: string; expiresIn?: string; key?: KeyLike } = {}): Promise<string> =>
      new SignJWT(claims)
        .setProtectedHeader({ alg: 'RS256', kid: 'test-key' })
        .setIssuer(o.issuer ?? ISSUER)
        .setIssuedAt()
        .setExpirationTime(o.expiresIn ?? '5m')
        .sign(o.key ?? signingKey);
    let roleArn: string;

    beforeAll(async () => {
      const trust = policy({
        Effect: 'Allow',
        Principal: { Federated: `arn:aws:iam::${accountId}:oidc-provider/ci.example.test` },
        Action: 'sts:AssumeRoleWithWebIdentity',
        Condition: { StringEquals: { 'ci.example.test:aud': 'berth' }, StringLike: { 'ci.example.test:sub': 'repo:acme/*:ref:refs/heads/main' } },
      });
      roleArn = (await iam().send(new CreateRoleCommand({ RoleName: 'ci-pusher', AssumeRolePolicyDocument: trust }))).Role!.Arn!;
      await iam().send(new PutRolePolicyCommand({ RoleName: 'ci-pusher', PolicyName: 'login', PolicyDocument: policy({ Effect: 'Allow', Action: 'ecr:GetAuthorizationToken', Resource: '*' }) }));
    });

    const assume = async (webIdentityToken: string) =>
      sts().send(new AssumeRoleWithWebIdentityCommand({ RoleArn: roleArn, RoleSessionName: 'gha-run', WebIdentityToken: webIdentityToken }));

    it('exchanges a token whose sub and aud the trust policy accepts for registry credentials', async () => {
      const out = await assume(await token({ sub: 'repo:acme/app:ref:refs/heads/main', aud: 'berth' }));
      expect(out).toMatchObject({ SubjectFromWebIdentityToken: 'repo:acme/app:ref:refs/heads/main', Audience: 'berth', Provider: `arn:aws:iam::${accountId}:oidc-provider/ci.example.test` });
      const temp = { accessKeyId: out.Credentials!.AccessKeyId!, secretAccessKey: out.Credentials!.SecretAccessKey!, sessionToken: out.Credentials!.SessionToken! };
      expect((await sts(temp).send(new GetCallerIdentityCommand({}))).Arn).toBe(`arn:aws:sts::${accountId}:assumed-role/ci-pusher/gha-run`);
      const ecr = new ECRClient({ endpoint: server.url, region: 'us-east-1', credentials: { ...temp }, maxAttempts: 1 });
      const login = await ecr.send(new GetAuthorizationTokenCommand({}));
      const password = Buffer.from(login.authorizationData![0]!.authorizationToken!, 'base64').toString().slice(4);
      expect((await fetch(`${server.url.replace('127.0.0.1', 'localhost')}/v2/`, { headers: { authorization: `Basic ${Buffer.from(`AWS:${password}`).toString('base64')}` } })).status).toBe(200);
    });

    it('reads the keys of an issuer from its JWKS URL, and enforces the audiences configured for it', async () => {
      const trust = policy({ Effect: 'Allow', Principal: { Federated: `arn:aws:iam::${accountId}:oidc-provider/tokens.example.test` }, Action: 'sts:AssumeRoleWithWebIdentity' });
      const arn = (await iam().send(new CreateRoleCommand({ RoleName: 'url-issuer', AssumeRolePolicyDocument: trust }))).Role!.Arn!;
      const call = async (aud: string) =>
        sts().send(new AssumeRoleWithWebIdentityCommand({ RoleArn: arn, RoleSessionName: 'url', WebIdentityToken: await token({ sub: 'job-1', aud }, { issuer: ISSUER2 }) }));
      expect((await call('berth')).AssumedRoleUser!.Arn).toBe(`arn:aws:sts::${accountId}:assumed-role/url-issuer/url`);
      expect(jwksFetches).toBeGreaterThan(0);
      await expect(call('someone-else')).rejects.toMatchObject({ name: 'InvalidIdentityTokenException' });
    });

    it('refuses a wrong audience, another subject, an expired token, an unknown issuer and a foreign key', async () => {
      await expect(assume(await token({ sub: 'repo:acme/app:ref:refs/heads/main', aud: 'other' }))).rejects.toMatchObject({ name: 'AccessDenied' });
      await expect(assume(await token({ sub: 'repo:evil/app:ref:refs/heads/main', aud: 'berth' }))).rejects.toMatchObject({ name: 'AccessDenied' });
      await expect(assume(await token({ sub: 'repo:acme/app:ref:refs/heads/main', aud: 'berth' }, { expiresIn: '-5m' }))).rejects.toMatchObject({ name: 'ExpiredTokenException' });
      await expect(assume(await token({ sub: 'repo:acme/app:ref:refs/heads/main', aud: 'berth' }, { issuer: 'https://unknown.example.test' }))).rejects.toMatchObject({
        name: 'InvalidIdentityTokenException',
      });
      const { privateKey: foreign } = await generateKeyPair('RS256');
      await expect(assume(await token({ sub: 'repo:acme/app:ref:refs/heads/main', aud: 'berth' }, { key: foreign }))).rejects.toMatchObject({ name: 'InvalidIdentityTokenException' });
      await expect(assume('not.a.jwt')).rejects.toMatchObject({ name: 'InvalidIdentityTokenException' });
    });
  });

  describe.skipIf(!AWS || !which('skopeo'))(`the aws CLI and skopeo${!AWS ? ' (skipped: the aws CLI is not installed)' : !which('skopeo') ? ' (skipped: skopeo is not on PATH)' : ''}`, () => {
    const env = (c: Creds): NodeJS.ProcessEnv => ({
      ...process.env,
      AWS_ACCESS_KEY_ID: c.accessKeyId,
      AWS_SECRET_ACCESS_KEY: c.secretAccessKey,
      ...(c.sessionToken ? { AWS_SESSION_TOKEN: c.sessionToken } : { AWS_SESSION_TOKEN: '' }),
      AWS_DEFAULT_REGION: 'us-east-1',
      AWS_PAGER: '',
      AWS_CONFIG_FILE: join(tmp, 'aws-config'),
      AWS_SHARED_CREDENTIALS_FILE: join(tmp, 'aws-credentials'),
    });
    const aws = (c: Creds, ...args: string[]) => run(AWS!, ['--endpoint-url', server.url, '--output', 'json', ...args], { env: env(c), timeoutMs: 60_000 });
    const awsJson = async <T>(c: Creds, ...args: string[]): Promise<T> => {
      const r = await aws(c, ...args);
      expect(r.code, r.stderr).toBe(0);
      return JSON.parse(r.stdout) as T;
    };

    it('creates a user, key and policy; the user logs in with skopeo, pushes where allowed and is refused elsewhere; a deleted key ends it', async () => {
      const root = TEST_ROOT_CREDENTIALS;
      await awsJson(root, 'iam', 'create-user', '--user-name', 'ci-bot');
      const key = await awsJson<{ AccessKey: { AccessKeyId: string; SecretAccessKey: string } }>(root, 'iam', 'create-access-key', '--user-name', 'ci-bot');
      const bot = { accessKeyId: key.AccessKey.AccessKeyId, secretAccessKey: key.AccessKey.SecretAccessKey };
      const doc = policy(
        { Effect: 'Allow', Action: 'ecr:GetAuthorizationToken', Resource: '*' },
        { Effect: 'Allow', Action: 'ecr:*', Resource: `arn:aws:ecr:us-east-1:${accountId}:repository/team/*` },
      );
      const put = await aws(root, 'iam', 'put-user-policy', '--user-name', 'ci-bot', '--policy-name', 'push-team', '--policy-document', doc);
      expect(put.code, put.stderr).toBe(0);
      const shown = await awsJson<{ PolicyDocument: unknown }>(root, 'iam', 'get-user-policy', '--user-name', 'ci-bot', '--policy-name', 'push-team');
      expect(shown.PolicyDocument).toEqual(JSON.parse(doc)); // awscli decodes IAM's URL-encoded documents
      const me = await awsJson<{ Arn: string }>(bot, 'sts', 'get-caller-identity');
      expect(me.Arn).toBe(`arn:aws:iam::${accountId}:user/ci-bot`);
      const listed = await awsJson<{ Users: { UserName: string }[] }>(root, 'iam', 'list-users');
      expect(listed.Users.map((u) => u.UserName)).toContain('ci-bot');
      const denied = await aws(bot, 'iam', 'list-users');
      expect(denied.code).not.toBe(0);
      expect(denied.stderr).toContain('AccessDenied');

      const pw = await aws(bot, 'ecr', 'get-login-password');
      expect(pw.code, pw.stderr).toBe(0);
      const skopeo = await Skopeo.create(join(tmp, 'skopeo'));
      const authfile = join(tmp, 'bot-auth.json');
      const login = await skopeo.run(['login', '--tls-verify=false', '--authfile', authfile, '--username', 'AWS', '--password-stdin', server.host], { input: pw.stdout });
      expect(login.code, login.stderr).toBe(0);
      await writeImageLayout(join(tmp, 'img'), { tag: 'v1', layers: [{ files: { 'app.txt': 'pushed by ci-bot' } }] });
      const ok = await skopeo.run(['copy', '--dest-tls-verify=false', '--dest-authfile', authfile, `oci:${join(tmp, 'img')}:v1`, `docker://${server.host}/team/app:v1`]);
      expect(ok.code, ok.stderr).toBe(0);
      const refused = await skopeo.run(['copy', '--dest-tls-verify=false', '--dest-authfile', authfile, `oci:${join(tmp, 'img')}:v1`, `docker://${server.host}/other/app:v1`]);
      expect(refused.code).not.toBe(0);
      expect(refused.stderr).toMatch(/denied|403|unauthorized/i);
      const pulled = await skopeo.run(['inspect', '--tls-verify=false', '--authfile', authfile, `docker://${server.host}/team/app:v1`]);
      expect(pulled.code, pulled.stderr).toBe(0);

      // Deleting the key ends the user's registry password at once.
      const del = await aws(root, 'iam', 'delete-access-key', '--user-name', 'ci-bot', '--access-key-id', bot.accessKeyId);
      expect(del.code, del.stderr).toBe(0);
      const after = await skopeo.run(['inspect', '--tls-verify=false', '--authfile', authfile, `docker://${server.host}/team/app:v1`]);
      expect(after.code).not.toBe(0);
      expect(after.stderr).toMatch(/unauthorized|401|authentication required/i);
      const gone = await aws(bot, 'ecr', 'get-login-password');
      expect(gone.code).not.toBe(0);
    });

    it('assumes a role with the CLI and uses the temporary credentials', async () => {
      const root = TEST_ROOT_CREDENTIALS;
      const trust = policy({ Effect: 'Allow', Principal: { AWS: `arn:aws:iam::${accountId}:root` }, Action: 'sts:AssumeRole' });
      await awsJson(root, 'iam', 'create-role', '--role-name', 'cli-role', '--assume-role-policy-document', trust);
      const out = await awsJson<{ Credentials: { AccessKeyId: string; SecretAccessKey: string; SessionToken: string }; AssumedRoleUser: { Arn: string } }>(
        root,
        'sts',
        'assume-role',
        '--role-arn',
        `arn:aws:iam::${accountId}:role/cli-role`,
        '--role-session-name',
        'cli',
      );
      const temp = { accessKeyId: out.Credentials.AccessKeyId, secretAccessKey: out.Credentials.SecretAccessKey, sessionToken: out.Credentials.SessionToken };
      const who = await awsJson<{ Arn: string }>(temp, 'sts', 'get-caller-identity');
      expect(who.Arn).toBe(`arn:aws:sts::${accountId}:assumed-role/cli-role/cli`);
      // The role has no policy: the session may do nothing in ECR.
      const r = await aws(temp, 'ecr', 'describe-repositories');
      expect(r.code).toBe(0); // a listing is filtered, not refused
      expect(JSON.parse(r.stdout)).toEqual({ repositories: [] });
      const create = await aws(temp, 'ecr', 'create-repository', '--repository-name', 'cli-role/x');
      expect(create.code).not.toBe(0);
      expect(create.stderr).toContain('AccessDeniedException');
    });
  });
});
