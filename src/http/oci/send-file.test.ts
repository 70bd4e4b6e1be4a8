/**
 * Blob downloads through the native part (native/sendfile: sendfile(2) for small ranges, a copy
 * for large ones), against a listening server and Node's own http client: whole blobs and ranges
 * arrive intact with their headers, the connection stays usable afterwards, and a client that
 * goes away mid-download costs nothing but its connection.
 */
import { createHash, randomBytes } from 'node:crypto';
import http from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestApp, type TestApp } from '../../app/test-app.test-support.js';
import { directWriteStats } from '../../blobstore/fs/direct-write.js';
import { sendfileAvailable, sendfileStats } from './send-file.js';

let t: TestApp;
let app: TestApp['app'];
let base = '';
let authorization = '';
const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
const data = randomBytes(24 * 1024 * 1024 + 123);
const digest = `sha256:${createHash('sha256').update(data).digest('hex')}`;

function get(path: string, headers: Record<string, string> = {}): Promise<{ status: number; headers: http.IncomingHttpHeaders; body: Buffer; socket: unknown }> {
  return new Promise((resolve, reject) => {
    let socket: unknown;
    const r = http.request(`${base}${path}`, { agent, headers: { authorization, ...headers } }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks), socket }));
      res.on('error', reject);
    });
    r.on('socket', (s) => (socket = s)).on('error', reject).end();
  });
}

beforeAll(async () => {
  t = await startTestApp('sendfile', { listen: true });
  ({ app, authorization } = t);
  base = `http://127.0.0.1:${t.port}`;
  const put = await app.http.inject({ method: 'POST', url: `/v2/dl/sendfile/blobs/uploads/?digest=${digest}`, headers: { authorization, 'content-type': 'application/octet-stream' }, payload: data });
  expect(put.statusCode).toBe(201);
});
afterAll(async () => {
  agent.destroy();
  await t.close();
});

// sendfile(2) as used here is Linux's; elsewhere the optional package is not installed and blobs stream.
describe.skipIf(process.platform !== 'linux')('blob downloads through sendfile', () => {
  it('has the native part built (npm ci builds native/sendfile with node-gyp)', () => {
    expect(sendfileAvailable).toBe(true);
  });

  it('sends whole blobs and ranges intact, with their headers, on one kept-alive connection', async () => {
    const before = sendfileStats.started;
    const whole = await get(`/v2/dl/sendfile/blobs/${digest}`);
    expect(whole.status).toBe(200);
    expect(whole.headers['content-length']).toBe(String(data.length));
    expect(whole.headers['docker-content-digest']).toBe(digest);
    expect(whole.headers['x-request-id']).toBeTruthy();
    expect(whole.body.equals(data)).toBe(true);
    const start = 5 * 1024 * 1024 + 7;
    const end = start + 3 * 1024 * 1024;
    const part = await get(`/v2/dl/sendfile/blobs/${digest}`, { range: `bytes=${start}-${end}` });
    expect(part.status).toBe(206);
    expect(part.headers['content-range']).toBe(`bytes ${start}-${end}/${data.length}`);
    expect(part.body.equals(data.subarray(start, end + 1))).toBe(true);
    expect(part.socket).toBe(whole.socket);
    // Ranges up to 256 KiB go through sendfile(2), larger ones through the copy: both arrive intact.
    const small = await get(`/v2/dl/sendfile/blobs/${digest}`, { range: `bytes=1000-${1000 + 100 * 1024 - 1}` });
    expect(small.status).toBe(206);
    expect(small.body.equals(data.subarray(1000, 1000 + 100 * 1024))).toBe(true);
    const last = await get(`/v2/dl/sendfile/blobs/${digest}`, { range: `bytes=-1` });
    expect(last.status).toBe(206);
    expect(last.body.equals(data.subarray(data.length - 1))).toBe(true);
    expect(last.socket).toBe(whole.socket);
    expect(sendfileStats.started - before).toBe(4);
  });

  it('counts the native sends in /metrics', async () => {
    await get(`/v2/dl/sendfile/blobs/${digest}`, { range: 'bytes=0-99' });
    const res = await app.http.inject({ method: 'GET', url: '/metrics' });
    const line = /^berth_blob_native_sends_total (\d+)$/m.exec(res.body);
    expect(line).not.toBeNull();
    expect(Number(line?.[1])).toBeGreaterThan(0);
    expect(Number(line?.[1])).toBe(sendfileStats.started);
  });

  it('counts in /metrics the bytes the upload wrote with O_DIRECT (all but the unaligned tail of the 24 MiB blob)', async () => {
    const res = await app.http.inject({ method: 'GET', url: '/metrics' });
    const line = /^berth_blob_direct_written_bytes_total (\d+)$/m.exec(res.body);
    expect(Number(line?.[1])).toBe(directWriteStats.bytes);
    expect(directWriteStats.bytes).toBeGreaterThanOrEqual(data.length - 4095);
  });

  it('waits for a reader that pauses (the socket stays full) without losing a byte', async () => {
    const before = sendfileStats.started;
    const body = await new Promise<Buffer>((resolve, reject) => {
      const r = http.request(`${base}/v2/dl/sendfile/blobs/${digest}`, { headers: { authorization } }, (res) => {
        const chunks: Buffer[] = [];
        let pauses = 0;
        res.on('data', (c: Buffer) => {
          chunks.push(c);
          // Three pauses longer than the native part's 50 ms wait for room.
          if (pauses < 3 && chunks.length % 40 === 1) {
            pauses++;
            res.pause();
            setTimeout(() => res.resume(), 200);
          }
        });
        res.on('end', () => resolve(Buffer.concat(chunks)));
        res.on('error', reject);
      });
      r.on('error', reject).end();
    });
    expect(body.equals(data)).toBe(true);
    expect(sendfileStats.started - before).toBe(1);
  });

  it('survives a client that goes away mid-download, and serves the next one', async () => {
    await new Promise<void>((resolve, reject) => {
      const r = http.request(`${base}/v2/dl/sendfile/blobs/${digest}`, { headers: { authorization } }, (res) => {
        res.once('data', () => {
          r.destroy();
          resolve();
        });
      });
      r.on('error', () => undefined).end();
      setTimeout(() => reject(new Error('no data')), 10_000);
    });
    const again = await get(`/v2/dl/sendfile/blobs/${digest}`);
    expect(again.status).toBe(200);
    expect(again.body.equals(data)).toBe(true);
  });
});
