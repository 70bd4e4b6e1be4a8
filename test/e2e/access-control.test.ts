/**
 * Access control against a real server, table-driven: every /v2/ operation and a set of ECR
 * API operations × {anonymous, valid but unauthorized, allowed, explicitly denied, expired
 * token, token signed with another key, tampered signature, deleted key}, with the status
 * each cell must answer. Users, keys and policies are created through the IAM API
 * (@aws-sdk/client-iam); registry passwords come from GetAuthorizationToken. Also: a
 * repository policy that alone grants, a repository-policy Deny that beats an identity
 * Allow, anonymous pulls from a public repository, mounts that need read access to the
 * source, and the catalog filtered to what the caller may see.
 */
import { createHash, createHmac, randomBytes } from 'node:crypto';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import {
  BatchGetImageCommand,
  CreateRepositoryCommand,
  DescribeRepositoriesCommand,
  ECRClient,
  GetAuthorizationTokenCommand,
  ListImagesCommand,
  SetRepositoryPolicyCommand,
} from '@aws-sdk/client-ecr';
import { CreateAccessKeyCommand, CreateUserCommand, DeleteAccessKeyCommand, IAMClient, PutUserPolicyCommand } from '@aws-sdk/client-iam';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TEST_ROOT_CREDENTIALS, dumpServerLogsOnFailure, startBerth, type RunningServer } from '../support/server.js';

const sha256 = (b: Buffer | string): string => `sha256:${createHash('sha256').update(b).digest('hex')}`;
const OCI_MANIFEST = 'application/vnd.oci.image.manifest.v1+json';
type Keys = { accessKeyId: string; secretAccessKey: string };

const statement = (effect: 'Allow' | 'Deny', action: string | string[], resource: string | string[]) => ({ Effect: effect, Action: action, Resource: resource });
const policy = (...statements: object[]): string => JSON.stringify({ Version: '2012-10-17', Statement: statements });
const LOGIN = statement('Allow', 'ecr:GetAuthorizationToken', '*');
const READ = ['ecr:BatchGetImage', 'ecr:GetDownloadUrlForLayer', 'ecr:BatchCheckLayerAvailability', 'ecr:ListImages', 'ecr:DescribeRepositories'];

describe('access control: who may do what, on /v2/ and the ECR API', () => {
  let server: RunningServer;
  let iam: IAMClient;
  let accountId: string;
  const repoArn = (pattern: string): string => `arn:aws:ecr:us-east-1:${accountId}:repository/${pattern}`;
  const keys = new Map<string, Keys>();
  const tokens = new Map<string, string>();
  let image: { digest: string; body: string; layer: string };

  const ecr = (k: Keys, extra: Partial<ConstructorParameters<typeof ECRClient>[0]> = {}): ECRClient =>
    new ECRClient({ endpoint: server.url, region: 'us-east-1', credentials: { ...k }, maxAttempts: 1, ...extra });

  /** /v2/ with an explicit Authorization (none: anonymous, sent to `localhost` so no test login is added). */
  const v2 = (path: string, o: { method?: string; authorization?: string; body?: string; headers?: Record<string, string> } = {}): Promise<Response> => {
    const base = o.authorization === undefined ? server.url.replace('127.0.0.1', 'localhost') : server.url;
    return fetch(`${base}${path}`, {
      method: o.method ?? 'GET',
      headers: { ...(o.authorization !== undefined ? { authorization: o.authorization } : {}), ...o.headers },
      ...(o.body !== undefined ? { body: o.body } : {}),
    });
  };
  const basic = (token: string): string => `Basic ${Buffer.from(`AWS:${token}`).toString('base64')}`;

  async function loginPassword(k: Keys): Promise<string> {
    const out = await ecr(k).send(new GetAuthorizationTokenCommand({}));
    return Buffer.from(out.authorizationData![0]!.authorizationToken!, 'base64').toString('utf8').slice(4);
  }

  async function user(name: string, doc: string | null): Promise<Keys> {
    await iam.send(new CreateUserCommand({ UserName: name }));
    if (doc) await iam.send(new PutUserPolicyCommand({ UserName: name, PolicyName: 'p', PolicyDocument: doc }));
    const k = (await iam.send(new CreateAccessKeyCommand({ UserName: name }))).AccessKey!;
    const out = { accessKeyId: k.AccessKeyId!, secretAccessKey: k.SecretAccessKey! };
    keys.set(name, out);
    return out;
  }

  async function pushAsRoot(repo: string, tag: string): Promise<{ digest: string; body: string; layer: string }> {
    const config = `{"architecture":"amd64","os":"linux","repo":"${repo}"}`;
    const layer = `layer of ${repo} ${randomBytes(4).toString('hex')}`;
    for (const blob of [config, layer]) {
      const r = await fetch(`${server.url}/v2/${repo}/blobs/uploads/?digest=${sha256(blob)}`, { method: 'POST', body: blob });
      expect(r.status).toBe(201);
    }
    const body = JSON.stringify({
      schemaVersion: 2,
      mediaType: OCI_MANIFEST,
      config: { mediaType: 'application/vnd.oci.image.config.v1+json', digest: sha256(config), size: config.length },
      layers: [{ mediaType: 'application/vnd.oci.image.layer.v1.tar', digest: sha256(layer), size: layer.length }],
    });
    const r = await fetch(`${server.url}/v2/${repo}/manifests/${tag}`, { method: 'PUT', body, headers: { 'content-type': OCI_MANIFEST } });
    expect(r.status).toBe(201);
    return { digest: sha256(body), body, layer: sha256(layer) };
  }

  /** A login token made with the server's own key (read from its database) or another key. */
  function forgeToken(payload: object, key: Buffer): string {
    const body = Buffer.from(JSON.stringify(payload)).toString('base64url');
    return `${body}.${createHmac('sha256', key).update(`login\n${body}`).digest('base64url')}`;
  }

  beforeAll(async () => {
    // Failed logins are part of the table; the slow-down has its own test (last below).
    server = await startBerth({ target: 'berth', env: { BERTH_AUTH__FAILED_AUTH_FREE_PER_MINUTE: '100000' } });
    iam = new IAMClient({ endpoint: server.url, region: 'us-east-1', credentials: { ...TEST_ROOT_CREDENTIALS } });
    const repo = (await ecr(TEST_ROOT_CREDENTIALS).send(new CreateRepositoryCommand({ repositoryName: 'authz/app' }))).repository!;
    accountId = repo.registryId!;
    image = await pushAsRoot('authz/app', 'v1');
    await pushAsRoot('other/app', 'v1');

    await user('nobody', policy(LOGIN));
    await user('reader', policy(LOGIN, statement('Allow', READ, repoArn('authz/*'))));
    await user('writer', policy(LOGIN, statement('Allow', 'ecr:*', repoArn('authz/*'))));
    await user('denied', policy(LOGIN, statement('Allow', 'ecr:*', '*'), statement('Deny', 'ecr:*', repoArn('authz/*'))));
    await user('gone', policy(LOGIN, statement('Allow', 'ecr:*', '*')));
    for (const name of keys.keys()) tokens.set(name, await loginPassword(keys.get(name)!));
    // A deleted key: its password stops working at once.
    await iam.send(new DeleteAccessKeyCommand({ UserName: 'gone', AccessKeyId: keys.get('gone')!.accessKeyId }));

    const db = new Database(join(server.dataDir, 'berth.db'), { readonly: true });
    const tokenKey = Buffer.from((db.prepare(`select value from registry_settings where key = 'token-key'`).get() as { value: string }).value, 'hex');
    db.close();
    const writer = keys.get('writer')!;
    const ref = { t: 'u', n: 'writer', i: '', a: writer.accessKeyId };
    // The real user id is in the token the server issued; copy its payload and change only what the cell is about.
    const issued = JSON.parse(Buffer.from(tokens.get('writer')!.split('.')[0]!, 'base64url').toString('utf8')) as { c: typeof ref; exp: number };
    tokens.set('expired', forgeToken({ c: issued.c, exp: Date.now() - 1000 }, tokenKey));
    tokens.set('other-key', forgeToken({ c: issued.c, exp: issued.exp }, randomBytes(32)));
    const real = tokens.get('writer')!;
    tokens.set('tampered', `${real.slice(0, -2)}${real.endsWith('AA') ? 'BB' : 'AA'}`);
  });
  afterAll(async () => {
    iam?.destroy();
    await server?.stop();
  });
  dumpServerLogsOnFailure(() => server);

  type Who = 'anonymous' | 'nobody' | 'reader' | 'writer' | 'denied' | 'expired' | 'other-key' | 'tampered' | 'gone';
  const WHO: Who[] = ['anonymous', 'nobody', 'reader', 'writer', 'denied', 'expired', 'other-key', 'tampered', 'gone'];
  const BAD_CREDENTIALS: Who[] = ['expired', 'other-key', 'tampered', 'gone'];

  interface Cell {
    name: string;
    method: string;
    path: () => string;
    body?: () => string;
    headers?: Record<string, string>;
    /** Status for an allowed caller; `reads` marks what the reader may do; `anyCaller` routes need only a login. */
    ok: number;
    reads?: boolean;
    anyCaller?: boolean;
  }
  const CELLS: Cell[] = [
    { name: 'version check', method: 'GET', path: () => '/v2/', ok: 200, anyCaller: true },
    { name: 'catalog', method: 'GET', path: () => '/v2/_catalog', ok: 200, anyCaller: true },
    { name: 'tag list', method: 'GET', path: () => '/v2/authz/app/tags/list', ok: 200, reads: true },
    { name: 'manifest GET', method: 'GET', path: () => '/v2/authz/app/manifests/v1', ok: 200, reads: true, headers: { accept: OCI_MANIFEST } },
    { name: 'manifest HEAD', method: 'HEAD', path: () => `/v2/authz/app/manifests/${image.digest}`, ok: 200, reads: true },
    { name: 'blob GET', method: 'GET', path: () => `/v2/authz/app/blobs/${image.layer}`, ok: 200, reads: true },
    { name: 'blob HEAD', method: 'HEAD', path: () => `/v2/authz/app/blobs/${image.layer}`, ok: 200, reads: true },
    { name: 'referrers', method: 'GET', path: () => `/v2/authz/app/referrers/${image.digest}`, ok: 200, reads: true },
    { name: 'upload start', method: 'POST', path: () => '/v2/authz/app/blobs/uploads/', ok: 202 },
    { name: 'manifest PUT', method: 'PUT', path: () => '/v2/authz/app/manifests/copy', body: () => image.body, headers: { 'content-type': OCI_MANIFEST }, ok: 201 },
    { name: 'tag DELETE', method: 'DELETE', path: () => '/v2/authz/app/manifests/copy', ok: 202 },
  ];

  function expected(who: Who, cell: Cell): number {
    if (who === 'anonymous' || BAD_CREDENTIALS.includes(who)) return 401;
    if (cell.anyCaller || who === 'writer') return cell.ok;
    if (who === 'reader' && cell.reads) return cell.ok;
    return 403;
  }

  it.each(WHO)('/v2/ as %s: every operation answers the expected status', async (who) => {
    const authorization = who === 'anonymous' ? undefined : basic(tokens.get(who)!);
    const got: string[] = [];
    const want: string[] = [];
    for (const cell of CELLS) {
      // The tag DELETE needs the tag the PUT made; for callers who may not PUT, root makes it.
      if (cell.name === 'tag DELETE' && expected(who, CELLS.find((c) => c.name === 'manifest PUT')!) !== 201) {
        await fetch(`${server.url}/v2/authz/app/manifests/copy`, { method: 'PUT', body: image.body, headers: { 'content-type': OCI_MANIFEST } });
      }
      const r = await v2(cell.path(), { method: cell.method, ...(authorization ? { authorization } : {}), ...(cell.body ? { body: cell.body() } : {}), ...(cell.headers ? { headers: cell.headers } : {}) });
      await r.arrayBuffer();
      got.push(`${cell.name}: ${r.status}`);
      want.push(`${cell.name}: ${expected(who, cell)}`);
      if (r.status === 401) expect(r.headers.get('www-authenticate'), cell.name).toMatch(/^Basic realm="http:\/\/[^"]+",service="berth"$/);
      if (r.status === 403 && cell.method !== 'HEAD') expect(r.headers.get('content-type')).toContain('application/json');
    }
    expect(got).toEqual(want);
  });

  it('filters the catalog to the repositories the caller may see', async () => {
    const names = async (who: Who): Promise<string[]> =>
      ((await (await v2('/v2/_catalog', { authorization: basic(tokens.get(who)!) })).json()) as { repositories: string[] }).repositories;
    expect(await names('writer')).toEqual(['authz/app']);
    expect(await names('denied')).toEqual(['other/app']);
    expect(await names('nobody')).toEqual([]);
    const root = ((await (await fetch(`${server.url}/v2/_catalog`)).json()) as { repositories: string[] }).repositories;
    expect(root).toEqual(expect.arrayContaining(['authz/app', 'other/app']));
  });

  it.each([
    ['root', 'allowed'],
    ['writer', 'allowed'],
    ['reader', 'read-only'],
    ['nobody', 'denied'],
    ['denied', 'denied'],
    ['gone', 'unrecognized'],
    ['wrong-secret', 'unrecognized'],
    ['skewed-clock', 'unrecognized'],
    ['anonymous', 'unrecognized'],
  ] as const)('the ECR API as %s: %s', async (who, outcome) => {
    const calls: [string, (c: ECRClient) => Promise<unknown>, boolean][] = [
      ['DescribeRepositories', (c) => c.send(new DescribeRepositoriesCommand({ repositoryNames: ['authz/app'] })), true],
      ['BatchGetImage', (c) => c.send(new BatchGetImageCommand({ repositoryName: 'authz/app', imageIds: [{ imageTag: 'v1' }] })), true],
      ['ListImages', (c) => c.send(new ListImagesCommand({ repositoryName: 'authz/app' })), true],
      ['CreateRepository', (c) => c.send(new CreateRepositoryCommand({ repositoryName: `authz/made-by-${who}` })), false],
    ];
    for (const [name, call, isRead] of calls) {
      let result: string;
      if (who === 'anonymous') {
        const r = await fetch(server.url, { method: 'POST', headers: { 'content-type': 'application/x-amz-json-1.1', 'x-amz-target': `AmazonEC2ContainerRegistry_V20150921.${name}` }, body: '{}' });
        result = r.status === 200 ? 'ok' : ((await r.json()) as { __type: string }).__type;
      } else {
        const k =
          who === 'root' ? TEST_ROOT_CREDENTIALS : who === 'wrong-secret' ? { ...keys.get('writer')!, secretAccessKey: 'x'.repeat(40) } : who === 'skewed-clock' ? keys.get('writer')! : keys.get(who)!;
        const client = ecr(k, who === 'skewed-clock' ? { systemClockOffset: -20 * 60 * 1000 } : {});
        result = await call(client).then(
          () => 'ok',
          (err: { name: string }) => err.name,
        );
        client.destroy();
      }
      const want =
        outcome === 'allowed' ? 'ok' : outcome === 'read-only' ? (isRead ? 'ok' : 'AccessDeniedException') : outcome === 'denied' ? 'AccessDeniedException' : 'UnrecognizedClientException';
      expect(`${name}: ${result}`).toBe(`${name}: ${want}`);
    }
  });

  it('lets a repository policy alone grant access, and its Deny beat an identity Allow', async () => {
    const root = ecr(TEST_ROOT_CREDENTIALS);
    await pushAsRoot('authz/shared', 'v1');
    const nobodyArn = `arn:aws:iam::${accountId}:user/nobody`;
    const writerArn = `arn:aws:iam::${accountId}:user/writer`;
    await root.send(
      new SetRepositoryPolicyCommand({
        repositoryName: 'authz/shared',
        policyText: JSON.stringify({
          Version: '2012-10-17',
          Statement: [
            { Sid: 'nobody-may-pull', Effect: 'Allow', Principal: { AWS: nobodyArn }, Action: ['ecr:BatchGetImage', 'ecr:GetDownloadUrlForLayer'] },
            { Sid: 'writer-may-not-push', Effect: 'Deny', Principal: { AWS: writerArn }, Action: 'ecr:PutImage' },
          ],
        }),
      }),
    );
    const manifest = await v2('/v2/authz/shared/manifests/v1', { authorization: basic(tokens.get('nobody')!), headers: { accept: OCI_MANIFEST } });
    expect(manifest.status).toBe(200);
    const body = await manifest.text();
    expect((await v2('/v2/authz/shared/manifests/v1', { method: 'PUT', authorization: basic(tokens.get('nobody')!), body, headers: { 'content-type': OCI_MANIFEST } })).status).toBe(403);
    const denied = await v2('/v2/authz/shared/manifests/v2', { method: 'PUT', authorization: basic(tokens.get('writer')!), body, headers: { 'content-type': OCI_MANIFEST } });
    expect(denied.status).toBe(403);
    expect(((await denied.json()) as { errors: { code: string; message: string }[] }).errors[0]).toMatchObject({ code: 'DENIED', message: expect.stringContaining('explicit deny') });
    // The writer's other rights on the repository are untouched by the Deny.
    expect((await v2('/v2/authz/shared/tags/list', { authorization: basic(tokens.get('writer')!) })).status).toBe(200);
    root.destroy();
  });

  it('serves anonymous pulls only where a repository policy grants "*", and never pushes', async () => {
    const root = ecr(TEST_ROOT_CREDENTIALS);
    const pub = await pushAsRoot('authz/public', 'v1');
    expect((await v2('/v2/authz/public/manifests/v1', { headers: { accept: OCI_MANIFEST } })).status).toBe(401);
    await root.send(
      new SetRepositoryPolicyCommand({
        repositoryName: 'authz/public',
        policyText: JSON.stringify({ Version: '2012-10-17', Statement: [{ Effect: 'Allow', Principal: '*', Action: ['ecr:BatchGetImage', 'ecr:GetDownloadUrlForLayer'] }] }),
      }),
    );
    expect((await v2('/v2/authz/public/manifests/v1', { headers: { accept: OCI_MANIFEST } })).status).toBe(200);
    expect((await v2(`/v2/authz/public/blobs/${pub.layer}`)).status).toBe(200);
    expect((await v2('/v2/authz/public/manifests/v9', { method: 'PUT', body: pub.body, headers: { 'content-type': OCI_MANIFEST } })).status).toBe(401);
    expect((await v2('/v2/authz/app/manifests/v1', { headers: { accept: OCI_MANIFEST } })).status).toBe(401);
    root.destroy();
  });

  it('mounts a blob only from a repository the caller may read', async () => {
    const writer = basic(tokens.get('writer')!);
    const other = await pushAsRoot('other/mountable', 'v1');
    // Named source the writer may not read: no mount, an ordinary upload session instead.
    const refused = await v2(`/v2/authz/copy/blobs/uploads/?mount=${other.layer}&from=other/mountable`, { method: 'POST', authorization: writer });
    expect(refused.status).toBe(202);
    // Automatic mount (no `from`) does not find it either.
    expect((await v2(`/v2/authz/copy/blobs/uploads/?mount=${other.layer}`, { method: 'POST', authorization: writer })).status).toBe(202);
    expect((await v2(`/v2/authz/copy/blobs/${other.layer}`, { method: 'HEAD', authorization: writer })).status).toBe(404);
    // From a readable source it mounts.
    const mounted = await v2(`/v2/authz/copy/blobs/uploads/?mount=${image.layer}&from=authz/app`, { method: 'POST', authorization: writer });
    expect(mounted.status).toBe(201);
    expect((await v2(`/v2/authz/copy2/blobs/uploads/?mount=${image.layer}`, { method: 'POST', authorization: writer })).status).toBe(201);
  });

  it('slows down repeated authentication failures from one address', async () => {
    const strict = await startBerth({ target: 'berth', env: { BERTH_AUTH__FAILED_AUTH_FREE_PER_MINUTE: '3' } });
    try {
      const times: number[] = [];
      for (let i = 0; i < 7; i++) {
        const t0 = Date.now();
        const r = await fetch(`${strict.url}/v2/`, { headers: { authorization: basic('not-a-token') } });
        expect(r.status).toBe(401);
        times.push(Date.now() - t0);
      }
      // Three answer at once; then 100, 200, 400, 800 ms.
      expect(Math.max(...times.slice(0, 3))).toBeLessThan(100);
      expect(times[5]!).toBeGreaterThanOrEqual(400);
      expect(times[6]!).toBeGreaterThanOrEqual(800);
      // A caller without credentials is not a failure: no delay.
      const t0 = Date.now();
      expect((await fetch(`${strict.url.replace('127.0.0.1', 'localhost')}/v2/`)).status).toBe(401);
      expect(Date.now() - t0).toBeLessThan(100);
    } finally {
      await strict.stop();
    }
  });
});
