/**
 * Garbage collection racing pushes, against real server processes: workers push images in
 * a loop (new layers, shared layers, re-tags, deletions) while the server's scheduler runs
 * garbage collection every second with a 2-second grace period. Afterwards every image
 * whose push was acknowledged pulls back intact, and once the grace period has passed every
 * blob that no manifest uses is gone. Runs on SQLite + filesystem and on PostgreSQL + S3.
 */
import { createHash, randomBytes, randomUUID } from 'node:crypto';
import { afterAll, describe, expect, it } from 'vitest';
import { sharedBackends, sharedBackendsMissing } from '../support/backends.js';
import { dumpServerLogsOnFailure, startBerth, type RunningServer } from '../support/server.js';

const sha256 = (b: Buffer | string): string => `sha256:${createHash('sha256').update(b).digest('hex')}`;
const OCI_MANIFEST = 'application/vnd.oci.image.manifest.v1+json';
const GC_ENV = { BERTH_GC__INTERVAL_SECONDS: '1', BERTH_GC__GRACE_SECONDS: '2', BERTH_SCHEDULER__TICK_SECONDS: '0.2' };

interface Pushed {
  repo: string;
  tag: string;
  digest: string;
  blobs: { digest: string; data: Buffer }[];
}

async function pushBlob(url: string, repo: string, data: Buffer): Promise<boolean> {
  const r = await fetch(`${url}/v2/${repo}/blobs/uploads/?digest=${sha256(data)}`, { method: 'POST', body: new Uint8Array(data), headers: { 'content-type': 'application/octet-stream' } });
  await r.arrayBuffer();
  return r.status === 201;
}

async function pushImage(url: string, repo: string, tag: string, layers: Buffer[]): Promise<Pushed | null> {
  const config = Buffer.from(JSON.stringify({ os: 'linux', architecture: 'amd64', id: randomUUID() }));
  const blobs = [config, ...layers].map((data) => ({ digest: sha256(data), data }));
  for (const b of blobs) if (!(await pushBlob(url, repo, b.data))) return null;
  const body = JSON.stringify({
    schemaVersion: 2,
    mediaType: OCI_MANIFEST,
    config: { mediaType: 'application/vnd.oci.image.config.v1+json', digest: blobs[0]!.digest, size: config.length },
    layers: blobs.slice(1).map((b) => ({ mediaType: 'application/vnd.oci.image.layer.v1.tar', digest: b.digest, size: b.data.length })),
  });
  const r = await fetch(`${url}/v2/${repo}/manifests/${tag}`, { method: 'PUT', body, headers: { 'content-type': OCI_MANIFEST } });
  await r.arrayBuffer();
  return r.status === 201 ? { repo, tag, digest: sha256(body), blobs } : null;
}

async function race(server: RunningServer): Promise<void> {
  const shared = [randomBytes(40_000), randomBytes(50_000), randomBytes(60_000)];
  const kept: Pushed[] = [];
  const garbage: { repo: string; digest: string }[] = [];
  let refused = 0;
  const worker = async (w: number): Promise<void> => {
    const repo = `race/w${w % 2}`;
    for (let i = 0; i < 14; i++) {
      const tag = `t${w}-${i % 5}`; // re-tags: each tag is pushed about three times
      const image = await pushImage(server.url, repo, tag, [shared[(w + i) % 3]!, randomBytes(20_000 + i)]);
      if (!image) {
        refused++;
        continue;
      }
      if (i % 4 === 3) {
        // Delete this image again: its own layer becomes garbage once the grace period passes.
        const del = await fetch(`${server.url}/v2/${repo}/manifests/${image.digest}`, { method: 'DELETE' });
        expect(del.status).toBe(202);
        garbage.push(...image.blobs.slice(2).map((b) => ({ repo, digest: b.digest })));
        continue;
      }
      kept.push(image);
      await new Promise((r) => setTimeout(r, 60));
    }
  };
  await Promise.all([0, 1, 2, 3].map(worker));
  expect(kept.length).toBeGreaterThan(30);
  expect(refused, 'no push should be refused: the grace period covers a push in progress').toBe(0);

  // Every acknowledged image pulls back, by digest, with every blob intact.
  for (const image of kept) {
    const m = await fetch(`${server.url}/v2/${image.repo}/manifests/${image.digest}`);
    expect(m.status, `${image.repo}@${image.digest}`).toBe(200);
    for (const b of image.blobs) {
      const r = await fetch(`${server.url}/v2/${image.repo}/blobs/${b.digest}`);
      expect(r.status, `${image.repo} blob ${b.digest}`).toBe(200);
      expect(sha256(Buffer.from(await r.arrayBuffer()))).toBe(b.digest);
    }
  }

  // After the grace period and a few more collections, nothing unused is left.
  await new Promise((r) => setTimeout(r, 4500));
  const runs = server.logs().split('\n').filter((l) => l.includes('garbage collection finished')).length;
  expect(runs, 'garbage collection ran repeatedly during the test').toBeGreaterThanOrEqual(3);
  for (const g of garbage) {
    const r = await fetch(`${server.url}/v2/${g.repo}/blobs/${g.digest}`, { method: 'HEAD' });
    expect(r.status, `unused blob ${g.digest} should be collected`).toBe(404);
  }
  for (const image of kept.slice(0, 10)) {
    const r = await fetch(`${server.url}/v2/${image.repo}/blobs/${image.blobs[1]!.digest}`, { method: 'HEAD' });
    expect(r.status).toBe(200);
  }
}

const servers: RunningServer[] = [];
afterAll(async () => {
  for (const s of servers) await s.stop();
});

describe('garbage collection racing pushes', () => {
  dumpServerLogsOnFailure(() => servers[servers.length - 1]);

  it('on SQLite and the filesystem', async () => {
    const server = await startBerth({ target: 'berth', env: GC_ENV });
    servers.push(server);
    await race(server);
  });

  const reason = sharedBackendsMissing();
  it.skipIf(reason !== undefined)(`on PostgreSQL and S3${reason ? ` (skipped: ${reason})` : ''}`, async () => {
    const backends = sharedBackends('gcrace');
    const server = await startBerth({ target: 'berth', env: { ...GC_ENV, ...backends.env } });
    servers.push(server);
    try {
      await race(server);
    } finally {
      await backends.cleanup();
    }
  });
});
