/**
 * Graceful shutdown with a kept-alive client: a download running when the server starts closing
 * finishes, and its connection is closed once it is idle, so the close completes at once instead
 * of waiting for the client (or for shutdownTimeoutSeconds).
 */
import { createHash, randomBytes } from 'node:crypto';
import http from 'node:http';
import { setTimeout as delay } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestApp, type TestApp } from '../app/test-app.test-support.js';

let t: TestApp;
let closed = false;
const data = randomBytes(16 * 1024 * 1024);
const digest = `sha256:${createHash('sha256').update(data).digest('hex')}`;

beforeAll(async () => {
  t = await startTestApp('server-close', { listen: true });
  const put = await t.app.http.inject({ method: 'POST', url: `/v2/close/blob/blobs/uploads/?digest=${digest}`, headers: { authorization: t.authorization, 'content-type': 'application/octet-stream' }, payload: data });
  expect(put.statusCode).toBe(201);
});
afterAll(() => t.close({ appClosed: closed }));

describe('closing the server', () => {
  it('lets a running download finish, then closes its kept-alive connection at once', async () => {
    const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
    try {
      let closing: Promise<void> | null = null;
      const received = await new Promise<Buffer>((resolve, reject) => {
        http
          .get({ host: '127.0.0.1', port: t.port, path: `/v2/close/blob/blobs/${digest}`, agent, headers: { authorization: t.authorization } }, (res) => {
            expect(res.headers.connection).toBe('keep-alive');
            const chunks: Buffer[] = [];
            res.on('data', (c: Buffer) => {
              chunks.push(c);
              if (closing) return;
              // The server starts closing while this response is running.
              res.pause();
              closing = t.app.close().then(() => void (closed = true));
              void delay(200).then(() => res.resume());
            });
            res.on('end', () => resolve(Buffer.concat(chunks)));
            res.on('error', reject);
          })
          .on('error', reject);
      });
      expect(received.equals(data)).toBe(true);
      expect(closing).not.toBeNull();
      const started = Date.now();
      await Promise.race([closing, delay(5000)]);
      expect(closed).toBe(true);
      expect(Date.now() - started).toBeLessThan(5000);
    } finally {
      agent.destroy();
    }
  });
});
