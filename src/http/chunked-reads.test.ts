/**
 * Upload bodies sent with Transfer-Encoding: chunked, held back from Node.js's parser and decoded
 * from the socket by the native part (chunked-reads.ts), against a listening server and raw
 * sockets: the bytes arrive intact whatever the framing and however it is split across writes, the
 * connection is kept, what follows the body is answered, malformed framing or a body that never
 * ends stores nothing, and a held body nobody takes goes back to the parser.
 */
import { createHash, randomBytes } from 'node:crypto';
import net from 'node:net';
import { setTimeout as delay } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestApp, type TestApp } from '../app/test-app.test-support.js';
import { native } from '../native.js';
import { LINGER_MS, lingerStats } from './linger-close.js';
import { socketReadStats } from './socket-reads.js';
import { blob as getBlob, parseResponses, raw as rawExchange } from './raw-client.test-support.js';

let t: TestApp;
let port = 0;
let authorization = '';

const sha256 = (b: Buffer): string => `sha256:${createHash('sha256').update(b).digest('hex')}`;
const raw = (parts: (string | Buffer | number)[], expect?: number, linger?: number): ReturnType<typeof rawExchange> => rawExchange(port, parts, expect, linger);
const blob = (repo: string, digest: string): ReturnType<typeof getBlob> => getBlob(port, authorization, repo, digest);

/** `data` framed as chunks of the given sizes (cycled), with the last chunk and an empty trailer section. */
function chunked(data: Buffer, sizes: number[], o: { extension?: string; trailer?: string; upper?: boolean } = {}): Buffer {
  const parts: Buffer[] = [];
  for (let at = 0, i = 0; at < data.length; i++) {
    const n = Math.min(sizes[i % sizes.length]!, data.length - at);
    const size = o.upper ? n.toString(16).toUpperCase() : n.toString(16);
    parts.push(Buffer.from(`${size}${o.extension ?? ''}\r\n`), data.subarray(at, at + n), Buffer.from('\r\n'));
    at += n;
  }
  parts.push(Buffer.from(`0\r\n${o.trailer ?? ''}\r\n`));
  return Buffer.concat(parts);
}

/** A new upload session in `repo`: the path of its Location. */
async function session(repo: string): Promise<string> {
  const { responses } = await raw([`POST /v2/${repo}/blobs/uploads/ HTTP/1.1\r\nHost: x\r\nAuthorization: ${authorization}\r\nContent-Length: 0\r\n\r\n`]);
  expect(responses[0]?.status).toBe(202);
  return responses[0]!.headers.location!;
}

const patch = (location: string, auth = authorization): string =>
  `PATCH ${location} HTTP/1.1\r\nHost: x\r\nAuthorization: ${auth}\r\nContent-Type: application/octet-stream\r\nTransfer-Encoding: chunked\r\n\r\n`;
const put = (location: string, digest: string): string =>
  `PUT ${location}${location.includes('?') ? '&' : '?'}digest=${digest} HTTP/1.1\r\nHost: x\r\nAuthorization: ${authorization}\r\nContent-Length: 0\r\n\r\n`;
const ping = (): string => `GET /v2/ HTTP/1.1\r\nHost: x\r\nAuthorization: ${authorization}\r\n\r\n`;

/**
 * A PATCH whose chunked framing breaks at once, then 2 MiB more that the client sends after the
 * server has answered (its socket half-open, so it can): the statuses it read and its socket's errors.
 */
async function sendOnAfterRefusal(location: string, auth: string): Promise<string> {
  const socket = net.connect({ port, host: '127.0.0.1', allowHalfOpen: true });
  await new Promise<void>((resolve, reject) => socket.once('connect', resolve).once('error', reject));
  let text = '';
  const errors: string[] = [];
  socket.on('data', (c: Buffer) => (text += c.toString('latin1')));
  socket.on('error', (e: Error & { code?: string }) => errors.push(e.code ?? e.message));
  const closed = new Promise<void>((resolve) => socket.once('close', () => resolve()));
  socket.write(Buffer.concat([Buffer.from(patch(location, auth)), Buffer.from('5\r\nhello\r\nZZ\r\n')]));
  for (let waited = 0; !text.includes('\r\n\r\n') && waited < 5000; waited += 10) await delay(10);
  await delay(50); // a second answer (the parser's 400 after a refusal) comes right after the first
  for (let k = 0; k < 32 && errors.length === 0 && !socket.destroyed; k++) {
    if (!socket.write(randomBytes(64 * 1024))) await Promise.race([new Promise((r) => socket.once('drain', r)), closed]);
  }
  socket.end();
  await Promise.race([closed, delay(LINGER_MS + 3000)]);
  socket.destroy();
  return `${parseResponses(text).map((r) => r.status).join(',') || 'none'}:${errors.join('+') || 'no error'}`;
}

async function waitIdle(): Promise<void> {
  for (let i = 0; i < 100 && socketReadStats.active > 0; i++) await delay(20);
}

beforeAll(async () => {
  t = await startTestApp('chunked-reads', { listen: true });
  ({ port, authorization } = t);
});
afterAll(() => t.close());

describe.skipIf(process.platform !== 'linux')('chunked upload bodies decoded from the socket natively', () => {
  it('has the native decoder built (npm ci builds native/sendfile with node-gyp)', () => {
    expect(typeof native.recvChunkedInto).toBe('function');
    expect(typeof native.chunkedTake).toBe('function');
  });

  it('stores a layer sent the way containers/image sends it (32 KiB chunks), then serves the next request on the same connection', async () => {
    const data = randomBytes(9 * 1024 * 1024 + 12_345);
    const digest = sha256(data);
    const location = await session('cr/layer');
    const before = socketReadStats.taken;
    const { responses, closed } = await raw([patch(location), chunked(data, [32 * 1024]), 200, ping()], 2);
    expect(responses.map((r) => r.status)).toEqual([202, 200]);
    expect(responses[0]!.headers.range).toBe(`0-${data.length - 1}`);
    expect(responses[0]!.headers.connection).toBe('keep-alive');
    expect(closed).toBe(false);
    expect(socketReadStats.taken).toBe(before + 1);
    expect((await raw([put(responses[0]!.headers.location!, digest)])).responses[0]?.status).toBe(201);
    expect((await blob('cr/layer', digest)).body.equals(data)).toBe(true);
    expect(socketReadStats.active).toBe(0);
  });

  it('decodes any framing: odd sizes, extensions, upper-case hex, a trailer section, split anywhere across writes', async () => {
    const data = randomBytes(3 * 1024 * 1024 + 7);
    const digest = sha256(data);
    const location = await session('cr/framing');
    const upper = chunked(data, [1, 0xabcdef % 70_000, 4095, 1_000_003, 17], { extension: ';name=value;x', trailer: 'X-Trailer: yes\r\n', upper: true });
    expect(upper.includes('FFF;name')).toBe(true);
    // Writes that end inside size lines, extensions, data and CRLFs, with pauses between.
    const parts: (Buffer | string | number)[] = [patch(location)];
    for (let at = 0, i = 0; at < upper.length; i++) {
      const n = [3, 9, 65_536 + 5, 1, 700_001][i % 5]!;
      parts.push(upper.subarray(at, at + n));
      if (i % 7 === 0) parts.push(15);
      at += n;
    }
    const { responses } = await raw(parts);
    expect(responses[0]?.status).toBe(202);
    expect(responses[0]!.headers.range).toBe(`0-${data.length - 1}`);
    expect((await raw([put(responses[0]!.headers.location!, digest)])).responses[0]?.status).toBe(201);
    expect((await blob('cr/framing', digest)).body.equals(data)).toBe(true);
  });

  it('takes a small body that came whole with its headers, and answers the request pipelined after it', async () => {
    const data = randomBytes(1500);
    const digest = sha256(data);
    const location = await session('cr/small');
    const before = socketReadStats.taken;
    const { responses } = await raw([Buffer.concat([Buffer.from(patch(location)), chunked(data, [1000]), Buffer.from(ping())])], 2);
    expect(responses.map((r) => r.status)).toEqual([202, 200]);
    expect(socketReadStats.taken).toBe(before + 1);
    expect((await raw([put(responses[0]!.headers.location!, digest)])).responses[0]?.status).toBe(201);
    expect((await blob('cr/small', digest)).body.equals(data)).toBe(true);
  });

  it('stores a monolithic POST with a chunked body', async () => {
    const data = randomBytes(5 * 1024 * 1024);
    const digest = sha256(data);
    const head = `POST /v2/cr/mono/blobs/uploads/?digest=${digest} HTTP/1.1\r\nHost: x\r\nAuthorization: ${authorization}\r\nTransfer-Encoding: chunked\r\n\r\n`;
    const { responses } = await raw([head, chunked(data, [65_536])]);
    expect(responses[0]?.status).toBe(201);
    expect((await blob('cr/mono', digest)).body.equals(data)).toBe(true);
  });

  for (const [what, bad] of [
    ['a size that is not hex', Buffer.from('zz\r\nhello\r\n0\r\n\r\n')],
    ['data not followed by CRLF', Buffer.from('5\r\nhelloXX0\r\n\r\n')],
    ['a size line ending in a bare LF', Buffer.from('5\nhello\r\n0\r\n\r\n')],
    ['a control byte in an extension', Buffer.from('5;a\u0001b\r\nhello\r\n0\r\n\r\n')],
  ] as const) {
    it(`refuses ${what} (BLOB_UPLOAD_INVALID), stores nothing and closes the connection`, async () => {
      const good = randomBytes(2 * 1024 * 1024);
      const location = await session('cr/malformed');
      // A good chunk first, so that the bad framing is met on the socket, not in the held bytes.
      const { responses, closed } = await raw([patch(location), chunked(good, [good.length]).subarray(0, -5), 100, bad]);
      expect(responses[0]?.status).toBe(400);
      expect(responses[0]?.body).toContain('BLOB_UPLOAD_INVALID');
      expect(responses[0]?.headers.connection).toBe('close');
      expect(closed).toBe(true);
      await waitIdle();
      expect(socketReadStats.active).toBe(0);
      // The session stored nothing: it is still at offset 0.
      const status = await raw([`GET ${location} HTTP/1.1\r\nHost: x\r\nAuthorization: ${authorization}\r\n\r\n`]);
      expect(status.responses[0]?.status).toBe(204);
      expect(status.responses[0]?.headers.range).toBe('0-0');
    });
  }

  it('refuses malformed framing in the bytes that came with the headers', async () => {
    const location = await session('cr/malformed-held');
    const { responses, closed } = await raw([Buffer.concat([Buffer.from(patch(location)), Buffer.from('5\r\nhello\r\nq\r\n')])]);
    expect(responses[0]?.status).toBe(400);
    expect(responses[0]?.body).toContain('BLOB_UPLOAD_INVALID');
    expect(closed).toBe(true);
  });

  it('stores nothing when the client goes away before the last chunk, or right after it', async () => {
    const data = randomBytes(3 * 1024 * 1024);
    for (const cut of ['midway', 'before the trailer']) {
      const location = await session('cr/gone');
      const body = chunked(data, [65_536]);
      const socket = net.connect(port, '127.0.0.1');
      await new Promise((r) => socket.once('connect', r));
      socket.on('error', () => undefined);
      socket.write(patch(location));
      // "0\r\n" sent, the final CRLF not: the parser never completes the request.
      socket.write(cut === 'midway' ? body.subarray(0, 1024 * 1024 + 17) : body.subarray(0, -2));
      await delay(150);
      socket.destroy();
      await waitIdle();
      expect(socketReadStats.active).toBe(0);
      const status = await raw([`GET ${location} HTTP/1.1\r\nHost: x\r\nAuthorization: ${authorization}\r\n\r\n`]);
      expect(status.responses[0]?.headers.range).toBe('0-0');
    }
    // The server is fine: the blob uploads afterwards.
    const location = await session('cr/gone');
    const { responses } = await raw([patch(location), chunked(data, [65_536])]);
    expect(responses[0]?.status).toBe(202);
  });

  it('streams a held body when every native place is taken (the body goes back to the parser and is iterated)', async () => {
    const data = randomBytes(2 * 1024 * 1024 + 1);
    const sockets: net.Socket[] = [];
    try {
      // Four uploads that stop midway hold the four places.
      for (let i = 0; i < 4; i++) {
        const location = await session('cr/busy');
        const socket = net.connect(port, '127.0.0.1');
        await new Promise((r) => socket.once('connect', r));
        socket.on('error', () => undefined);
        socket.write(patch(location));
        socket.write(chunked(data, [65_536]).subarray(0, 300_000));
        sockets.push(socket);
      }
      for (let i = 0; i < 100 && socketReadStats.active < 4; i++) await delay(20);
      expect(socketReadStats.active).toBe(4);
      const before = socketReadStats.taken;
      const digest = sha256(data);
      const location = await session('cr/busy');
      const { responses } = await raw([patch(location), chunked(data, [65_536]), 100, ping()], 2);
      expect(responses.map((r) => r.status)).toEqual([202, 200]);
      expect(socketReadStats.taken).toBe(before);
      expect((await raw([put(responses[0]!.headers.location!, digest)])).responses[0]?.status).toBe(201);
      expect((await blob('cr/busy', digest)).body.equals(data)).toBe(true);
    } finally {
      for (const s of sockets) s.destroy();
      await waitIdle();
    }
    expect(socketReadStats.active).toBe(0);
  });

  it('gives a held body nobody takes back to the parser: a refused PATCH keeps its connection for the next request', async () => {
    const data = randomBytes(200_000);
    const location = await session('cr/refused');
    const before = socketReadStats.taken;
    const bad = `Basic ${Buffer.from('AWS:not-a-token').toString('base64')}`;
    // Refused before its body is read (401): the body is drained by the parser, the next request answered.
    const { responses, closed } = await raw([patch(location, bad), chunked(data, [8192]), 100, ping()], 2);
    expect(responses.map((r) => r.status)).toEqual([401, 200]);
    expect(closed).toBe(false);
    // An unknown session (404), the same.
    const unknown = location.replace(/uploads\/[^?]+/, 'uploads/00000000-0000-4000-8000-000000000000');
    const second = await raw([Buffer.concat([Buffer.from(patch(unknown)), chunked(data, [8192]), Buffer.from(ping())])], 2);
    expect(second.responses.map((r) => r.status)).toEqual([404, 200]);
    expect(socketReadStats.taken).toBe(before);
  });

  it('answers every one of 40 seeded random bodies, split at random: 202 with the whole length when valid, 400 when a framing byte is broken', async () => {
    let seed = 20261128; // xorshift32: the same bodies and splits every run
    const next = (n: number): number => {
      seed ^= seed << 13;
      seed ^= seed >>> 17;
      seed ^= seed << 5;
      seed >>>= 0;
      return seed % n;
    };
    const statuses: string[] = [];
    for (let it = 0; it < 40; it++) {
      const location = await session('cr/seeded');
      const data = randomBytes(1 + next(300_000));
      const parts: Buffer[] = [];
      for (let at = 0; at < data.length; ) {
        const n = Math.min(1 + next(70_000), data.length - at);
        parts.push(Buffer.from(`${n.toString(16)}${next(5) === 0 ? ';x=y' : ''}\r\n`), data.subarray(at, at + n), Buffer.from('\r\n'));
        at += n;
      }
      parts.push(Buffer.from('0\r\n\r\n'));
      const broken = it % 2 === 1;
      if (broken) {
        // A size digit, CR or LF of the framing (never an extension byte) becomes 'G': never valid.
        const breakable = (p: Buffer): number[] => [...p.keys()].filter((k) => p[k] === 0x0d || p[k] === 0x0a || p.indexOf(0x3b) < 0 || k < p.indexOf(0x3b));
        const framing = parts.flatMap((p, i) => (i % 3 === 1 && i < parts.length - 1 ? [] : breakable(p).map((k) => [i, k] as const)));
        const [i, k] = framing[next(framing.length)]!;
        parts[i] = Buffer.from(parts[i]!);
        parts[i]![k] = 0x47;
      }
      const all = Buffer.concat([Buffer.from(patch(location)), ...parts]);
      const writes: (Buffer | number)[] = [];
      for (let at = 0; at < all.length; ) {
        const n = 1 + next(100_000);
        writes.push(all.subarray(at, at + n));
        if (next(4) === 0) writes.push(next(15));
        at += n;
      }
      const t0 = Date.now();
      const { responses, closed } = await raw(writes, 1, 0);
      const r = responses[0];
      if (Date.now() - t0 > 5000) statuses.push(`slow:${it}:${Date.now() - t0}ms`); // an answer that never came (raw waits 10 s)
      // A broken body refused early is answered while the client still sends; the connection
      // lingers (linger-close.ts), so the client reads the answer before the close.
      statuses.push(`${broken ? 'broken' : 'valid'}:${r?.status ?? (closed ? 'closed' : 'none')}`);
      if (!broken) expect(r?.headers.range).toBe(`0-${data.length - 1}`);
    }
    expect(statuses.filter((s) => !['valid:202', 'broken:400'].includes(s)), statuses.join(' ')).toEqual([]);
    expect(statuses.filter((s) => s === 'broken:400').length, statuses.join(' ')).toBe(20);
    await waitIdle();
    expect(socketReadStats.active).toBe(0);
  }, 60_000);

  // Without the lingering close, the server's close with those bytes unread resets the connection and
  // the client's next write fails (EPIPE or ECONNRESET), losing the answer when it had not read it yet.
  it.each([
    { what: 'the decoder refuses the framing (400)', repo: 'cr/linger', auth: (): string => authorization, answers: '400' },
    { what: 'a refused PATCH (401) gives its body back to the parser, which refuses the framing (400)', repo: 'cr/linger-given-back', auth: (): string => `Basic ${Buffer.from('AWS:not-a-token').toString('base64')}`, answers: '401,400' },
  ])('lets a client that goes on sending read the answers and finish sending, then closes (lingering close) when $what', async ({ repo, auth, answers }) => {
    const before = lingerStats.started;
    const outcomes: string[] = [];
    for (let i = 0; i < 5; i++) outcomes.push(await sendOnAfterRefusal(await session(repo), auth()));
    expect(outcomes.filter((o) => o !== `${answers}:no error`), outcomes.join(' ')).toEqual([]);
    expect(lingerStats.started - before).toBe(5);
    for (let i = 0; i < 100 && lingerStats.active > 0; i++) await delay(20);
    expect(lingerStats.active).toBe(0);
    // What an operator sees of it.
    const metrics = (await t.app.http.inject({ method: 'GET', url: '/metrics' })).body;
    expect(/^berth_http_lingering_closes_total (\d+)$/m.exec(metrics)?.[1]).toBe(String(lingerStats.started));
    expect(/^berth_http_lingering_connections (\d+)$/m.exec(metrics)?.[1]).toBe('0');
  }, 60_000);

  it('answers 400 and closes the connection when a held body given back to the parser is malformed, as for a streamed one', async () => {
    const location = await session('cr/refused-malformed');
    const bad = `Basic ${Buffer.from('AWS:not-a-token').toString('base64')}`;
    const { responses, closed } = await raw([Buffer.concat([Buffer.from(patch(location, bad)), Buffer.from('5\r\nhello\r\nzz\r\n'), Buffer.from(ping())])], 2, 300);
    // The refusal, then the answer to a parse error (the server's clientError handler), and the connection closes.
    expect(responses.map((r) => r.status)).toEqual([401, 400]);
    expect(closed).toBe(true);
  });
});
