/**
 * An upload's body read from its socket by the native part (native/sendfile's recvInto) straight
 * into the blob writer's staging buffers, instead of through Node.js's HTTP parser and streams.
 *
 * Why: Node.js hands a body to JS 64 KiB at a time (a Buffer, a parser callback and a stream push
 * each), and the upload then copies each piece into an aligned staging buffer; for a 1 GiB upload
 * the main thread spent 0.74-0.83 s of CPU (2 cores, the client on the same machine). Read on the
 * thread pool into the staging buffer, the bytes are copied once, by the kernel, and the main
 * thread only queues a job per MiB.
 *
 * How it is taken: the request's body is offered to the writer (kTakeReads); only the filesystem
 * driver's O_DIRECT path takes it, and only when the request's body has not been read yet. Taking
 * it stops libuv's reads of the socket (the TCP handle's readStop), moves the body bytes the HTTP
 * parser already delivered to the request out of its buffer, and from then on reads the socket
 * with recvInto, never past the declared Content-Length.
 *
 * Invariant: once taken, the HTTP parser never sees the rest of the body, so the connection cannot
 * carry another request: the response says `Connection: close` (tookSocket, server.ts's onSend
 * hook) and Node.js closes the connection after it. Libuv's reads are never restarted. A client
 * pays one new connection per large upload (about 0.1 ms on loopback).
 *
 * Not taken (the request is streamed as before): no native part, TLS, a body without
 * Content-Length (chunked transfer encoding) or under MIN_LENGTH, more than MAX_ACTIVE bodies
 * read this way at once (each read job holds a pool thread for up to 5 ms while it waits).
 */
import type { IncomingMessage } from 'node:http';
import type { Socket } from 'node:net';
import { setTimeout as delay } from 'node:timers/promises';
import { kTakeReads, type DirectReadable, type ReadInto } from '../blobstore/body.js';
import { native } from '../native.js';
import { BerthError } from '../core/errors.js';

/** Bodies shorter than this are streamed: what the takeover saves is per byte, what it costs (a new connection) per request. */
export const MIN_LENGTH = 1024 * 1024;
/** Bodies read natively at once; more are streamed. */
const MAX_ACTIVE = 4;
/** A client that sends nothing for this long is given up (the upload fails, the connection closes). */
const STALL_MS = 60_000;

let active = 0;

/** Bodies taken so far, and those being read now (tests check the path was taken and every place given back). */
export const socketReadStats = {
  taken: 0,
  get active(): number {
    return active;
  },
};

const kTook = Symbol('berth.tookSocket');

interface TcpHandle {
  fd?: unknown;
  reading?: boolean;
  readStop?: () => number;
}

/** True when the body of `req` was read from its socket natively: the connection must close after the response. */
export function tookSocket(req: IncomingMessage): boolean {
  return (req as IncomingMessage & { [kTook]?: boolean })[kTook] === true;
}

/**
 * Offers `req`'s body to the blob writer as natively readable (kTakeReads), when it can be; returns
 * `req` either way.
 */
export function offerSocketReads(req: IncomingMessage, length: number | undefined): IncomingMessage {
  const recv = native.recvInto;
  if (!recv || length === undefined || length < MIN_LENGTH) return req;
  (req as IncomingMessage & DirectReadable)[kTakeReads] = () => take(req, length, recv);
  return req;
}

function take(req: IncomingMessage, length: number, recv: NonNullable<typeof native.recvInto>): ReadInto | null {
  const socket = req.socket as (Socket & { _handle?: TcpHandle | null; encrypted?: boolean }) | null;
  const handle = socket?._handle;
  const fd = handle?.fd;
  if (!socket || socket.encrypted || !handle || typeof fd !== 'number' || fd < 0 || typeof handle.readStop !== 'function') return null;
  // The body must be untouched: every byte the parser delivered is still in the request's buffer.
  if (active >= MAX_ACTIVE || req.readableDidRead || req.complete || req.destroyed) return null;
  // NOTE: the handle's `reading` flag is set and stays true, so that Node.js never restarts the
  // reads (net.Socket restarts them when it finds the flag false: the request's read() below would,
  // after the HTTP server's back-pressure stopped them).
  handle.reading = true;
  if (handle.readStop() !== 0) return null;
  const pending: Buffer[] = [];
  let delivered = 0;
  for (let chunk: Buffer | null; (chunk = req.read() as Buffer | null) !== null; ) {
    pending.push(chunk);
    delivered += chunk.length;
  }
  (req as IncomingMessage & { [kTook]?: boolean })[kTook] = true;
  socketReadStats.taken++;
  active++;
  let left = length - delivered; // body bytes still in the socket
  let released = false;
  const release = (): void => {
    if (!released) active--;
    released = true;
  };
  let lastProgress = Date.now();
  const readInto: ReadInto = async (buf, offset, max) => {
    const first = pending[0];
    if (first) {
      const n = first.copy(buf, offset, 0, Math.min(max, first.length));
      if (n === first.length) pending.shift();
      else pending[0] = first.subarray(n);
      return n;
    }
    if (left === 0 || max === 0) {
      release();
      return 0;
    }
    for (;;) {
      const { err, n } = await new Promise<{ err: (Error & { code?: string }) | null; n: number }>((resolve) =>
        recv(fd, buf, offset, Math.min(max, left), (e, got) => resolve({ err: e, n: got })),
      );
      if (n > 0) {
        left -= n;
        lastProgress = Date.now();
        return n;
      }
      if (!err) {
        release(); // the client closed the connection early: the caller sees a short body
        return 0;
      }
      if (err.code !== 'EAGAIN') {
        release();
        throw err;
      }
      if (Date.now() - lastProgress > STALL_MS) {
        release();
        throw new BerthError('UPLOAD_INVALID', `the client sent nothing for ${STALL_MS / 1000} s`);
      }
      await delay(1); // nothing came for 5 ms: give the pool thread back before asking again
    }
  };
  // The connection closes after the response, whatever the writer does; the place is given back then too.
  socket.once('close', release);
  return readInto;
}
