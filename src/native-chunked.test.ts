/**
 * The native chunked-body decoder (native/sendfile/recv-chunked.c): from a buffer (chunkedTake) and
 * from a socket (recvChunkedInto), it yields exactly the chunks' data however the input is split,
 * stops right after the last chunk's size line, and refuses what Node.js's own parser refuses.
 */
import { randomBytes } from 'node:crypto';
import net from 'node:net';
import { setTimeout as delay } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { native } from './native.js';

/** `data` framed as chunks of the given sizes (cycled), then the last chunk's size line and `tail`. */
function frame(data: Buffer, sizes: number[], tail = '\r\n'): Buffer {
  const parts: Buffer[] = [];
  for (let at = 0, i = 0; at < data.length; i++) {
    const n = Math.min(sizes[i % sizes.length]!, data.length - at);
    parts.push(Buffer.from(`${n.toString(16)}\r\n`), data.subarray(at, at + n), Buffer.from('\r\n'));
    at += n;
  }
  return Buffer.concat([...parts, Buffer.from(`0\r\n${tail}`)]);
}

/** Runs chunkedTake over `pieces` in turn into one destination; the data, the bytes used and whether it finished. */
function takeAll(pieces: Buffer[], dstSize: number, step = dstSize): { data: Buffer; used: number; done: boolean } {
  const take = native.chunkedTake!;
  const state = Buffer.alloc(16);
  // One spare byte: a range is never empty, and data past dstSize would show in the result.
  const dst = Buffer.alloc(dstSize + 1);
  let written = 0;
  let used = 0;
  let done = false;
  for (const piece of pieces) {
    let rest = piece;
    while (rest.length > 0 && !done) {
      const [u, w, d] = take(state, rest, dst, written, Math.min(step, dst.length - written));
      rest = rest.subarray(u);
      used += u;
      written += w;
      done = d === 1;
      if (u === 0 && w === 0) break;
    }
  }
  return { data: dst.subarray(0, written), used, done };
}

describe.skipIf(process.platform !== 'linux')('native chunked-body decoder', () => {
  it('is built (npm ci builds native/sendfile with node-gyp)', () => {
    expect(typeof native.chunkedTake).toBe('function');
    expect(typeof native.recvChunkedInto).toBe('function');
  });

  it('decodes a whole body and stops right after the last size line, leaving the trailer section', () => {
    const data = randomBytes(100_000);
    const body = frame(data, [32_768, 1, 4095], 'X-Trailer: a\r\n\r\nGET / HTTP/1.1\r\n');
    const r = takeAll([body], data.length + 10);
    expect(r.data.equals(data)).toBe(true);
    expect(r.done).toBe(true);
    expect(body.subarray(r.used).toString()).toBe('X-Trailer: a\r\n\r\nGET / HTTP/1.1\r\n');
  });

  it('gives the same bytes fed one byte at a time, and into a destination taken 7 bytes at a time', () => {
    const data = randomBytes(5000);
    const body = frame(data, [999, 1, 17]);
    const pieces = [...body].map((b) => Buffer.from([b]));
    const r = takeAll(pieces, data.length, 7);
    expect(r.data.equals(data)).toBe(true);
    expect(r.done).toBe(true);
    expect(r.used).toBe(body.length - 2);
  });

  it('consumes the framing after the last data byte even when that byte filled the destination', () => {
    const data = randomBytes(1000);
    const body = frame(data, [600]);
    const dst = Buffer.alloc(data.length);
    const [used, written, done] = native.chunkedTake!(Buffer.alloc(16), body, dst, 0, dst.length);
    expect([used, written, done]).toEqual([body.length - 2, data.length, 1]);
    expect(dst.equals(data)).toBe(true);
  });

  it('accepts upper-case hex, leading zeros, extensions and a last chunk written 000', () => {
    const body = Buffer.from('00A;name=value;q="x y"\r\n0123456789\r\n1;\tb\r\nz\r\n000\r\n\r\n');
    const r = takeAll([body], 100);
    expect(r.data.toString()).toBe('0123456789z');
    expect(r.done).toBe(true);
  });

  for (const [what, bad] of [
    ['a size that does not start with a hex digit', ' 5\r\nhello\r\n'],
    ['a bare LF after the size', '5\nhello\r\n'],
    ['a space after the size', '5 \r\nhello\r\n'],
    ['data not followed by CRLF', '5\r\nhelloX\r\n'],
    ['a control byte in an extension', '5;a\u0000\r\nhello\r\n'],
    ['a size past 64 bits', `${'f'.repeat(17)}\r\n`],
  ] as const) {
    it(`refuses ${what} (EPROTO)`, () => {
      expect(() => takeAll([Buffer.from(bad)], 100)).toThrow(expect.objectContaining({ code: 'EPROTO' }));
    });
  }

  it('refuses extensions longer than 16 KiB, as Node.js does', () => {
    expect(() => takeAll([Buffer.from(`5;${'a'.repeat(16 * 1024 + 1)}\r\nhello\r\n`)], 100)).toThrow(/too long/);
    expect(takeAll([Buffer.from(`5;${'a'.repeat(16 * 1024 - 1)}\r\nhello\r\n0\r\n`)], 100).data.toString()).toBe('hello');
  });

  describe('from a socket', () => {
    let server: net.Server;
    let accepted: Promise<net.Socket>;
    let client: net.Socket;
    let peer: net.Socket;
    let fd = -1;

    beforeAll(async () => {
      server = net.createServer();
      accepted = new Promise((resolve) => server.once('connection', resolve));
      await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
      client = net.connect((server.address() as net.AddressInfo).port, '127.0.0.1');
      peer = await accepted;
      const handle = (peer as net.Socket & { _handle: { fd: number; reading: boolean; readStop(): number } })._handle;
      handle.reading = true;
      handle.readStop();
      fd = handle.fd;
    });
    afterAll(async () => {
      client.destroy();
      peer.destroy();
      await new Promise((r) => server.close(r));
    });

    const recv = (state: Buffer, dst: Buffer, offset: number, length: number): Promise<{ err: (Error & { code?: string }) | null; n: number; done: boolean }> =>
      new Promise((resolve) => native.recvChunkedInto!(fd, state, dst, offset, length, (err, n, last) => resolve({ err, n, done: last === 1 })));

    it('decodes what arrives in pieces, says EAGAIN while nothing comes, and leaves what follows the last size line in the socket', async () => {
      const data = randomBytes(3 * 1024 * 1024 + 11);
      const body = frame(data, [32_768, 100_003], 'T: 1\r\n\r\nNEXT');
      const state = Buffer.alloc(16);
      const dst = Buffer.alloc(data.length + 1);
      expect((await recv(state, dst, 0, dst.length)).err?.code).toBe('EAGAIN');
      void (async () => {
        for (let at = 0; at < body.length; at += 700_001) {
          client.write(body.subarray(at, at + 700_001));
          await delay(10);
        }
      })();
      let written = 0;
      let done = false;
      while (!done) {
        const r = await recv(state, dst, written, Math.min(1024 * 1024, dst.length - written));
        if (r.err && r.err.code !== 'EAGAIN') throw r.err;
        written += r.n;
        done = r.done;
      }
      expect(written).toBe(data.length);
      expect(dst.subarray(0, written).equals(data)).toBe(true);
      // What follows is still there for the next reader.
      const rest = await new Promise<string>((resolve) => {
        let text = '';
        peer.on('data', (c: Buffer) => {
          text += c.toString();
          if (text.endsWith('NEXT')) resolve(text);
        });
        // libuv's reads restarted here; the flag stays true, so that net.Socket does not start them a second time (EALREADY).
        (peer as net.Socket & { _handle: { readStart(): number } })._handle.readStart();
      });
      expect(rest).toBe('T: 1\r\n\r\nNEXT');
    });
  });
});
