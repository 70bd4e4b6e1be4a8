/**
 * Upload bodies read from the socket by the native part (socket-reads.ts), against a listening
 * server and raw sockets: the bytes arrive intact, the connection is kept for the next request, what
 * the client sends after the body is never taken for it and is answered, a pause or a client that
 * goes away midway is handled, and bodies the filesystem driver writes buffered (under one O_DIRECT staging buffer)
 * stream as before on a kept-alive connection.
 */
import { createHash, randomBytes } from 'node:crypto';
import http from 'node:http';
import net from 'node:net';
import { setTimeout as delay } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestApp, type TestApp } from '../app/test-app.test-support.js';
import { native } from '../native.js';
import { STAGE } from '../blobstore/fs/direct-write.js';
import { socketReadStats } from './socket-reads.js';
import { blob as getBlob, raw as rawExchange } from './raw-client.test-support.js';

let t: TestApp;
let port = 0;
let authorization = '';

const sha256 = (b: Buffer): string => `sha256:${createHash('sha256').update(b).digest('hex')}`;

const raw = (parts: (string | Buffer | number)[], expect?: number, linger?: number): ReturnType<typeof rawExchange> => rawExchange(port, parts, expect, linger);
const blob = (repo: string, digest: string): ReturnType<typeof getBlob> => getBlob(port, authorization, repo, digest);

const post = (repo: string, digest: string, length: number): string =>
  `POST /v2/${repo}/blobs/uploads/?digest=${digest} HTTP/1.1\r\nHost: x\r\nAuthorization: ${authorization}\r\nContent-Type: application/octet-stream\r\nContent-Length: ${length}\r\n\r\n`;

beforeAll(async () => {
  t = await startTestApp('socket-reads', { listen: true });
  ({ port, authorization } = t);
});
afterAll(() => t.close());

// recvInto is in the optional native part (Linux); elsewhere bodies stream and these do not apply.
describe.skipIf(process.platform !== 'linux')('upload bodies read from the socket natively', () => {
  it('has the native part built (npm ci builds native/sendfile with node-gyp)', () => {
    expect(typeof native.recvInto).toBe('function');
  });

  it('stores a single-request upload intact and keeps the connection for the next request', async () => {
    const data = randomBytes(STAGE + 3 * 1024 * 1024 + 5);
    const digest = sha256(data);
    const before = socketReadStats.taken;
    const next = `GET /v2/ HTTP/1.1\r\nHost: x\r\nAuthorization: ${authorization}\r\n\r\n`;
    // The next request goes after the first response, on the same connection.
    const { responses, closed } = await raw([post('sr/one', digest, data.length), data, 300, next], 2);
    expect(responses.map((r) => r.status)).toEqual([201, 200]);
    expect(responses[0]!.headers['docker-content-digest']).toBe(digest);
    expect(responses[0]!.headers.connection).toBe('keep-alive');
    expect(closed).toBe(false);
    expect(socketReadStats.taken).toBe(before + 1);
    const metrics = await t.app.http.inject({ method: 'GET', url: '/metrics' });
    expect(/^berth_blob_native_receives_total (\d+)$/m.exec(metrics.body)?.[1]).toBe(String(socketReadStats.taken));
    const got = await blob('sr/one', digest);
    expect(got.status).toBe(200);
    expect(got.body.equals(data)).toBe(true);
    expect(socketReadStats.active).toBe(0);
  });

  it('never takes what the client sends after the body for the body, and answers it (a pipelined request)', async () => {
    const data = randomBytes(STAGE + 2 * 1024 * 1024);
    const digest = sha256(data);
    const next = `GET /v2/ HTTP/1.1\r\nHost: x\r\nAuthorization: ${authorization}\r\n\r\n`;
    // One write: the next request follows the body's last byte in the same segment.
    const { responses } = await raw([Buffer.concat([Buffer.from(post('sr/pipelined', digest, data.length)), data, Buffer.from(next)])], 2);
    expect(responses.map((r) => r.status)).toEqual([201, 200]);
    expect(responses[0]!.headers['docker-content-digest']).toBe(digest);
    expect((await blob('sr/pipelined', digest)).body.equals(data)).toBe(true);
  });

  it('waits for a client that pauses midway, then stores the whole body', async () => {
    const data = randomBytes(STAGE + 4 * 1024 * 1024 + 100);
    const digest = sha256(data);
    const { responses } = await raw([post('sr/paused', digest, data.length), data.subarray(0, 1_500_000), 300, data.subarray(1_500_000, 3_000_000), 150, data.subarray(3_000_000)]);
    expect(responses[0]?.status).toBe(201);
    expect((await blob('sr/paused', digest)).body.equals(data)).toBe(true);
  });

  it('refuses a body whose digest is wrong and stores nothing', async () => {
    const data = randomBytes(STAGE + 2 * 1024 * 1024);
    const wrong = sha256(Buffer.from('something else'));
    const { responses } = await raw([post('sr/wrong', wrong, data.length), data]);
    expect(responses[0]?.status).toBe(400);
    expect(responses[0]?.body).toContain('DIGEST_INVALID');
    expect((await blob('sr/wrong', wrong)).status).toBe(404);
    expect((await blob('sr/wrong', sha256(data))).status).toBe(404);
  });

  it('stores nothing when the client goes away midway, and gives its place back', async () => {
    const data = randomBytes(STAGE + 4 * 1024 * 1024);
    const digest = sha256(data);
    const socket = net.connect(port, '127.0.0.1');
    await new Promise((r) => socket.once('connect', r));
    socket.on('error', () => undefined);
    socket.write(post('sr/gone', digest, data.length));
    socket.write(data.subarray(0, 1024 * 1024 + 17));
    await delay(100);
    socket.destroy();
    for (let i = 0; i < 50 && socketReadStats.active > 0; i++) await delay(20);
    expect(socketReadStats.active).toBe(0);
    expect((await blob('sr/gone', digest)).status).toBe(404);
    // The server is fine: the same blob uploads afterwards.
    const again = await raw([post('sr/gone', digest, data.length), data]);
    expect(again.responses[0]?.status).toBe(201);
  });

  it('reads chunked PATCHes natively, all on one kept-alive connection', async () => {
    const data = randomBytes(3 * STAGE + 3);
    const digest = sha256(data);
    const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
    const sockets = new Set<unknown>();
    const request = (method: string, path: string, headers: Record<string, string>, body?: Buffer): Promise<http.IncomingMessage> =>
      new Promise((resolve, reject) => {
        const r = http.request({ host: '127.0.0.1', port, method, path, agent, headers: { authorization, ...headers } }, (res) => {
          res.resume();
          res.on('end', () => resolve(res));
        });
        r.on('socket', (s) => sockets.add(s));
        r.on('error', reject);
        r.end(body);
      });
    try {
      const before = socketReadStats.taken;
      let res = await request('POST', '/v2/sr/chunked/blobs/uploads/', { 'content-length': '0' });
      expect(res.statusCode).toBe(202);
      let location = res.headers.location!;
      const step = STAGE + 1;
      for (let start = 0; start < data.length; start += step) {
        const chunk = data.subarray(start, Math.min(data.length, start + step));
        res = await request('PATCH', location, { 'content-type': 'application/octet-stream', 'content-length': String(chunk.length), 'content-range': `${start}-${start + chunk.length - 1}` }, chunk);
        expect(res.statusCode).toBe(202);
        expect(res.headers.range).toBe(`0-${start + chunk.length - 1}`);
        location = res.headers.location!;
      }
      expect(socketReadStats.taken).toBe(before + 3);
      res = await request('PUT', `${location}${location.includes('?') ? '&' : '?'}digest=${digest}`, { 'content-length': '0' });
      expect(res.statusCode).toBe(201);
      expect((await blob('sr/chunked', digest)).body.equals(data)).toBe(true);
      expect(sockets.size).toBe(1);
    } finally {
      agent.destroy();
    }
  });

  it('streams a body the writer takes no O_DIRECT path for, as before', async () => {
    const data = randomBytes(STAGE - 1);
    const digest = sha256(data);
    const before = socketReadStats.taken;
    const { responses, closed } = await raw([post('sr/small', digest, data.length), data]);
    expect(responses[0]?.status).toBe(201);
    expect(responses[0]?.headers.connection).toBe('keep-alive');
    expect(closed).toBe(false);
    expect(socketReadStats.taken).toBe(before);
    expect((await blob('sr/small', digest)).body.equals(data)).toBe(true);
  });
});
