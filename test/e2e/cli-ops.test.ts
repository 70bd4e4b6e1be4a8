/**
 * `berth usage`, `berth lifecycle preview` and `berth gc` against a real server process.
 */
import { createHash, randomBytes } from 'node:crypto';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { makeTempDir, removeDir, run, type RunResult } from '../support/clients.js';
import { REPO_ROOT, TEST_ROOT_CREDENTIALS, dumpServerLogsOnFailure, startBerth, type RunningServer } from '../support/server.js';

const BIN = join(REPO_ROOT, 'bin', 'berth.js');
const sha256 = (b: Buffer | string): string => `sha256:${createHash('sha256').update(b).digest('hex')}`;
const OCI_MANIFEST = 'application/vnd.oci.image.manifest.v1+json';

let server: RunningServer;
let tmp: string;

function berth(args: string[], env: NodeJS.ProcessEnv = {}): Promise<RunResult> {
  return run(process.execPath, [BIN, ...args], {
    env: { ...process.env, AWS_ACCESS_KEY_ID: TEST_ROOT_CREDENTIALS.accessKeyId, AWS_SECRET_ACCESS_KEY: TEST_ROOT_CREDENTIALS.secretAccessKey, ...env },
    timeoutMs: 60_000,
  });
}

async function pushImage(repo: string, tag: string, layers: Buffer[]): Promise<string> {
  const config = Buffer.from(`{"os":"linux","tag":"${tag}","repo":"${repo}"}`);
  for (const b of [config, ...layers]) {
    const r = await fetch(`${server.url}/v2/${repo}/blobs/uploads/?digest=${sha256(b)}`, { method: 'POST', body: new Uint8Array(b) });
    expect(r.status).toBe(201);
  }
  const body = JSON.stringify({
    schemaVersion: 2,
    mediaType: OCI_MANIFEST,
    config: { mediaType: 'application/vnd.oci.image.config.v1+json', digest: sha256(config), size: config.length },
    layers: layers.map((l) => ({ mediaType: 'application/vnd.oci.image.layer.v1.tar', digest: sha256(l), size: l.length })),
  });
  const r = await fetch(`${server.url}/v2/${repo}/manifests/${tag}`, { method: 'PUT', body, headers: { 'content-type': OCI_MANIFEST } });
  expect(r.status).toBe(201);
  return sha256(body);
}

beforeAll(async () => {
  server = await startBerth({ target: 'berth' });
  tmp = await makeTempDir('berth-cli-ops-');
});
afterAll(async () => {
  await server?.stop();
  await removeDir(tmp);
});
dumpServerLogsOnFailure(() => server);

describe('operations commands', () => {
  it('berth usage shows stored and shared bytes and a monthly cost per repository', async () => {
    const shared = randomBytes(200_000);
    await pushImage('ops/a', 'v1', [shared, randomBytes(100_000)]);
    await pushImage('ops/b', 'v1', [shared]);
    const json = await berth(['usage', '--endpoint', server.url, '--output', 'json']);
    expect(json.code, json.stderr).toBe(0);
    const rows = JSON.parse(json.stdout) as { repositoryName: string; bytes: number; sharedBytes: number; monthlyCostUsd: number }[];
    const a = rows.find((r) => r.repositoryName === 'ops/a')!;
    expect(a.bytes).toBeGreaterThan(300_000);
    expect(a.sharedBytes).toBe(200_000);
    expect(a.monthlyCostUsd).toBeCloseTo((a.bytes / 2 ** 30) * 0.1, 6);
    const table = await berth(['usage', '--endpoint', server.url]);
    expect(table.stdout).toMatch(/REPOSITORY\s+STORED\s+SHARED\s+MONTHLY COST/);
    expect(table.stdout).toMatch(/ops\/a\s+300 kB\s+200 kB\s+\$0\.0000/);
  });

  it('berth lifecycle preview shows what a draft policy would expire and what it frees', async () => {
    const old = await pushImage('ops/life', 'build-1', [randomBytes(50_000)]);
    await new Promise((r) => setTimeout(r, 1100));
    await pushImage('ops/life', 'build-2', [randomBytes(60_000)]);
    const policy = join(tmp, 'policy.json');
    await writeFile(policy, JSON.stringify({ rules: [{ rulePriority: 1, description: 'keep the newest build', selection: { tagStatus: 'tagged', tagPrefixList: ['build'], countType: 'imageCountMoreThan', countNumber: 1 }, action: { type: 'expire' } }] }));
    const r = await berth(['lifecycle', 'preview', 'ops/life', '--policy', policy, '--endpoint', server.url]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/DIGEST\s+TAGS\s+PUSHED\s+RULE\s+ACTION/);
    expect(r.stdout).toContain(old.slice(7, 19));
    expect(r.stdout).toContain('build-1');
    expect(r.stdout).not.toContain('build-2');
    expect(r.stdout).toMatch(/1 image\(s\) would expire, freeing 50\.\d kB/);
    const bad = await berth(['lifecycle', 'preview', 'ops/life', '--policy', join(tmp, 'missing.json'), '--endpoint', server.url]);
    expect(bad.code).toBe(2);
  });

  it('berth gc --dry-run reports unused blobs without deleting them, and berth gc reclaims them while the server runs', async () => {
    const layer = randomBytes(70_000);
    const digest = await pushImage('ops/gc', 'v1', [layer]);
    expect((await fetch(`${server.url}/v2/ops/gc/manifests/${digest}`, { method: 'DELETE' })).status).toBe(202);
    const dry = await berth(['gc', '--data-dir', server.dataDir, '--grace-seconds', '0', '--dry-run', '--output', 'json']);
    expect(dry.code, dry.stderr).toBe(0);
    expect((JSON.parse(dry.stdout) as { digests: string[] }).digests).toContain(sha256(layer));
    expect((await fetch(`${server.url}/v2/ops/gc/blobs/${sha256(layer)}`)).status).toBe(200);
    const real = await berth(['gc', '--data-dir', server.dataDir, '--grace-seconds', '0']);
    expect(real.code, real.stderr).toBe(0);
    expect(real.stdout).toMatch(/unused blob\(s\), freed/);
    expect((await fetch(`${server.url}/v2/ops/gc/blobs/${sha256(layer)}`)).status).toBe(404);
    expect((await fetch(`${server.url}/v2/ops/a/manifests/v1`)).status).toBe(200);
  });
});
