/**
 * An upload session's in-process digest: it starts with the session's first bytes, so sessions
 * that never get a byte (a POST whose client goes away; a lazy session leaves no row to purge)
 * hold nothing, and it is dropped when the session completes.
 */
import { createHash, randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestApp, type TestApp } from '../../app/test-app.test-support.js';

const sha256 = (b: Buffer): string => `sha256:${createHash('sha256').update(b).digest('hex')}`;
let t: TestApp | undefined;
let app: TestApp['app'];
let authorization: string;

beforeAll(async () => {
  t = await startTestApp('upload-digest');
  ({ app, authorization } = t);
});
afterAll(() => t?.close());

const req = (method: 'POST' | 'PATCH' | 'PUT', url: string, body?: Buffer) =>
  app.http.inject({ method, url, headers: { authorization, 'content-type': 'application/octet-stream' }, ...(body ? { payload: body } : {}) });

describe('upload session digests', () => {
  it('are held only by sessions that stored bytes, until they complete', async () => {
    const before = app.uploads.digestsHeld;
    for (let i = 0; i < 20; i++) expect((await req('POST', '/v2/digests/a/blobs/uploads/')).statusCode).toBe(202);
    expect(app.uploads.digestsHeld).toBe(before);

    const data = randomBytes(300_000);
    const started = await req('POST', '/v2/digests/a/blobs/uploads/');
    const patched = await req('PATCH', started.headers.location as string, data.subarray(0, 100_000));
    expect(patched.statusCode).toBe(202);
    expect(app.uploads.digestsHeld).toBe(before + 1);
    const location = patched.headers.location as string;
    const put = await req('PUT', `${location}${location.includes('?') ? '&' : '?'}digest=${sha256(data)}`, data.subarray(100_000));
    expect(put.statusCode).toBe(201);
    expect(put.headers['docker-content-digest']).toBe(sha256(data));
    expect(app.uploads.digestsHeld).toBe(before);
  });
});
