/**
 * The `berth repos ...` / `berth images ...` commands as a user runs them: `node bin/berth.js`
 * child processes against a real server (images pushed with plain HTTP on /v2/), checking
 * their tables, their JSON, their exit codes and what they print on stderr. The CLI gets the
 * server's root key the way a user gives it, through AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY.
 * A tiny local HTTP listener stands in for the server only to see which credentials and
 * region the requests are signed with when they come from elsewhere.
 */
import { createHash, randomBytes } from 'node:crypto';
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { DescribeRepositoriesCommand, ECRClient, ListTagsForResourceCommand } from '@aws-sdk/client-ecr';
import { afterAll, describe, expect, it } from 'vitest';
import { Cleanup, describeResult, makeTempDir, run, setupSuite, type RunResult } from '../support/clients.js';
import { REPO_ROOT, TEST_ROOT_CREDENTIALS, dumpServerLogsOnFailure, startBerth, type RunningServer } from '../support/server.js';

const BIN = join(REPO_ROOT, 'bin', 'berth.js');
const OCI_MANIFEST = 'application/vnd.oci.image.manifest.v1+json';
const LAYER_BYTES = 1_200_000;
const sha256 = (b: Buffer | string): string => `sha256:${createHash('sha256').update(b).digest('hex')}`;

let server: RunningServer;
let ecr: ECRClient;
let home: string;
const cleanup = new Cleanup();

/** The environment without any AWS or Berth settings, and a HOME without ~/.aws. */
function cleanEnv(extra: NodeJS.ProcessEnv = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) if (!k.startsWith('AWS_') && !k.startsWith('BERTH_')) env[k] = v;
  return { ...env, HOME: home, ...extra };
}

/** The server's root key, as a user exports it. */
const ROOT_ENV = { AWS_ACCESS_KEY_ID: TEST_ROOT_CREDENTIALS.accessKeyId, AWS_SECRET_ACCESS_KEY: TEST_ROOT_CREDENTIALS.secretAccessKey };

/** `node bin/berth.js ARGS... --endpoint <server>` with the root key in the environment */
function berth(...args: string[]): Promise<RunResult> {
  return run(process.execPath, [BIN, ...args, '--endpoint', server.url], { env: cleanEnv(ROOT_ENV), timeoutMs: 60_000 });
}

async function berthOk(...args: string[]): Promise<RunResult> {
  const r = await berth(...args);
  expect(r.code, describeResult(r)).toBe(0);
  expect(r.stderr, describeResult(r)).toBe('');
  return r;
}

async function berthJson<T>(...args: string[]): Promise<T> {
  const r = await berthOk(...args, '--output', 'json');
  return JSON.parse(r.stdout) as T;
}

interface Table {
  headers: string[];
  rows: Record<string, string>[];
}

/**
 * Reads a table the CLI printed: the header names are separated by two or more spaces, and
 * every cell of a row starts exactly under its header (which is what "aligned" means).
 */
function parseTable(stdout: string, expectedHeaders: string[]): Table {
  const lines = stdout.split('\n').filter((l) => l !== '');
  const header = lines[0] ?? '';
  const headers = header.split(/ {2,}/);
  expect(headers).toEqual(expectedHeaders);
  const starts = headers.map((h) => header.indexOf(h));
  const rows = lines.slice(1).map((line) => {
    const row: Record<string, string> = {};
    headers.forEach((h, i) => {
      const start = starts[i]!;
      const end = i + 1 < starts.length ? starts[i + 1]! : line.length;
      if (i > 0 && line.length > start) expect(line[start - 1], `cell ${h} of "${line}" does not start under its header`).toBe(' ');
      row[h] = line.slice(start, end).trim();
    });
    return row;
  });
  for (const line of lines) expect(line, 'trailing blanks').toBe(line.trimEnd());
  return { headers, rows };
}

/** Pushes a one-layer OCI image with plain HTTP: monolithic blob uploads, then the manifest under each tag (or by digest). */
async function pushImage(repo: string, refs: string[]): Promise<{ digest: string; size: number }> {
  const config = Buffer.from(JSON.stringify({ architecture: 'amd64', os: 'linux', rootfs: { type: 'layers', diff_ids: [] }, nonce: randomBytes(8).toString('hex') }));
  const layer = randomBytes(LAYER_BYTES);
  for (const blob of [config, layer]) {
    const res = await fetch(`${server.url}/v2/${repo}/blobs/uploads/?digest=${sha256(blob)}`, {
      method: 'POST',
      body: blob,
      headers: { 'content-type': 'application/octet-stream' },
    });
    expect(res.status, await res.text()).toBe(201);
  }
  const manifest = Buffer.from(
    JSON.stringify({
      schemaVersion: 2,
      mediaType: OCI_MANIFEST,
      config: { mediaType: 'application/vnd.oci.image.config.v1+json', digest: sha256(config), size: config.length },
      layers: [{ mediaType: 'application/vnd.oci.image.layer.v1.tar+gzip', digest: sha256(layer), size: layer.length }],
    }),
  );
  const digest = sha256(manifest);
  for (const ref of refs.length > 0 ? refs : [digest]) {
    const res = await fetch(`${server.url}/v2/${repo}/manifests/${ref}`, { method: 'PUT', body: manifest, headers: { 'content-type': OCI_MANIFEST } });
    expect(res.status, await res.text()).toBe(201);
    expect(res.headers.get('docker-content-digest')).toBe(digest);
  }
  // ECR reports an image's size as the sum of its blobs (config and layers), not the manifest.
  return { digest, size: config.length + layer.length };
}

setupSuite(async () => {
  server = await startBerth({ target: 'berth' });
  cleanup.add(() => server.stop());
  // to check what the CLI did without going through it
  ecr = new ECRClient({ endpoint: server.url, region: 'us-east-1', credentials: { ...TEST_ROOT_CREDENTIALS } });
  cleanup.add(() => ecr.destroy());
  home = cleanup.dir(await makeTempDir('cli-home'));
});
afterAll(() => cleanup.run());
dumpServerLogsOnFailure(() => server);

const REPO_HEADERS = ['NAME', 'URI', 'TAG MUTABILITY', 'SCAN ON PUSH', 'CREATED'];
const IMAGE_HEADERS = ['DIGEST', 'TAGS', 'SIZE', 'PUSHED', 'LAST PULL', 'SCAN STATUS'];
const DELETE_HEADERS = ['RESULT', 'TAG', 'DIGEST', 'REASON'];
const ISO_SECOND = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/;

describe('berth repos / images against a running Berth', () => {
  let image: { digest: string; size: number };
  let untagged: { digest: string; size: number };

  it('repos create prints the new repository; --immutable, --scan-on-push and --tag reach the server', async () => {
    const app = await berthOk('repos', 'create', 'cli/app', '--scan-on-push', '--tag', 'team=core', '--tag', 'note=a=b');
    const appTable = parseTable(app.stdout, REPO_HEADERS);
    expect(appTable.rows).toHaveLength(1);
    expect(appTable.rows[0]).toMatchObject({ NAME: 'cli/app', URI: `${server.host}/cli/app`, 'TAG MUTABILITY': 'MUTABLE', 'SCAN ON PUSH': 'yes' });
    expect(appTable.rows[0]!['CREATED']).toMatch(ISO_SECOND);

    const locked = await berthOk('repos', 'create', 'cli/locked', '--immutable');
    expect(parseTable(locked.stdout, REPO_HEADERS).rows[0]).toMatchObject({ NAME: 'cli/locked', 'TAG MUTABILITY': 'IMMUTABLE', 'SCAN ON PUSH': 'no' });

    const described = await ecr.send(new DescribeRepositoriesCommand({ repositoryNames: ['cli/app'] }));
    const tags = await ecr.send(new ListTagsForResourceCommand({ resourceArn: described.repositories![0]!.repositoryArn! }));
    expect(tags.tags).toEqual(expect.arrayContaining([{ Key: 'team', Value: 'core' }, { Key: 'note', Value: 'a=b' }]));
    expect(tags.tags).toHaveLength(2);

    const dup = await berth('repos', 'create', 'cli/app');
    expect(dup.code).toBe(1);
    expect(dup.stdout).toBe('');
    expect(dup.stderr).toMatch(/^berth: RepositoryAlreadyExistsException: .*cli\/app.*\n$/);
  });

  it('repos list prints an aligned table and, with --output json, the API response merged across pages', async () => {
    const r = await berthOk('repos', 'list');
    const table = parseTable(r.stdout, REPO_HEADERS);
    expect(table.rows.map((row) => row['NAME'])).toEqual(['cli/app', 'cli/locked']);
    expect(table.rows[1]).toMatchObject({ URI: `${server.host}/cli/locked`, 'TAG MUTABILITY': 'IMMUTABLE', 'SCAN ON PUSH': 'no' });

    type Repos = { repositories: { repositoryName: string; imageTagMutability: string; createdAt: unknown; imageScanningConfiguration: { scanOnPush: boolean } }[]; nextToken?: string };
    const json = await berthJson<Repos>('repos', 'list');
    expect(json.repositories.map((x) => [x.repositoryName, x.imageTagMutability, x.imageScanningConfiguration.scanOnPush])).toEqual([
      ['cli/app', 'MUTABLE', true],
      ['cli/locked', 'IMMUTABLE', false],
    ]);
    // raw wire JSON: timestamps as the API sends them (epoch seconds), not the SDK's Dates
    expect(typeof json.repositories[0]!.createdAt).toBe('number');
    expect(json).not.toHaveProperty('nextToken');

    // one repository per request: the CLI must follow nextToken to get both
    const paged = await berthJson<Repos>('repos', 'list', '--page-size', '1');
    expect(paged).toEqual(json);
  });

  it('images list shows the pushed image with both tags, a human-readable size and its scan status', async () => {
    image = await pushImage('cli/app', ['v1', 'latest']);
    untagged = await pushImage('cli/app', []);

    const r = await berthOk('images', 'list', 'cli/app');
    const rows = parseTable(r.stdout, IMAGE_HEADERS).rows;
    expect(rows).toHaveLength(2);
    const row = rows.find((x) => x['DIGEST'] === image.digest.slice('sha256:'.length, 'sha256:'.length + 12));
    expect(row, r.stdout).toBeDefined();
    expect(row).toMatchObject({ TAGS: 'latest,v1', SIZE: '1.20 MB', 'LAST PULL': '-' });
    // cli/app scans on push; the layer is random bytes, not a tar, so the scan is queued, running or FAILED.
    expect(row!['SCAN STATUS']).toMatch(/^(PENDING|IN_PROGRESS|FAILED)$/);
    expect(row!['PUSHED']).toMatch(ISO_SECOND);
    const other = rows.find((x) => x['DIGEST'] === untagged.digest.slice(7, 19));
    expect(other).toMatchObject({ TAGS: '-' });

    type Images = { imageDetails: { imageDigest: string; imageTags?: string[]; imageSizeInBytes: number; imagePushedAt: unknown; imageScanStatus?: unknown; imageScanFindingsSummary?: unknown }[] };
    const json = await berthJson<Images>('images', 'list', 'cli/app');
    const detail = json.imageDetails.find((d) => d.imageDigest === image.digest);
    expect(detail?.imageTags).toEqual(['latest', 'v1']);
    expect(detail?.imageSizeInBytes).toBe(image.size);
    expect(typeof detail?.imagePushedAt).toBe('number');
    expect(json.imageDetails.find((d) => d.imageDigest === untagged.digest)?.imageTags).toBeUndefined();

    const paged = await berthJson<Images>('images', 'list', 'cli/app', '--page-size', '1');
    // The scan on push may finish between the two listings (PENDING, then FAILED with its summary).
    const withoutScan = (list: Images): unknown[] => list.imageDetails.map(({ imageScanStatus: _s, imageScanFindingsSummary: _f, ...rest }) => rest);
    expect(withoutScan(paged)).toEqual(withoutScan(json));
    expect(paged.imageDetails).toHaveLength(json.imageDetails.length);

    const tagged = parseTable((await berthOk('images', 'list', 'cli/app', '--tagged')).stdout, IMAGE_HEADERS).rows;
    expect(tagged.map((x) => x['TAGS'])).toEqual(['latest,v1']);
    const untaggedRows = parseTable((await berthOk('images', 'list', 'cli/app', '--untagged')).stdout, IMAGE_HEADERS).rows;
    expect(untaggedRows.map((x) => x['DIGEST'])).toEqual([untagged.digest.slice(7, 19)]);
  });

  it('images list shows the last pull once the image was pulled', async () => {
    const pull = await fetch(`${server.url}/v2/cli/app/manifests/v1`, { headers: { accept: OCI_MANIFEST } });
    expect(pull.status).toBe(200);
    await pull.arrayBuffer();
    let lastPull = '-';
    for (let i = 0; i < 10 && lastPull === '-'; i++) {
      const rows = parseTable((await berthOk('images', 'list', 'cli/app', '--tagged')).stdout, IMAGE_HEADERS).rows;
      lastPull = rows[0]?.['LAST PULL'] ?? '-';
      if (lastPull === '-') await new Promise((res) => setTimeout(res, 200));
    }
    expect(lastPull).toMatch(ISO_SECOND);
  });

  it('images delete reports what it deleted and each failure with its reason, exit 1 on any failure', async () => {
    const r = await berth('images', 'delete', 'cli/app', 'v1', 'ghost', 'ghost');
    expect(r.code, describeResult(r)).toBe(1);
    const rows = parseTable(r.stdout, DELETE_HEADERS).rows;
    expect(rows).toEqual([
      { RESULT: 'deleted', TAG: 'v1', DIGEST: image.digest, REASON: '' },
      { RESULT: 'failed', TAG: 'ghost', DIGEST: '-', REASON: 'ImageNotFound: Requested image not found' },
    ]);
    expect(r.stderr).toBe('berth: 1 of 2 image reference(s) could not be deleted\n');

    const after = parseTable((await berthOk('images', 'list', 'cli/app', '--tagged')).stdout, IMAGE_HEADERS).rows;
    expect(after.map((x) => x['TAGS'])).toEqual(['latest']);

    const byDigest = await berthOk('images', 'delete', 'cli/app', untagged.digest);
    expect(parseTable(byDigest.stdout, DELETE_HEADERS).rows).toEqual([{ RESULT: 'deleted', TAG: '-', DIGEST: untagged.digest, REASON: '' }]);

    const json = await berth('images', 'delete', 'cli/app', 'nope', '--output', 'json');
    expect(json.code).toBe(1);
    expect(JSON.parse(json.stdout)).toEqual({ imageIds: [], failures: [{ imageId: { imageTag: 'nope' }, failureCode: 'ImageNotFound', failureReason: 'Requested image not found' }] });
  });

  it('repos delete refuses a repository with images unless --force', async () => {
    const refused = await berth('repos', 'delete', 'cli/app');
    expect(refused.code).toBe(1);
    expect(refused.stdout).toBe('');
    expect(refused.stderr).toMatch(/^berth: RepositoryNotEmptyException: \S.*\n$/);
    expect(parseTable((await berthOk('repos', 'list')).stdout, REPO_HEADERS).rows.map((x) => x['NAME'])).toEqual(['cli/app', 'cli/locked']);

    const forced = await berthOk('repos', 'delete', 'cli/app', '--force');
    expect(forced.stdout).toBe('deleted repository cli/app\n');
    expect(parseTable((await berthOk('repos', 'list')).stdout, REPO_HEADERS).rows.map((x) => x['NAME'])).toEqual(['cli/locked']);

    const json = await berthJson<{ repository: { repositoryName: string } }>('repos', 'delete', 'cli/locked');
    expect(json.repository.repositoryName).toBe('cli/locked');
    const empty = await berthOk('repos', 'list');
    expect(empty.stdout).toBe(`${REPO_HEADERS.join('  ')}\n`);
  });

  it('API and connection errors print berth: <Name>: <message> on stderr with exit 1 (no stack); usage errors exit 2', async () => {
    const missing = await berth('images', 'list', 'cli/none');
    expect(missing.code).toBe(1);
    expect(missing.stderr).toMatch(/^berth: RepositoryNotFoundException: .*cli\/none.*\n$/);

    const invalid = await berth('images', 'delete', 'cli/none', 'v1');
    expect(invalid.code).toBe(1);
    expect(invalid.stderr).toMatch(/^berth: RepositoryNotFoundException: /);

    // no credentials configured: the CLI signs with berth/berth, which the server does not know
    const anonymous = await run(process.execPath, [BIN, 'repos', 'list', '--endpoint', server.url], { env: cleanEnv(), timeoutMs: 60_000 });
    expect(anonymous.code).toBe(1);
    expect(anonymous.stdout).toBe('');
    const [first, hint, ...rest] = anonymous.stderr.split('\n');
    expect(first).toMatch(/^berth: UnrecognizedClientException: \S/);
    expect(hint).toMatch(/^berth: no AWS credentials were found.*AWS_ACCESS_KEY_ID/);
    expect(rest).toEqual(['']);
    const wrongSecret = await run(process.execPath, [BIN, 'repos', 'list', '--endpoint', server.url], {
      env: cleanEnv({ ...ROOT_ENV, AWS_SECRET_ACCESS_KEY: 'not-the-secret' }),
      timeoutMs: 60_000,
    });
    expect(wrongSecret.code).toBe(1);
    expect(wrongSecret.stderr).toMatch(/^berth: UnrecognizedClientException: .*signature.*\n$/); // no hint: a key was given

    const down = await run(process.execPath, [BIN, 'repos', 'list', '--endpoint', 'http://127.0.0.1:1'], { env: cleanEnv(ROOT_ENV), timeoutMs: 60_000 });
    expect(down.code).toBe(1);
    expect(down.stderr).toMatch(/^berth: \w+: .*ECONNREFUSED.*\n$/);
    expect(down.stderr).not.toMatch(/\n\s+at /);

    for (const args of [
      ['repos', 'create', 'x', '--tag', 'novalue'],
      ['repos', 'list', '--output', 'xml'],
      ['repos', 'list', '--page-size', '0'],
      ['images', 'list', 'x', '--tagged', '--untagged'],
      ['images', 'delete', 'x'],
      ['repos', 'frobnicate'],
    ]) {
      const r = await berth(...args);
      expect(r.code, describeResult(r)).toBe(2);
      expect(r.stderr, describeResult(r)).toMatch(/error/);
      expect(r.stdout).toBe('');
    }
    const badEndpoint = await run(process.execPath, [BIN, 'repos', 'list', '--endpoint', 'ftp://example.com'], { env: cleanEnv(ROOT_ENV), timeoutMs: 60_000 });
    expect(badEndpoint.code, describeResult(badEndpoint)).toBe(2);
    expect(badEndpoint.stderr).toContain('--endpoint ftp://example.com');
  });

  it('takes the endpoint from BERTH_ENDPOINT when --endpoint is absent', async () => {
    await berthOk('repos', 'create', 'cli/env');
    const r = await run(process.execPath, [BIN, 'repos', 'list', '-o', 'json'], { env: cleanEnv({ ...ROOT_ENV, BERTH_ENDPOINT: server.url }), timeoutMs: 60_000 });
    expect(r.code, describeResult(r)).toBe(0);
    expect((JSON.parse(r.stdout) as { repositories: { repositoryName: string }[] }).repositories.map((x) => x.repositoryName)).toEqual(['cli/env']);
  });
});

describe('berth repos: request signing', () => {
  let fake: Server;
  let url: string;
  const seen: IncomingHttpHeaders[] = [];

  setupSuite(async () => {
    fake = createServer((req, res) => {
      seen.push(req.headers);
      req.resume();
      req.on('end', () => {
        res.writeHead(200, { 'content-type': 'application/x-amz-json-1.1' });
        res.end(JSON.stringify({ repositories: [] }));
      });
    });
    await new Promise<void>((resolve) => fake.listen(0, '127.0.0.1', resolve));
    const addr = fake.address();
    url = `http://127.0.0.1:${typeof addr === 'object' && addr ? addr.port : 0}`;
    cleanup.add(() => new Promise<void>((resolve) => fake.close(() => resolve())));
  });

  async function credentialScope(extra: NodeJS.ProcessEnv, ...args: string[]): Promise<string> {
    seen.length = 0;
    const r = await run(process.execPath, [BIN, 'repos', 'list', '--endpoint', url, ...args], { env: cleanEnv(extra), timeoutMs: 60_000 });
    expect(r.code, describeResult(r)).toBe(0);
    expect(seen).toHaveLength(1);
    expect(seen[0]!['x-amz-target']).toBe('AmazonEC2ContainerRegistry_V20150921.DescribeRepositories');
    const auth = String(seen[0]!['authorization'] ?? '');
    const m = /^AWS4-HMAC-SHA256 Credential=([^/]+)\/\d{8}\/([^/]+)\/ecr\/aws4_request,/.exec(auth);
    expect(m, auth).not.toBeNull();
    return `${m![1]} ${m![2]}`;
  }

  it('signs with berth/berth in us-east-1 when nothing is configured', async () => {
    expect(await credentialScope({})).toBe('berth us-east-1');
  });

  it('uses AWS_ACCESS_KEY_ID, AWS_REGION and --region', async () => {
    expect(await credentialScope({ AWS_ACCESS_KEY_ID: 'AKIDFROMENV', AWS_SECRET_ACCESS_KEY: 's', AWS_REGION: 'eu-west-1' })).toBe('AKIDFROMENV eu-west-1');
    expect(await credentialScope({ AWS_REGION: 'eu-west-1' }, '--region', 'ap-south-1')).toBe('berth ap-south-1');
  });

  it('uses the shared credentials file (default profile and AWS_PROFILE)', async () => {
    await mkdir(join(home, '.aws'), { recursive: true });
    await writeFile(
      join(home, '.aws', 'credentials'),
      '[default]\naws_access_key_id = AKIDDEFAULT\naws_secret_access_key = s1\n[ci]\naws_access_key_id = AKIDCI\naws_secret_access_key = s2\n',
    );
    try {
      expect(await credentialScope({})).toBe('AKIDDEFAULT us-east-1');
      expect(await credentialScope({ AWS_PROFILE: 'ci' })).toBe('AKIDCI us-east-1');
      const broken = await run(process.execPath, [BIN, 'repos', 'list', '--endpoint', url], { env: cleanEnv({ AWS_PROFILE: 'absent' }), timeoutMs: 60_000 });
      expect(broken.code).toBe(1);
      expect(broken.stderr).toMatch(/^berth: CredentialsProviderError: /);
    } finally {
      await writeFile(join(home, '.aws', 'credentials'), '');
    }
  });
});
