/**
 * Garbage collection and scheduled lifecycle runs against real stores (SQLite + filesystem),
 * driven through the /v2/ API in-process with a controllable clock.
 */
import { createHash, randomBytes } from 'node:crypto';
import { mkdtemp, rm, writeFile, mkdir, utimes } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildApp, type App } from '../../app/build.js';
import { loadConfig } from '../../config/load.js';

const sha256 = (b: Buffer | string): string => `sha256:${createHash('sha256').update(b).digest('hex')}`;
const OCI_MANIFEST = 'application/vnd.oci.image.manifest.v1+json';
const HOUR = 3600_000;

let app: App;
let dir: string;
let clock = Date.UTC(2026, 0, 1);
let authorization = '';

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'berth-gc-'));
  const config = loadConfig({ env: {}, flags: { dataDir: dir, rootAccessKeyId: 'AKIAGCTEST0000000000', rootSecretAccessKey: 'gc-test-secret-000000' } });
  app = await buildApp(config, pino({ level: 'silent' }), { now: () => clock });
  await app.http.ready();
  await app.scheduler.start(24 * HOUR);
  // The registry root's login, as `docker login` would send it.
  const { token } = await app.auth.loginToken(await app.auth.resolve({ t: 'r', a: 'AKIAGCTEST0000000000' }), 3650 * 24 * HOUR);
  authorization = `Basic ${Buffer.from(`AWS:${token}`).toString('base64')}`;
});
afterAll(async () => {
  await app.close();
  await rm(dir, { recursive: true, force: true });
});

const req = (method: string, url: string, body?: Buffer | string, headers: Record<string, string> = {}) =>
  app.http.inject({ method: method as 'GET', url, headers: { authorization, ...headers }, ...(body !== undefined ? { payload: body } : {}) });

async function pushBlob(repo: string, data: Buffer | string): Promise<string> {
  const r = await req('POST', `/v2/${repo}/blobs/uploads/?digest=${sha256(data)}`, data);
  expect(r.statusCode).toBe(201);
  return sha256(data);
}

async function pushImage(repo: string, tag: string, layers: (Buffer | string)[]): Promise<string> {
  const config = await pushBlob(repo, `{"os":"linux","tag":"${tag}"}`);
  const digests = [];
  for (const l of layers) digests.push(await pushBlob(repo, l));
  const body = JSON.stringify({
    schemaVersion: 2,
    mediaType: OCI_MANIFEST,
    config: { mediaType: 'application/vnd.oci.image.config.v1+json', digest: config, size: 10 },
    layers: digests.map((digest) => ({ mediaType: 'application/vnd.oci.image.layer.v1.tar', digest, size: 10 })),
  });
  const r = await req('PUT', `/v2/${repo}/manifests/${tag}`, body, { 'content-type': OCI_MANIFEST });
  expect(r.statusCode).toBe(201);
  return sha256(body);
}

describe('garbage collection', () => {
  it('reclaims blobs no manifest uses once the grace period is over, and keeps everything in use', async () => {
    const shared = randomBytes(500);
    const onlyOld = randomBytes(300);
    const old = await pushImage('gc/app', 'old', [shared, onlyOld]);
    await pushImage('gc/other', 'keep', [shared]);
    expect((await req('DELETE', `/v2/gc/app/manifests/${old}`)).statusCode).toBe(202);

    const early = await app.gc.run({ graceMs: HOUR });
    expect(early.blobsDeleted).toBe(0);

    clock += 2 * HOUR;
    const pending = await pushBlob('gc/app', randomBytes(100));
    const dry = await app.gc.run({ graceMs: HOUR, dryRun: true });
    expect(dry.digests).toContain(sha256(onlyOld));
    expect((await req('GET', `/v2/gc/app/blobs/${sha256(onlyOld)}`)).statusCode).toBe(200);

    const report = await app.gc.run({ graceMs: HOUR });
    expect(report.digests).toContain(sha256(onlyOld));
    expect(report.digests).not.toContain(sha256(shared));
    expect(report.digests).not.toContain(pending);
    expect(report.bytesFreed).toBeGreaterThanOrEqual(300);
    expect((await req('GET', `/v2/gc/app/blobs/${sha256(onlyOld)}`)).statusCode).toBe(404);
    expect((await req('GET', `/v2/gc/other/blobs/${sha256(shared)}`)).rawPayload.equals(shared)).toBe(true);
    expect((await req('GET', `/v2/gc/app/blobs/${pending}`)).statusCode).toBe(200);
    expect((await req('GET', '/v2/gc/other/manifests/keep')).statusCode).toBe(200);

    // The same content pushed again after collection is stored anew.
    await pushBlob('gc/app', onlyOld);
    expect((await req('GET', `/v2/gc/app/blobs/${sha256(onlyOld)}`)).rawPayload.equals(onlyOld)).toBe(true);
    const audit = await app.meta.audit.list({ limit: 100, action: 'gc.run' });
    expect(audit.length).toBeGreaterThanOrEqual(2);
  });

  it('removes orphaned objects that no blob row names, after the grace period', async () => {
    const orphanDir = join(dir, 'blobs', 'objects', 'blobs', 'zz');
    await mkdir(orphanDir, { recursive: true });
    const orphan = join(orphanDir, 'orphan-object');
    await writeFile(orphan, 'left behind by a crash');
    const oldTime = new Date(clock - 5 * HOUR);
    await utimes(orphan, oldTime, oldTime);
    const report = await app.gc.run({ graceMs: HOUR });
    expect(report.orphansDeleted).toBe(1);
    await expect(import('node:fs/promises').then((f) => f.stat(orphan))).rejects.toThrow();
  });
});

describe('storage accounting', () => {
  it('reports bytes, shared bytes and cost per repository in /metrics, and what a lifecycle preview would free', async () => {
    const shared = randomBytes(4000);
    await pushImage('usage/a', 'v1', [shared, randomBytes(1000)]);
    await pushImage('usage/b', 'v1', [shared]);
    clock += 60_000;
    await pushImage('usage/a', 'v2', [randomBytes(2000)]);
    const metrics = (await req('GET', '/metrics')).body;
    const value = (name: string, repo: string): number => Number(new RegExp(`^${name}\\{repository="${repo}"\\} (\\S+)$`, 'm').exec(metrics)?.[1]);
    expect(value('berth_repository_stored_bytes', 'usage/a')).toBeGreaterThanOrEqual(7000);
    // Both repositories hold the shared layer and the same config blob (same tag, same content).
    const sharedBytes = 4000 + Buffer.byteLength('{"os":"linux","tag":"v1"}');
    expect(value('berth_repository_shared_bytes', 'usage/a')).toBe(sharedBytes);
    expect(value('berth_repository_shared_bytes', 'usage/b')).toBe(sharedBytes);
    expect(value('berth_repository_monthly_cost_usd', 'usage/a')).toBeGreaterThan(0);
    const preview = await app.lifecycle.preview(
      'usage/a',
      JSON.stringify({ rules: [{ rulePriority: 1, description: 'keep the newest image only', selection: { tagStatus: 'any', countType: 'imageCountMoreThan', countNumber: 1 }, action: { type: 'expire' } }] }),
    );
    expect(preview.expiringCount).toBe(1);
    // v1's own layer goes; the layer and the config it shares with usage/b stay.
    expect(preview.bytesFreed).toBe(1000);
  });

  it('computes one preview per repository at a time: a second request meanwhile is refused, as ECR does', async () => {
    const policy = JSON.stringify({ rules: [{ rulePriority: 1, selection: { tagStatus: 'any', countType: 'imageCountMoreThan', countNumber: 1 }, action: { type: 'expire' } }] });
    const [first, second, elsewhere] = await Promise.allSettled([app.lifecycle.preview('usage/a', policy), app.lifecycle.preview('usage/a', policy), app.lifecycle.preview('usage/b', policy)]);
    expect(first.status).toBe('fulfilled');
    expect(second).toMatchObject({ status: 'rejected', reason: { code: 'LIFECYCLE_PREVIEW_IN_PROGRESS' } });
    expect(elsewhere.status).toBe('fulfilled');
    // Once it has completed, the next one runs.
    expect((await app.lifecycle.preview('usage/a', policy)).expiringCount).toBe(1);
  });

  it('computes one preview per repository at a time across nodes; a lease left by a node that died expires', async () => {
    const policy = JSON.stringify({ rules: [{ rulePriority: 1, selection: { tagStatus: 'any', countType: 'imageCountMoreThan', countNumber: 1 }, action: { type: 'expire' } }] });
    // A second node on the same database and blob store.
    const config = loadConfig({ env: {}, flags: { dataDir: dir, rootAccessKeyId: 'AKIAGCTEST0000000000', rootSecretAccessKey: 'gc-test-secret-000000' } });
    const other = await buildApp(config, pino({ level: 'silent' }), { now: () => clock });
    try {
      // Whichever node takes the lease first computes; the other is refused.
      const both = await Promise.allSettled([app.lifecycle.preview('usage/a', policy), other.lifecycle.preview('usage/a', policy)]);
      expect(both.filter((r) => r.status === 'fulfilled')).toHaveLength(1);
      expect(both.find((r) => r.status === 'rejected')).toMatchObject({ reason: { code: 'LIFECYCLE_PREVIEW_IN_PROGRESS' } });
      expect((await other.lifecycle.preview('usage/a', policy)).expiringCount).toBe(1);
      // A node that took the lease and died: the lease holds for ten minutes, then is free.
      await app.meta.schedules.claimDue('lifecycle-preview:usage/a', clock);
      await expect(other.lifecycle.preview('usage/a', policy)).rejects.toMatchObject({ code: 'LIFECYCLE_PREVIEW_IN_PROGRESS' });
      clock += 10 * 60_000 + 1;
      expect((await other.lifecycle.preview('usage/a', policy)).expiringCount).toBe(1);
    } finally {
      await other.close();
    }
  });

  it('serves preview pages from a decoded copy until any node stores a newer preview', async () => {
    const policy = (n: number): string =>
      JSON.stringify({ rules: [{ rulePriority: 1, description: `keep ${n}`, selection: { tagStatus: 'any', countType: 'imageCountMoreThan', countNumber: n }, action: { type: 'expire' } }] });
    // A second node on the same database and blob store.
    const config = loadConfig({ env: {}, flags: { dataDir: dir, rootAccessKeyId: 'AKIAGCTEST0000000000', rootSecretAccessKey: 'gc-test-secret-000000' } });
    const other = await buildApp(config, pino({ level: 'silent' }), { now: () => clock });
    try {
      await app.lifecycle.preview('usage/a', policy(1));
      const first = await other.lifecycle.getPreview('usage/a');
      expect(first.policyText).toBe(policy(1));
      expect(first.expiringCount).toBe(1);
      expect(await other.lifecycle.getPreview('usage/a')).toBe(first); // the decoded copy
      await app.lifecycle.preview('usage/a', policy(2));
      const second = await other.lifecycle.getPreview('usage/a');
      expect(second.policyText).toBe(policy(2));
      expect(second.expiringCount).toBe(0);
    } finally {
      await other.close();
    }
  });
});

describe('lifecycle runs at scale', () => {
  it('expires images many per transaction, an index before its children, each with its audit event', async () => {
    const repo = 'batch/app';
    const digests: string[] = [];
    for (let i = 0; i < 7; i++) {
      clock += 60_000;
      digests.push(await pushImage(repo, `build-${i}`, [`batch layer ${i}`]));
    }
    // An index over the two oldest images: expiring it takes both platform images with it.
    const index = JSON.stringify({
      schemaVersion: 2,
      mediaType: 'application/vnd.oci.image.index.v1+json',
      manifests: digests.slice(0, 2).map((digest) => ({ mediaType: OCI_MANIFEST, digest, size: 10, platform: { os: 'linux', architecture: 'amd64' } })),
    });
    clock += 60_000;
    const r = await req('PUT', `/v2/${repo}/manifests/multi-0`, index, { 'content-type': 'application/vnd.oci.image.index.v1+json' });
    expect(r.statusCode).toBe(201);
    await app.lifecycle.put(
      repo,
      JSON.stringify({ rules: [{ rulePriority: 1, description: 'keep the newest three', selection: { tagStatus: 'any', countType: 'imageCountMoreThan', countNumber: 3 }, action: { type: 'expire' } }] }),
    );
    const before = (await app.meta.audit.list({ limit: 1000, action: 'lifecycle.expire' })).length;
    // Batches of two: the index and its children land in different transactions.
    const images = (app.lifecycle as unknown as { images: { expire: (...a: unknown[]) => Promise<unknown> } }).images;
    const expire = images.expire.bind(images);
    images.expire = (name: unknown, ds: unknown, audit: unknown) => expire(name, ds, audit, 2);
    try {
      const { expired } = await app.lifecycle.apply(repo);
      // Kept: the three newest images (build-4..6) by push time; the index (pushed last) is the
      // newest of all, so with it the cut falls after build-5: index, build-6, build-5 stay.
      const kept = new Set(await (await app.meta.manifests.list((await app.meta.repositories.get(repo))!.id, { limit: 100 })).map((m) => m.digest));
      expect(expired.length + kept.size).toBe(8);
      for (const d of expired) expect(kept.has(d)).toBe(false);
      const events = (await app.meta.audit.list({ limit: 1000, action: 'lifecycle.expire' })).slice(before);
      expect(events.map((e) => (e.detail as { digest: string }).digest).sort()).toEqual([...expired].sort());
      for (const e of events) expect((e.detail as { tags: string[] }).tags.length).toBeLessThanOrEqual(1);
      for (const d of expired) expect((await req('GET', `/v2/${repo}/manifests/${d}`)).statusCode).toBe(404);
      for (const d of kept) expect((await req('GET', `/v2/${repo}/manifests/${d}`)).statusCode).toBe(200);
    } finally {
      images.expire = expire;
      await app.lifecycle.delete(repo); // the scheduled run below counts the repositories with a policy
    }
  });
});

describe('scheduled work', () => {
  it('runs a due lifecycle policy once and records each expiry', async () => {
    for (const [i, tag] of ['build-1', 'build-2', 'build-3'].entries()) {
      clock += 60_000;
      await pushImage('sched/app', tag, [`layer ${i}`]);
    }
    await app.lifecycle.put(
      'sched/app',
      JSON.stringify({ rules: [{ rulePriority: 1, description: 'keep two builds', selection: { tagStatus: 'tagged', tagPrefixList: ['build'], countType: 'imageCountMoreThan', countNumber: 2 }, action: { type: 'expire' } }] }),
    );
    await app.meta.schedules.trigger('lifecycle');
    await app.scheduler.tick();
    expect((await req('GET', '/v2/sched/app/manifests/build-1')).statusCode).toBe(404);
    expect((await req('GET', '/v2/sched/app/manifests/build-3')).statusCode).toBe(200);
    const ofSched = async () => (await app.meta.audit.list({ limit: 1000, action: 'lifecycle.expire' })).filter((e) => e.repository === 'sched/app');
    expect((await ofSched()).map((e) => (e.detail as { tags: string[] }).tags)).toEqual([['build-1']]);
    expect((await app.lifecycle.get('sched/app')).lastEvaluatedAt).toBe(clock);
    await app.scheduler.tick();
    expect(await ofSched()).toHaveLength(1);
    const row = await app.meta.schedules.get('lifecycle');
    expect(JSON.parse(row!.lastResult!)).toMatchObject({ ok: true, result: { repositories: 1, expired: 1 } });
  });
});
