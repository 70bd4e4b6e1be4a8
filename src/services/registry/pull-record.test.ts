/**
 * A manifest GET records the pull time (ECR's lastRecordedPullTime, lifecycle's sinceImagePulled)
 * in batches: written within a moment of the pull, and on shutdown whatever is still waiting.
 * (BatchGetImage records one too: test/e2e/ecr-sdk.test.ts.)
 */
import { createHash, randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildApp, type App } from '../../app/build.js';
import { openMetadataStore } from '../../app/stores.js';
import { loadConfig } from '../../config/load.js';

const ROOT_KEY = 'AKIAPULLRECORDTEST01';
const sha256 = (b: Buffer | string): string => `sha256:${createHash('sha256').update(b).digest('hex')}`;
let dir: string;
let config: ReturnType<typeof loadConfig>;
let clock = 1_800_000_000_000;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'berth-pull-record-'));
  config = loadConfig({ env: { BERTH_ROOT_ACCESS_KEY_ID: ROOT_KEY, BERTH_ROOT_SECRET_ACCESS_KEY: 'pull-record-test-secret' }, flags: { dataDir: dir } });
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

async function start(): Promise<{ app: App; req: (method: 'GET' | 'POST' | 'PUT', url: string, body?: string, type?: string) => Promise<{ statusCode: number }> }> {
  const app = await buildApp(config, pino({ level: 'silent' }), { now: () => clock });
  await app.http.ready();
  const { token } = await app.auth.loginToken(await app.auth.resolve({ t: 'r', a: ROOT_KEY }), 3600_000);
  const authorization = `Basic ${Buffer.from(`AWS:${token}`).toString('base64')}`;
  const req = (method: 'GET' | 'POST' | 'PUT', url: string, body?: string, type?: string) =>
    app.http.inject({ method, url, headers: { authorization, ...(type ? { 'content-type': type } : {}) }, ...(body !== undefined ? { payload: body } : {}) });
  return { app, req };
}

/** Pushes `n` images into repository `name` (tags t0..), returns their manifest digests. */
async function pushImages(req: Awaited<ReturnType<typeof start>>['req'], name: string, n: number): Promise<string[]> {
  const digests: string[] = [];
  for (let i = 0; i < n; i++) {
    const config = `{"architecture":"amd64","os":"linux","n":"${randomBytes(4).toString('hex')}"}`;
    const layer = randomBytes(100).toString('hex');
    for (const blob of [config, layer]) expect((await req('POST', `/v2/${name}/blobs/uploads/?digest=${sha256(blob)}`, blob, 'application/octet-stream')).statusCode).toBe(201);
    const manifest = JSON.stringify({
      schemaVersion: 2,
      mediaType: 'application/vnd.oci.image.manifest.v1+json',
      config: { mediaType: 'application/vnd.oci.image.config.v1+json', digest: sha256(config), size: config.length },
      layers: [{ mediaType: 'application/vnd.oci.image.layer.v1.tar', digest: sha256(layer), size: layer.length }],
    });
    expect((await req('PUT', `/v2/${name}/manifests/t${i}`, manifest, 'application/vnd.oci.image.manifest.v1+json')).statusCode).toBe(201);
    digests.push(sha256(manifest));
  }
  return digests;
}

/** lastPulledAt of each manifest, read through a store of its own (no cache of the app's). */
async function pullTimes(name: string, digests: string[]): Promise<(number | null)[]> {
  const meta = await openMetadataStore(config);
  try {
    const repo = await meta.repositories.get(name);
    return await Promise.all(digests.map(async (d) => (await meta.manifests.get(repo!.id, d))?.lastPulledAt ?? null));
  } finally {
    await meta.close();
  }
}

describe('pull times', () => {
  it('are written within a moment of the pull, one per manifest pulled', async () => {
    const { app, req } = await start();
    try {
      const digests = await pushImages(req, 'pulls/timer', 3);
      clock += 1000;
      const pulledAt = clock;
      for (const i of [0, 2]) expect((await req('GET', `/v2/pulls/timer/manifests/t${i}`)).statusCode).toBe(200);
      let times = await pullTimes('pulls/timer', digests);
      for (let waited = 0; times[0] === null && waited < 5000; waited += 50) {
        await new Promise((r) => setTimeout(r, 50));
        times = await pullTimes('pulls/timer', digests);
      }
      expect(times).toEqual([pulledAt, null, pulledAt]);
    } finally {
      await app.close();
    }
  });

  it('still waiting at shutdown are written by close', async () => {
    const { app, req } = await start();
    let digests: string[] = [];
    try {
      digests = await pushImages(req, 'pulls/close', 2);
      clock += 1000;
      for (const i of [0, 1]) expect((await req('GET', `/v2/pulls/close/manifests/t${i}`)).statusCode).toBe(200);
    } finally {
      await app.close(); // well within the batch's wait: the pulls are only pending
    }
    expect(await pullTimes('pulls/close', digests)).toEqual([clock, clock]);
  });
});
