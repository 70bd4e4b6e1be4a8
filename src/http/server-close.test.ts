/**
 * Graceful shutdown with a kept-alive client: a download running when the server starts closing
 * finishes, and its connection is closed once it is idle, so the close completes at once instead
 * of waiting for the client (or for shutdownTimeoutSeconds).
 */
import { createHash, randomBytes } from 'node:crypto';
import http from 'node:http';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildApp, type App } from '../app/build.js';
import { loadConfig } from '../config/load.js';

const ROOT_KEY = 'AKIASERVERCLOSEROOT1';
let app: App;
let dir: string;
let port = 0;
let authorization = '';
let closed = false;
const data = randomBytes(16 * 1024 * 1024);
const digest = `sha256:${createHash('sha256').update(data).digest('hex')}`;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'berth-server-close-'));
  const config = loadConfig({ env: { BERTH_ROOT_ACCESS_KEY_ID: ROOT_KEY, BERTH_ROOT_SECRET_ACCESS_KEY: 'server-close-test-secret' }, flags: { dataDir: dir } });
  app = await buildApp(config, pino({ level: 'silent' }), {});
  port = Number(new URL(await app.http.listen({ host: '127.0.0.1', port: 0 })).port);
  const { token } = await app.auth.loginToken(await app.auth.resolve({ t: 'r', a: ROOT_KEY }), 3600_000);
  authorization = `Basic ${Buffer.from(`AWS:${token}`).toString('base64')}`;
  const put = await app.http.inject({ method: 'POST', url: `/v2/close/blob/blobs/uploads/?digest=${digest}`, headers: { authorization, 'content-type': 'application/octet-stream' }, payload: data });
  expect(put.statusCode).toBe(201);
});
afterAll(async () => {
  if (!closed) await app.close();
  await rm(dir, { recursive: true, force: true });
});

describe('closing the server', () => {
  it('lets a running download finish, then closes its kept-alive connection at once', async () => {
    const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
    try {
      let closing: Promise<void> | null = null;
      const received = await new Promise<Buffer>((resolve, reject) => {
        http
          .get({ host: '127.0.0.1', port, path: `/v2/close/blob/blobs/${digest}`, agent, headers: { authorization } }, (res) => {
            expect(res.headers.connection).toBe('keep-alive');
            const chunks: Buffer[] = [];
            res.on('data', (c: Buffer) => {
              chunks.push(c);
              if (closing) return;
              // The server starts closing while this response is running.
              res.pause();
              closing = app.close().then(() => void (closed = true));
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
