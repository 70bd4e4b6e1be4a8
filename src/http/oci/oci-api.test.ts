/**
 * The /v2/ API against real stores (SQLite + filesystem in a temporary directory),
 * driven in-process through Fastify's inject(): every status, header and error code
 * the OCI Distribution Specification v1.1 names for the operations we serve.
 */
import { createHash, randomBytes } from 'node:crypto';
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import http from 'node:http';
import { join } from 'node:path';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildApp, type App } from '../../app/build.js';
import { loadConfig } from '../../config/load.js';

const sha256 = (b: Buffer | string): string => `sha256:${createHash('sha256').update(b).digest('hex')}`;
const sha512 = (b: Buffer | string): string => `sha512:${createHash('sha512').update(b).digest('hex')}`;
const OCI_MANIFEST = 'application/vnd.oci.image.manifest.v1+json';
const OCI_INDEX = 'application/vnd.oci.image.index.v1+json';

let app: App;
let dir: string;
let clock = Date.now();
let authorization = '';
const ROOT_KEY = 'AKIAOCIAPITESTROOT01';

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'berth-oci-api-'));
  const config = loadConfig({
    env: { BERTH_ROOT_ACCESS_KEY_ID: ROOT_KEY, BERTH_ROOT_SECRET_ACCESS_KEY: 'oci-api-test-secret' },
    flags: { dataDir: dir, registry: { pullRecordIntervalSeconds: 0 } },
  });
  app = await buildApp(config, pino({ level: 'silent' }), { now: () => clock });
  await app.http.ready();
  // Every request below is the account root's, logged in as `docker login` would be.
  const { token } = await app.auth.loginToken(await app.auth.resolve({ t: 'r', a: ROOT_KEY }), 3650 * 24 * 3600 * 1000);
  authorization = `Basic ${Buffer.from(`AWS:${token}`).toString('base64')}`;
});
afterAll(async () => {
  await app.close();
  await rm(dir, { recursive: true, force: true });
});

type Res = Awaited<ReturnType<App['http']['inject']>>;
const req = (method: string, url: string, o: { body?: Buffer | string; headers?: Record<string, string> } = {}): Promise<Res> =>
  app.http.inject({ method: method as 'GET', url, headers: { authorization, ...o.headers }, ...(o.body !== undefined ? { payload: o.body } : {}) });
const errorCode = (r: Res): string => (JSON.parse(r.body) as { errors: { code: string }[] }).errors[0]!.code;

async function pushBlob(name: string, data: Buffer | string): Promise<string> {
  const digest = sha256(data);
  const r = await req('POST', `/v2/${name}/blobs/uploads/?digest=${digest}`, { body: data, headers: { 'content-type': 'application/octet-stream' } });
  expect(r.statusCode).toBe(201);
  return digest;
}

async function pushImage(name: string, tag: string, extra: Record<string, unknown> = {}): Promise<{ digest: string; body: string; layer: string; config: string }> {
  const config = await pushBlob(name, `{"architecture":"amd64","os":"linux","n":"${randomBytes(4).toString('hex')}"}`);
  const layerData = randomBytes(300);
  const layer = await pushBlob(name, layerData);
  const body = JSON.stringify({
    schemaVersion: 2,
    mediaType: OCI_MANIFEST,
    config: { mediaType: 'application/vnd.oci.image.config.v1+json', digest: config, size: 50 },
    layers: [{ mediaType: 'application/vnd.oci.image.layer.v1.tar+gzip', digest: layer, size: 300 }],
    ...extra,
  });
  const r = await req('PUT', `/v2/${name}/manifests/${tag}`, { body, headers: { 'content-type': OCI_MANIFEST } });
  expect(r.statusCode, r.body).toBe(201);
  return { digest: sha256(body), body, layer, config };
}

describe('version and errors', () => {
  it('answers the version check', async () => {
    const r = await req('GET', '/v2/');
    expect(r.statusCode).toBe(200);
    expect(r.headers['docker-distribution-api-version']).toBe('registry/2.0');
  });

  it('refuses invalid names, including path tricks, with NAME_INVALID', async () => {
    for (const name of ['Upper/case', 'a//b', '-lead', 'a/b/', 'a%2fb%00', 'x'.repeat(256)]) {
      const r = await req('GET', `/v2/${name}/tags/list`);
      expect(r.statusCode, name).toBe(400);
      expect(errorCode(r), name).toBe('NAME_INVALID');
    }
  });

  it('answers NAME_UNKNOWN for a repository that does not exist', async () => {
    const r = await req('GET', '/v2/nothing/here/tags/list');
    expect(r.statusCode).toBe(404);
    expect(errorCode(r)).toBe('NAME_UNKNOWN');
  });

  it('answers 405 UNSUPPORTED for a method an endpoint does not have', async () => {
    const r = await req('PATCH', '/v2/a/tags/list');
    expect(r.statusCode).toBe(405);
    expect(errorCode(r)).toBe('UNSUPPORTED');
  });

  it('answers a HEAD that fails with the Content-Length of the error GET would get, so clients keep the connection', async () => {
    await pushBlob('heads/reuse', 'x');
    const path = `/v2/heads/reuse/blobs/${sha256('absent')}`;
    const get = await req('GET', path);
    expect(get.statusCode).toBe(404);
    const address = await app.http.listen({ host: '127.0.0.1', port: 0 });
    const agent = new http.Agent({ keepAlive: true });
    try {
      const sockets = new Set<unknown>();
      for (let i = 0; i < 3; i++) {
        const res = await new Promise<http.IncomingMessage>((resolve, reject) => {
          const r = http.request(`${address}${path}`, { method: 'HEAD', agent, headers: { authorization } }, (m) => m.resume().on('end', () => resolve(m)));
          r.on('socket', (s) => sockets.add(s)).on('error', reject).end();
        });
        expect(res.statusCode).toBe(404);
        expect(res.headers['content-length']).toBe(String(Buffer.byteLength(get.body)));
      }
      // Node's client (llhttp) reuses a connection after a HEAD reply only when it has a length.
      expect(sockets.size).toBe(1);
    } finally {
      agent.destroy();
      await app.http.server.close();
    }
  });
});

describe('blob uploads', () => {
  it('stores a monolithic upload and serves it with HEAD, GET and ranges', async () => {
    const data = randomBytes(1000);
    const digest = await pushBlob('blobs/mono', data);
    const head = await req('HEAD', `/v2/blobs/mono/blobs/${digest}`);
    expect(head.statusCode).toBe(200);
    expect(head.headers['content-length']).toBe('1000');
    expect(head.headers['docker-content-digest']).toBe(digest);
    const get = await req('GET', `/v2/blobs/mono/blobs/${digest}`);
    expect(get.rawPayload.equals(data)).toBe(true);
    const part = await req('GET', `/v2/blobs/mono/blobs/${digest}`, { headers: { range: 'bytes=10-19' } });
    expect(part.statusCode).toBe(206);
    expect(part.headers['content-range']).toBe('bytes 10-19/1000');
    expect(part.rawPayload.equals(data.subarray(10, 20))).toBe(true);
    const suffix = await req('GET', `/v2/blobs/mono/blobs/${digest}`, { headers: { range: 'bytes=-5' } });
    expect(suffix.headers['content-range']).toBe('bytes 995-999/1000');
    const bad = await req('GET', `/v2/blobs/mono/blobs/${digest}`, { headers: { range: 'bytes=1000-' } });
    expect(bad.statusCode).toBe(416);
    expect(bad.headers['content-range']).toBe('bytes */1000');
  });

  it('refuses a wrong digest with DIGEST_INVALID and stores nothing', async () => {
    const before = await countObjects();
    const wrong = sha256('something else');
    const r = await req('POST', `/v2/blobs/wrong/blobs/uploads/?digest=${wrong}`, { body: 'payload' });
    expect(r.statusCode).toBe(400);
    expect(errorCode(r)).toBe('DIGEST_INVALID');
    expect((await req('HEAD', `/v2/blobs/wrong/blobs/${wrong}`)).statusCode).toBe(404);
    expect((await req('HEAD', `/v2/blobs/wrong/blobs/${sha256('payload')}`)).statusCode).toBe(404);
    expect(await countObjects()).toBe(before);
    for (const d of ['sha256:abc', 'md5:d41d8cd98f00b204e9800998ecf8427e', 'sha256:' + 'G'.repeat(64)]) {
      const r2 = await req('POST', `/v2/blobs/wrong/blobs/uploads/?digest=${d}`, { body: 'payload' });
      expect(r2.statusCode, d).toBe(400);
      expect(errorCode(r2), d).toBe('DIGEST_INVALID');
    }
  });

  it('uploads with POST then PUT, and in ordered chunks with PATCH', async () => {
    const data = randomBytes(5000);
    const digest = sha256(data);
    const start = await req('POST', '/v2/blobs/chunked/blobs/uploads/');
    expect(start.statusCode).toBe(202);
    expect(start.headers.range).toBe('0-0');
    const location = String(start.headers.location);
    expect(location).toMatch(/^\/v2\/blobs\/chunked\/blobs\/uploads\/[0-9a-f-]{36}\?_state=[A-Za-z0-9_.%-]+$/);
    const p1 = await req('PATCH', location, { body: data.subarray(0, 2000), headers: { 'content-range': '0-1999', 'content-type': 'application/octet-stream' } });
    expect(p1.statusCode).toBe(202);
    expect(p1.headers.range).toBe('0-1999');
    const overlap = await req('PATCH', location, { body: data.subarray(1000, 3000), headers: { 'content-range': '1000-2999' } });
    expect(overlap.statusCode).toBe(416);
    expect(overlap.headers.range).toBe('0-1999');
    const gap = await req('PATCH', location, { body: data.subarray(3000, 4000), headers: { 'content-range': '3000-3999' } });
    expect(gap.statusCode).toBe(416);
    const status = await req('GET', location);
    expect(status.statusCode).toBe(204);
    expect(status.headers.range).toBe('0-1999');
    const p2 = await req('PATCH', location, { body: data.subarray(2000, 4000), headers: { 'content-range': '2000-3999' } });
    expect(p2.headers.range).toBe('0-3999');
    const done = await req('PUT', `${location}${location.includes('?') ? '&' : '?'}digest=${digest}`, { body: data.subarray(4000), headers: { 'content-range': '4000-4999' } });
    expect(done.statusCode, done.body).toBe(201);
    expect(done.headers.location).toBe(`/v2/blobs/chunked/blobs/${digest}`);
    expect((await req('GET', `/v2/blobs/chunked/blobs/${digest}`)).rawPayload.equals(data)).toBe(true);
    expect((await req('GET', location)).statusCode).toBe(404);
  });

  it('accepts a streamed PATCH without Content-Range and a PUT with no body', async () => {
    const data = randomBytes(3000);
    const start = await req('POST', '/v2/blobs/stream/blobs/uploads/');
    const location = String(start.headers.location);
    expect((await req('PATCH', location, { body: data })).headers.range).toBe('0-2999');
    const done = await req('PUT', `${location}${location.includes('?') ? '&' : '?'}digest=${sha256(data)}`);
    expect(done.statusCode).toBe(201);
  });

  it('verifies sha512 digests', async () => {
    const data = randomBytes(100);
    const start = await req('POST', '/v2/blobs/sha512/blobs/uploads/');
    const done = await req('PUT', `${String(start.headers.location)}&digest=${sha512(data)}`, { body: data });
    expect(done.statusCode).toBe(201);
    expect((await req('GET', `/v2/blobs/sha512/blobs/${sha512(data)}`)).rawPayload.equals(data)).toBe(true);
  });

  it('refuses a session PUT with a wrong digest and forgets the session', async () => {
    const start = await req('POST', '/v2/blobs/badput/blobs/uploads/');
    const location = String(start.headers.location);
    const r = await req('PUT', `${location}${location.includes('?') ? '&' : '?'}digest=${sha256('other')}`, { body: 'data' });
    expect(errorCode(r)).toBe('DIGEST_INVALID');
    expect((await req('GET', location)).statusCode).toBe(404);
  });

  it('cancels an upload with DELETE, and answers BLOB_UPLOAD_UNKNOWN for unknown or foreign sessions', async () => {
    const start = await req('POST', '/v2/blobs/cancel/blobs/uploads/');
    const location = String(start.headers.location);
    await req('PATCH', location, { body: 'abc' });
    expect((await req('DELETE', location)).statusCode).toBe(204);
    const gone = await req('PATCH', location, { body: 'abc' });
    expect(gone.statusCode).toBe(404);
    expect(errorCode(gone)).toBe('BLOB_UPLOAD_UNKNOWN');
    expect(errorCode(await req('GET', '/v2/blobs/cancel/blobs/uploads/not-a-uuid'))).toBe('BLOB_UPLOAD_UNKNOWN');
    const other = await req('POST', '/v2/blobs/other/blobs/uploads/');
    const foreign = String(other.headers.location).replace('blobs/other', 'blobs/cancel');
    expect((await req('GET', foreign)).statusCode).toBe(404);
  });

  it('writes no session row until bytes arrive; the session state in the URL is signed and bound to its repository', async () => {
    const start = await req('POST', '/v2/blobs/lazy/blobs/uploads/');
    const location = String(start.headers.location);
    const id = /uploads\/([0-9a-f-]{36})\?/.exec(location)![1]!;
    expect(await app.meta.uploads.get(id)).toBeNull();
    expect((await req('GET', location)).headers.range).toBe('0-0');
    // Without the state, or with an altered one, or in another repository, the session is unknown.
    expect((await req('GET', location.split('?')[0]!)).statusCode).toBe(404);
    // The signature's last base64url character carries two padding bits (flipping only those keeps
    // the bytes, and the test failed when it happened to end in A-D); the one before is all data.
    const i = location.length - 2;
    expect((await req('GET', `${location.slice(0, i)}${location[i] === 'A' ? 'B' : 'A'}${location.slice(i + 1)}`)).statusCode).toBe(404);
    expect((await req('GET', location.replace('blobs/lazy/', 'blobs/other/'))).statusCode).toBe(404);
    const p = await req('PATCH', location, { body: 'abc' });
    expect(p.headers.range).toBe('0-2');
    expect(String(p.headers.location)).not.toContain('_state');
    expect((await app.meta.uploads.get(id))?.offset).toBe(3);
    const done = await req('PUT', `${String(p.headers.location)}?digest=${sha256('abcdef')}`, { body: 'def' });
    expect(done.statusCode, done.body).toBe(201);
    expect(await app.meta.uploads.get(id)).toBeNull();
    expect((await req('GET', location)).statusCode).toBe(404);
  });

  it('refuses a chunk whose Content-Length disagrees with its Content-Range', async () => {
    const start = await req('POST', '/v2/blobs/mismatch/blobs/uploads/');
    const r = await req('PATCH', String(start.headers.location), { body: 'abcd', headers: { 'content-range': '0-9' } });
    expect(r.statusCode).toBe(400);
    expect(errorCode(r)).toBe('BLOB_UPLOAD_INVALID');
  });

  it('mounts across repositories, from a named repository or automatically', async () => {
    const digest = await pushBlob('mount/source', randomBytes(64));
    const m = await req('POST', `/v2/mount/target/blobs/uploads/?mount=${digest}&from=mount/source`);
    expect(m.statusCode).toBe(201);
    expect(m.headers.location).toBe(`/v2/mount/target/blobs/${digest}`);
    expect((await req('HEAD', `/v2/mount/target/blobs/${digest}`)).statusCode).toBe(200);
    const auto = await req('POST', `/v2/mount/auto/blobs/uploads/?mount=${digest}`);
    expect(auto.statusCode).toBe(201);
    const missing = await req('POST', `/v2/mount/target2/blobs/uploads/?mount=${sha256('never pushed')}&from=mount/source`);
    expect(missing.statusCode).toBe(202);
    expect(String(missing.headers.location)).toContain('/blobs/uploads/');
    const notThere = await req('POST', `/v2/mount/target3/blobs/uploads/?mount=${digest}&from=mount/elsewhere`);
    expect(notThere.statusCode).toBe(202);
  });

  it('serves a blob only through repositories it is linked to, and unlinks with DELETE', async () => {
    const digest = await pushBlob('link/a', randomBytes(10));
    await pushBlob('link/b', randomBytes(10));
    const r = await req('GET', `/v2/link/b/blobs/${digest}`);
    expect(r.statusCode).toBe(404);
    expect(errorCode(r)).toBe('BLOB_UNKNOWN');
    expect((await req('DELETE', `/v2/link/a/blobs/${digest}`)).statusCode).toBe(202);
    expect((await req('HEAD', `/v2/link/a/blobs/${digest}`)).statusCode).toBe(404);
  });

  it('purges abandoned upload sessions after the configured time', async () => {
    const start = await req('POST', '/v2/blobs/abandoned/blobs/uploads/');
    const location = String(start.headers.location);
    await req('PATCH', location, { body: 'partial' });
    clock += 2 * 86_400_000;
    expect(await app.uploads.purgeStale()).toBeGreaterThanOrEqual(1);
    expect((await req('GET', location)).statusCode).toBe(404);
  });
});

describe('manifests and tags', () => {
  it('pushes and pulls a manifest by tag and by digest', async () => {
    const img = await pushImage('man/basic', 'v1');
    for (const ref of ['v1', img.digest]) {
      const get = await req('GET', `/v2/man/basic/manifests/${ref}`, { headers: { accept: OCI_MANIFEST } });
      expect(get.statusCode).toBe(200);
      expect(get.body).toBe(img.body);
      expect(get.headers['content-type']).toBe(OCI_MANIFEST);
      expect(get.headers['docker-content-digest']).toBe(img.digest);
      const head = await req('HEAD', `/v2/man/basic/manifests/${ref}`);
      expect(head.headers['content-length']).toBe(String(Buffer.byteLength(img.body)));
    }
    const unknown = await req('GET', '/v2/man/basic/manifests/v2');
    expect(unknown.statusCode).toBe(404);
    expect(errorCode(unknown)).toBe('MANIFEST_UNKNOWN');
  });

  it('refuses a manifest that references a missing blob and stores nothing', async () => {
    const config = await pushBlob('man/missing', '{}');
    const body = JSON.stringify({
      schemaVersion: 2,
      mediaType: OCI_MANIFEST,
      config: { mediaType: 'application/vnd.oci.image.config.v1+json', digest: config, size: 2 },
      layers: [{ mediaType: 'application/vnd.oci.image.layer.v1.tar+gzip', digest: sha256('absent'), size: 6 }],
    });
    const r = await req('PUT', '/v2/man/missing/manifests/latest', { body, headers: { 'content-type': OCI_MANIFEST } });
    expect(r.statusCode).toBe(400);
    expect(errorCode(r)).toBe('MANIFEST_BLOB_UNKNOWN');
    expect((await req('GET', '/v2/man/missing/manifests/latest')).statusCode).toBe(404);
    expect((await req('GET', `/v2/man/missing/manifests/${sha256(body)}`)).statusCode).toBe(404);
    expect(JSON.parse((await req('GET', '/v2/man/missing/tags/list')).body)).toEqual({ name: 'man/missing', tags: [] });
  });

  it('refuses a blob that lives only in another repository', async () => {
    const img = await pushImage('man/owner', 'v1');
    await pushBlob('man/thief', '{}');
    const r = await req('PUT', '/v2/man/thief/manifests/v1', { body: img.body, headers: { 'content-type': OCI_MANIFEST } });
    expect(errorCode(r)).toBe('MANIFEST_BLOB_UNKNOWN');
  });

  it('refuses malformed manifests with MANIFEST_INVALID and schema 1 with UNSUPPORTED', async () => {
    const bad = ['{not json', '[]', '{"schemaVersion":3}', JSON.stringify({ schemaVersion: 2, mediaType: OCI_MANIFEST, config: { digest: 'x' }, layers: [] })];
    for (const body of bad) {
      const r = await req('PUT', '/v2/man/bad/manifests/t', { body, headers: { 'content-type': OCI_MANIFEST } });
      expect(r.statusCode, body).toBe(400);
      expect(errorCode(r), body).toBe('MANIFEST_INVALID');
    }
    const s1 = await req('PUT', '/v2/man/bad/manifests/t', {
      body: JSON.stringify({ schemaVersion: 1, name: 'x', tag: 't', fsLayers: [] }),
      headers: { 'content-type': 'application/vnd.docker.distribution.manifest.v1+prettyjws' },
    });
    expect(s1.statusCode).toBe(415);
    expect(errorCode(s1)).toBe('UNSUPPORTED');
    const conflict = await req('PUT', '/v2/man/bad/manifests/t', {
      body: JSON.stringify({ schemaVersion: 2, mediaType: OCI_INDEX, manifests: [] }),
      headers: { 'content-type': OCI_MANIFEST },
    });
    expect(errorCode(conflict)).toBe('MANIFEST_INVALID');
  });

  it('refuses invalid tags and a digest reference that does not match the body', async () => {
    const img = await pushImage('man/refs', 'ok');
    const badTag = await req('PUT', '/v2/man/refs/manifests/-bad', { body: img.body, headers: { 'content-type': OCI_MANIFEST } });
    expect(errorCode(badTag)).toBe('TAG_INVALID');
    const long = await req('PUT', `/v2/man/refs/manifests/${'a'.repeat(129)}`, { body: img.body, headers: { 'content-type': OCI_MANIFEST } });
    expect(errorCode(long)).toBe('TAG_INVALID');
    const wrong = await req('PUT', `/v2/man/refs/manifests/${sha256('x')}`, { body: img.body, headers: { 'content-type': OCI_MANIFEST } });
    expect(errorCode(wrong)).toBe('DIGEST_INVALID');
    const byDigest = await req('PUT', `/v2/man/refs/manifests/${sha512(img.body)}`, { body: img.body, headers: { 'content-type': OCI_MANIFEST } });
    expect(byDigest.statusCode).toBe(201);
    expect(byDigest.headers['docker-content-digest']).toBe(sha512(img.body));
  });

  it('refuses a manifest over the size limit with 413', async () => {
    const body = JSON.stringify({ schemaVersion: 2, mediaType: OCI_INDEX, manifests: [], annotations: { big: 'x'.repeat(4 * 1024 * 1024) } });
    const r = await req('PUT', '/v2/man/big/manifests/t', { body, headers: { 'content-type': OCI_INDEX } });
    expect(r.statusCode).toBe(413);
  });

  it('stores an index only when its children are present, and protects referenced children', async () => {
    const a = await pushImage('man/index', 'amd64');
    const index = (children: string[]): string =>
      JSON.stringify({ schemaVersion: 2, mediaType: OCI_INDEX, manifests: children.map((digest) => ({ mediaType: OCI_MANIFEST, digest, size: 100 })) });
    const missing = await req('PUT', '/v2/man/index/manifests/multi', { body: index([a.digest, sha256('nope')]), headers: { 'content-type': OCI_INDEX } });
    expect(missing.statusCode).toBe(400);
    expect(errorCode(missing)).toBe('MANIFEST_UNKNOWN');
    const ok = await req('PUT', '/v2/man/index/manifests/multi', { body: index([a.digest]), headers: { 'content-type': OCI_INDEX } });
    expect(ok.statusCode).toBe(201);
    const del = await req('DELETE', `/v2/man/index/manifests/${a.digest}`);
    expect(del.statusCode).toBe(409);
    expect((await req('DELETE', `/v2/man/index/manifests/${sha256(index([a.digest]))}`)).statusCode).toBe(202);
    expect((await req('DELETE', `/v2/man/index/manifests/${a.digest}`)).statusCode).toBe(202);
  });

  it('deletes tags and manifests; the blobs stay for other manifests', async () => {
    const img = await pushImage('man/delete', 'v1');
    await req('PUT', '/v2/man/delete/manifests/v2', { body: img.body, headers: { 'content-type': OCI_MANIFEST } });
    expect((await req('DELETE', '/v2/man/delete/manifests/v1')).statusCode).toBe(202);
    expect((await req('GET', '/v2/man/delete/manifests/v1')).statusCode).toBe(404);
    expect((await req('GET', '/v2/man/delete/manifests/v2')).statusCode).toBe(200);
    expect((await req('DELETE', `/v2/man/delete/manifests/${img.digest}`)).statusCode).toBe(202);
    expect((await req('GET', '/v2/man/delete/manifests/v2')).statusCode).toBe(404);
    expect((await req('DELETE', `/v2/man/delete/manifests/${img.digest}`)).statusCode).toBe(404);
    expect((await req('GET', `/v2/man/delete/blobs/${img.layer}`)).statusCode).toBe(200);
  });

  it('lists tags in lexical order with n, last and Link', async () => {
    const img = await pushImage('man/tags', 'base');
    const tags = ['b', 'a', 'C', '10', '9', 'a.b', 'a-b', 'a_b'];
    for (const t of tags) await req('PUT', `/v2/man/tags/manifests/${t}`, { body: img.body, headers: { 'content-type': OCI_MANIFEST } });
    const expected = [...tags, 'base'].sort((x, y) => Buffer.compare(Buffer.from(x), Buffer.from(y)));
    const all = JSON.parse((await req('GET', '/v2/man/tags/tags/list')).body) as { tags: string[] };
    expect(all.tags).toEqual(expected);
    const seen: string[] = [];
    let url: string | undefined = '/v2/man/tags/tags/list?n=4';
    while (url) {
      const r = await req('GET', url);
      const page = JSON.parse(r.body) as { tags: string[] };
      expect(page.tags.length).toBeLessThanOrEqual(4);
      seen.push(...page.tags);
      const link = r.headers.link as string | undefined;
      url = link ? /^<([^>]+)>; rel="next"$/.exec(link)?.[1] : undefined;
    }
    expect(seen).toEqual(expected);
    expect(JSON.parse((await req('GET', '/v2/man/tags/tags/list?n=0')).body).tags).toEqual([]);
    expect(errorCode(await req('GET', '/v2/man/tags/tags/list?n=-1'))).toBe('PAGINATION_NUMBER_INVALID');
  });

  it('lists the catalog in lexical order with pagination', async () => {
    const names = ['cat/b', 'cat/a', 'cat/a/z', 'cat/a-b'];
    for (const n of names) await pushBlob(n, 'x');
    const seen: string[] = [];
    let url: string | undefined = '/v2/_catalog?n=3&last=cat%2F';
    while (url) {
      const r = await req('GET', url);
      const repos = (JSON.parse(r.body) as { repositories: string[] }).repositories;
      seen.push(...repos.filter((x) => x.startsWith('cat/')));
      if (repos.some((x) => !x.startsWith('cat/'))) break;
      const link = r.headers.link as string | undefined;
      url = link ? /^<([^>]+)>; rel="next"$/.exec(link)?.[1] : undefined;
    }
    expect(seen).toEqual([...names].sort());
  });

  it('serves referrers with artifactType filtering and answers OCI-Subject', async () => {
    const subject = await pushImage('man/referrers', 'app');
    const empty = await pushBlob('man/referrers', '{}');
    const referrer = (artifactType: string): string =>
      JSON.stringify({
        schemaVersion: 2,
        mediaType: OCI_MANIFEST,
        artifactType,
        config: { mediaType: 'application/vnd.oci.empty.v1+json', digest: empty, size: 2 },
        layers: [],
        subject: { mediaType: OCI_MANIFEST, digest: subject.digest, size: Buffer.byteLength(subject.body) },
        annotations: { 'org.example': artifactType },
      });
    const sig = referrer('application/vnd.example.signature');
    const sbom = referrer('application/spdx+json');
    for (const body of [sig, sbom]) {
      const r = await req('PUT', `/v2/man/referrers/manifests/${sha256(body)}`, { body, headers: { 'content-type': OCI_MANIFEST } });
      expect(r.statusCode).toBe(201);
      expect(r.headers['oci-subject']).toBe(subject.digest);
    }
    const all = await req('GET', `/v2/man/referrers/referrers/${subject.digest}`);
    expect(all.headers['content-type']).toBe(OCI_INDEX);
    const index = JSON.parse(all.body) as { manifests: { digest: string; artifactType: string; annotations: Record<string, string> }[] };
    expect(index.manifests.map((m) => m.digest).sort()).toEqual([sha256(sig), sha256(sbom)].sort());
    expect(index.manifests.find((m) => m.digest === sha256(sig))?.annotations).toEqual({ 'org.example': 'application/vnd.example.signature' });
    const filtered = await req('GET', `/v2/man/referrers/referrers/${subject.digest}?artifactType=application/spdx%2Bjson`);
    expect(filtered.headers['oci-filters-applied']).toBe('artifactType');
    expect((JSON.parse(filtered.body) as { manifests: { digest: string }[] }).manifests.map((m) => m.digest)).toEqual([sha256(sbom)]);
    const none = await req('GET', `/v2/man/referrers/referrers/${sha256('no subject')}`);
    expect(none.statusCode).toBe(200);
    expect(JSON.parse(none.body).manifests).toEqual([]);
    expect((await req('GET', '/v2/man/referrers/referrers/sha256:bad')).statusCode).toBe(400);
  });

  it('accepts Docker schema 2 manifests and manifest lists', async () => {
    const config = await pushBlob('man/docker', '{"os":"linux"}');
    const layer = await pushBlob('man/docker', randomBytes(10));
    const m = JSON.stringify({
      schemaVersion: 2,
      mediaType: 'application/vnd.docker.distribution.manifest.v2+json',
      config: { mediaType: 'application/vnd.docker.container.image.v1+json', digest: config, size: 14 },
      layers: [{ mediaType: 'application/vnd.docker.image.rootfs.diff.tar.gzip', digest: layer, size: 10 }],
    });
    expect((await req('PUT', '/v2/man/docker/manifests/v1', { body: m, headers: { 'content-type': 'application/vnd.docker.distribution.manifest.v2+json' } })).statusCode).toBe(201);
    const list = JSON.stringify({
      schemaVersion: 2,
      mediaType: 'application/vnd.docker.distribution.manifest.list.v2+json',
      manifests: [{ mediaType: 'application/vnd.docker.distribution.manifest.v2+json', digest: sha256(m), size: m.length, platform: { os: 'linux', architecture: 'amd64' } }],
    });
    const r = await req('PUT', '/v2/man/docker/manifests/list', { body: list, headers: { 'content-type': 'application/vnd.docker.distribution.manifest.list.v2+json' } });
    expect(r.statusCode).toBe(201);
    expect((await req('GET', '/v2/man/docker/manifests/list')).headers['content-type']).toBe('application/vnd.docker.distribution.manifest.list.v2+json');
  });
});

async function countObjects(): Promise<number> {
  let n = 0;
  const walk = async (d: string): Promise<void> => {
    for (const e of await readdir(d, { withFileTypes: true }).catch(() => [])) {
      if (e.isDirectory()) await walk(join(d, e.name));
      else n++;
    }
  };
  await walk(join(dir, 'blobs'));
  return n;
}
