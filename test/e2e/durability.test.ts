/**
 * Durability and multi-node claims, against real server processes:
 * - SIGKILL in the middle of pushes: every acknowledged push pulls back intact after a
 *   restart, and no blob is visible with wrong or partial content.
 * - An upload session survives a restart, and continues on another node that shares
 *   the data directory (SQLite file + blob directory).
 * - Path tricks sent byte-for-byte (no client-side normalisation) get NAME_INVALID.
 */
import { loginHeader } from '../support/registry-auth.js';
import { createHash, randomBytes } from 'node:crypto';
import http from 'node:http';
import { connect } from 'node:net';
import { afterAll, describe, expect, it } from 'vitest';
import { startBerth, type RunningServer } from '../support/server.js';

const sha256 = (b: Buffer | string): string => `sha256:${createHash('sha256').update(b).digest('hex')}`;

interface Res {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: Buffer;
}

function request(base: string, method: string, path: string, body?: Buffer | ((req: http.ClientRequest) => void), headers: Record<string, string> = {}): Promise<Res> {
  return new Promise((resolve, reject) => {
    const login = loginHeader(new URL(base).host);
    const req = http.request(new URL(path, base), { method, headers: { ...(login ? { authorization: login } : {}), ...headers }, agent: false }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks) }));
      res.on('error', reject);
    });
    req.on('error', reject);
    if (typeof body === 'function') body(req);
    else req.end(body);
  });
}

/** Sends a body slowly, in 64 KiB pieces, so the push is still running when the server dies. */
function slowBody(data: Buffer, pauseMs: number): (req: http.ClientRequest) => void {
  return (req) => {
    let off = 0;
    const step = (): void => {
      if (req.destroyed) return;
      if (off >= data.length) {
        req.end();
        return;
      }
      req.write(data.subarray(off, off + 65536));
      off += 65536;
      setTimeout(step, pauseMs);
    };
    step();
  };
}

const servers: RunningServer[] = [];
afterAll(async () => {
  for (const s of servers) await s.stop().catch(() => undefined);
});

describe('durability', () => {
  it('keeps every acknowledged push intact across SIGKILL, and shows no partial blob', async () => {
    const server = await startBerth({ target: 'berth' });
    servers.push(server);
    // Half of them 4 MiB or more: the filesystem driver writes those with O_DIRECT (direct-write.ts).
    const blobs = Array.from({ length: 16 }, (_, i) => randomBytes((i % 4 < 2 ? 4 * 1024 * 1024 : 256 * 1024) + i * 4099));
    const acked = new Set<number>();
    const attempts = blobs.map(async (data, i) => {
      try {
        // One in four is sent with Transfer-Encoding: chunked (no Content-Length), as skopeo and podman send layers.
        const length = i % 4 === 1 ? {} : { 'content-length': String(data.length) };
        const r = await request(server.url, 'POST', `/v2/crash/test/blobs/uploads/?digest=${sha256(data)}`, slowBody(data, i % 2 === 0 ? 1 : 250), {
          'content-type': 'application/octet-stream',
          ...length,
        });
        if (r.status === 201) acked.add(i);
      } catch {
        // the connection died with the server
      }
    });
    await new Promise((r) => setTimeout(r, 400));
    // The large bodies and the chunked ones are read from the socket natively (src/http/socket-reads.ts, chunked-reads.ts).
    const metrics = await request(server.url, 'GET', '/metrics');
    expect(Number(/^berth_blob_native_receives_total (\d+)$/m.exec(metrics.body.toString())?.[1] ?? 0), 'large bodies read natively').toBeGreaterThan(0);
    await server.kill('SIGKILL');
    await Promise.all(attempts);
    expect(acked.size, 'some pushes finished before the kill').toBeGreaterThan(0);
    expect(acked.size, 'some pushes were still running at the kill').toBeLessThan(blobs.length);
    expect([...acked].some((i) => blobs[i]!.length >= 4 * 1024 * 1024), 'a large push finished before the kill').toBe(true);

    await server.restart();
    for (const [i, data] of blobs.entries()) {
      const r = await request(server.url, 'GET', `/v2/crash/test/blobs/${sha256(data)}`);
      if (acked.has(i)) expect(r.status, `acknowledged blob ${i}`).toBe(200);
      if (r.status === 200) expect(sha256(r.body), `blob ${i} content`).toBe(sha256(data));
      else expect(r.status).toBe(404);
    }
  });

  it('continues an upload session after a restart and on another node', async () => {
    const a = await startBerth({ target: 'berth' });
    servers.push(a);
    const b = await startBerth({ target: 'berth', dataDir: a.dataDir });
    servers.push(b);
    const data = randomBytes(3 * 1024 * 1024 + 17);
    const start = await request(a.url, 'POST', '/v2/multi/node/blobs/uploads/');
    expect(start.status).toBe(202);
    const location = String(start.headers.location);
    const p1 = await request(a.url, 'PATCH', location, data.subarray(0, 1_000_000), { 'content-range': '0-999999' });
    expect(p1.headers.range).toBe('0-999999');

    await a.restart();
    const status = await request(a.url, 'GET', location);
    expect(status.headers.range).toBe('0-999999');
    const p2 = await request(a.url, 'PATCH', location, data.subarray(1_000_000, 2_000_000), { 'content-range': '1000000-1999999' });
    expect(p2.status).toBe(202);

    // node B finishes what node A started
    const done = await request(b.url, 'PUT', `${location}${location.includes('?') ? '&' : '?'}digest=${sha256(data)}`, data.subarray(2_000_000), { 'content-range': `2000000-${data.length - 1}` });
    expect(done.status, done.body.toString()).toBe(201);
    const back = await request(a.url, 'GET', `/v2/multi/node/blobs/${sha256(data)}`);
    expect(sha256(back.body)).toBe(sha256(data));

    const wrong = await request(b.url, 'POST', '/v2/multi/node/blobs/uploads/');
    const loc2 = String(wrong.headers.location);
    await request(b.url, 'PATCH', loc2, Buffer.from('abc'));
    await a.restart();
    const bad = await request(a.url, 'PUT', `${loc2}${loc2.includes('?') ? '&' : '?'}digest=${sha256('abd')}`);
    expect(bad.status).toBe(400);
    expect(JSON.parse(bad.body.toString()).errors[0].code).toBe('DIGEST_INVALID');
  });

  it('keeps nothing of a truncated or oversized chunk, and the session continues', async () => {
    const server = await startBerth({ target: 'berth' });
    servers.push(server);
    const data = randomBytes(200_000);
    const start = await request(server.url, 'POST', '/v2/bad/chunks/blobs/uploads/');
    const location = String(start.headers.location);
    await request(server.url, 'PATCH', location, data.subarray(0, 50_000), { 'content-range': '0-49999' });

    // Truncated: Content-Length promises 100,000 bytes, the client sends 30,000 and hangs up.
    await new Promise<void>((resolve) => {
      const sock = connect(server.port, '127.0.0.1', () => {
        sock.write(`PATCH ${location} HTTP/1.1\r\nHost: x\r\nContent-Type: application/octet-stream\r\nContent-Range: 50000-149999\r\nContent-Length: 100000\r\nAuthorization: ${loginHeader(server.host)}\r\n\r\n`);
        sock.write(data.subarray(50_000, 80_000), () => setTimeout(() => sock.destroy(), 200));
      });
      sock.on('close', () => resolve());
      sock.on('error', () => resolve());
    });
    await new Promise((r) => setTimeout(r, 300));
    expect((await request(server.url, 'GET', location)).headers.range).toBe('0-49999');

    // Oversized: a chunked body that runs past its Content-Range.
    const over = await request(
      server.url,
      'PATCH',
      location,
      (req) => {
        req.write(data.subarray(50_000, 100_000));
        req.end(data.subarray(100_000, 120_000));
      },
      { 'content-range': '50000-99999', 'transfer-encoding': 'chunked' },
    );
    expect(over.status).toBe(400);
    expect(JSON.parse(over.body.toString()).errors[0].code).toBe('BLOB_UPLOAD_INVALID');
    expect((await request(server.url, 'GET', location)).headers.range).toBe('0-49999');

    const rest = await request(server.url, 'PATCH', location, data.subarray(50_000), { 'content-range': `50000-${data.length - 1}` });
    expect(rest.headers.range).toBe(`0-${data.length - 1}`);
    const done = await request(server.url, 'PUT', `${location}${location.includes('?') ? '&' : '?'}digest=${sha256(data)}`);
    expect(done.status).toBe(201);
    expect(sha256((await request(server.url, 'GET', `/v2/bad/chunks/blobs/${sha256(data)}`)).body)).toBe(sha256(data));
  });

  it('answers NAME_INVALID to path tricks sent without normalisation', async () => {
    const server = await startBerth({ target: 'berth' });
    servers.push(server);
    const raw = (path: string): Promise<string> =>
      new Promise((resolve, reject) => {
        const sock = connect(server.port, '127.0.0.1', () => {
          sock.write(`GET ${path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\nAuthorization: ${loginHeader(server.host)}\r\n\r\n`);
        });
        let out = '';
        sock.on('data', (c: Buffer) => (out += c.toString()));
        sock.on('end', () => resolve(out));
        sock.on('error', reject);
      });
    for (const path of ['/v2/a/../b/tags/list', '/v2/a/%2e%2e/b/tags/list', '/v2/%2e%2e/tags/list', '/v2//etc/passwd/tags/list', '/v2/a/%2Fetc/tags/list']) {
      const res = await raw(path);
      expect(res.split('\r\n')[0], path).toMatch(/^HTTP\/1\.1 400/);
      expect(res, path).toContain('NAME_INVALID');
    }
  });
});
