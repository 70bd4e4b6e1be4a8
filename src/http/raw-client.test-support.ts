/**
 * A raw HTTP/1.1 client for tests of what crosses the socket (socket-reads.test.ts,
 * chunked-reads.test.ts): bytes written exactly as given, with pauses, and the responses parsed.
 */
import http from 'node:http';
import net from 'node:net';
import { setTimeout as delay } from 'node:timers/promises';

export interface RawResponse {
  status: number;
  headers: Record<string, string>;
  body: string;
}

export interface RawExchange {
  responses: RawResponse[];
  /** The server closed the connection. */
  closed: boolean;
}

/** Splits what the server sent into responses (each with a Content-Length body). */
export function parseResponses(text: string): RawResponse[] {
  const out: RawResponse[] = [];
  let rest = text;
  for (;;) {
    const end = rest.indexOf('\r\n\r\n');
    if (end < 0) return out;
    const lines = rest.slice(0, end).split('\r\n');
    const headers: Record<string, string> = {};
    for (const l of lines.slice(1)) {
      const i = l.indexOf(':');
      if (i > 0) headers[l.slice(0, i).toLowerCase()] = l.slice(i + 1).trim();
    }
    const length = Number(headers['content-length'] ?? 0);
    if (rest.length < end + 4 + length) return out;
    out.push({ status: Number(lines[0]?.split(' ')[1] ?? 0), headers, body: rest.slice(end + 4, end + 4 + length) });
    rest = rest.slice(end + 4 + length);
  }
}

/**
 * Sends `parts` on one new connection (a number: a pause of that many ms); reads until `expect`
 * whole responses arrived, then waits `linger` ms more to see whether the server closes.
 */
export async function raw(port: number, parts: (string | Buffer | number)[], expect = 1, linger = 100): Promise<RawExchange> {
  const socket = net.connect(port, '127.0.0.1');
  await new Promise<void>((resolve, reject) => socket.once('connect', resolve).once('error', reject));
  let text = '';
  let closed = false;
  let arrived: () => void = () => undefined;
  const enough = new Promise<void>((resolve) => (arrived = resolve));
  socket.on('data', (c: Buffer) => {
    text += c.toString('latin1');
    if (parseResponses(text).length >= expect) arrived();
  });
  socket.on('error', () => undefined);
  const ended = new Promise<void>((resolve) => socket.once('close', () => ((closed = true), resolve())));
  for (const p of parts) {
    // The server may answer and close before the client has sent everything (a refused body).
    if (closed) break;
    if (typeof p === 'number') await delay(p);
    else if (!socket.write(p)) await Promise.race([new Promise((r) => socket.once('drain', r)), ended]);
  }
  await Promise.race([enough, ended, delay(10_000)]);
  await Promise.race([ended, delay(linger)]);
  socket.destroy();
  return { responses: parseResponses(text), closed };
}

/** GET of a blob on a connection of its own (a kept-alive one could outlive the server's close: see afterAll). */
export function blob(port: number, authorization: string, repo: string, digest: string): Promise<{ status: number; body: Buffer }> {
  return new Promise((resolve, reject) => {
    const r = http.get({ host: '127.0.0.1', port, path: `/v2/${repo}/blobs/${digest}`, agent: false, headers: { authorization, connection: 'close' } }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks) }));
      res.on('error', reject);
    });
    r.on('error', reject);
  });
}

