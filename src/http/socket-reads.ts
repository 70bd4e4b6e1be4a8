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
 * Handing the connection back: when the whole body has been read, the HTTP parser is moved past
 * it without its bytes: it parses as many zero bytes (one shared buffer) with its body callback
 * removed, which costs no copy (0.2 ms for 10 MB), completes the request, and libuv's reads start
 * again, so the connection stays kept alive and a request the client sent after the body is served.
 * Where that cannot be done (the parser's internals are not as expected, or the body ended early or
 * failed), the response says `Connection: close` (mustClose, server.ts's onSend hook) and Node.js
 * closes the connection after it; libuv's reads are never restarted then. Keeping the connection
 * matters for chunked uploads: a new connection per PATCH may reach another worker (`--workers`) or
 * node, which does not hold the session's digest and reads the whole blob back to compute it.
 *
 * Not taken (the request is streamed as before): no native part, TLS, a body without
 * Content-Length (chunked transfer encoding: the parser may be inside a chunk when the body is
 * taken, so where the body ends cannot be known) or under MIN_LENGTH, more than MAX_ACTIVE bodies
 * read this way at once (each read job holds a pool thread for up to 5 ms while it waits).
 */
import type { IncomingMessage } from 'node:http';
import { createRequire } from 'node:module';
import type { Socket } from 'node:net';
import { setTimeout as delay } from 'node:timers/promises';
import { kTakeReads, type DirectReadable, type ReadInto } from '../blobstore/body.js';
import { native } from '../native.js';
import { BerthError } from '../core/errors.js';

/**
 * Bodies shorter than this are streamed: the takeover saves per byte and costs per request (stopping
 * and restarting the reads, moving the parser). The filesystem driver takes its O_DIRECT path, the
 * only taker, from 4 MiB anyway.
 */
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

const kMustClose = Symbol('berth.mustClose');

interface TcpHandle {
  fd?: unknown;
  reading?: boolean;
  readStop?: () => number;
  readStart?: () => number;
}

/** Node.js's HTTP parser (a C++ object): `execute` parses a buffer; the slot kOnBody holds the body callback. */
interface HttpParser {
  execute(data: Buffer): number | Error;
  [slot: number]: unknown;
}

/** The parser's body-callback slot (node:_http_common's HTTPParser.kOnBody), or null where it is not found. */
const kOnBody: number | null = (() => {
  try {
    const slot = (createRequire(import.meta.url)('_http_common') as { HTTPParser?: { kOnBody?: unknown } }).HTTPParser?.kOnBody;
    return typeof slot === 'number' ? slot : null;
  } catch {
    return null;
  }
})();

/** Zero bytes the parser is moved past a natively read body with (never read by anyone). */
let zeros: Buffer | null = null;

/** True when the body of `req` was read from its socket natively and the connection could not be handed back: it must close after the response. */
export function mustClose(req: IncomingMessage): boolean {
  return (req as IncomingMessage & { [kMustClose]?: boolean })[kMustClose] === true;
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
  const socket = req.socket as (Socket & { _handle?: TcpHandle | null; encrypted?: boolean; parser?: HttpParser | null }) | null;
  const handle = socket?._handle;
  const fd = handle?.fd;
  if (!socket || socket.encrypted || !handle || typeof fd !== 'number' || fd < 0 || typeof handle.readStop !== 'function') return null;
  // The body must be untouched: every byte the parser delivered is still in the request's buffer.
  if (active >= MAX_ACTIVE || req.readableDidRead || req.complete || req.destroyed) return null;
  // NOTE: the handle's `reading` flag is set and stays true, so that Node.js never restarts the
  // reads itself (net.Socket restarts them when it finds the flag false: the request's read() below
  // would, after the HTTP server's back-pressure stopped them); only handBack restarts them.
  const wasReading = handle.reading;
  handle.reading = true;
  if (handle.readStop() !== 0) {
    handle.reading = wasReading === true;
    return null;
  }
  const pending: Buffer[] = [];
  let delivered = 0;
  for (let chunk: Buffer | null; (chunk = req.read() as Buffer | null) !== null; ) {
    pending.push(chunk);
    delivered += chunk.length;
  }
  const marked = req as IncomingMessage & { [kMustClose]?: boolean };
  marked[kMustClose] = true;
  socketReadStats.taken++;
  active++;
  let left = length - delivered; // body bytes still in the socket
  let readHere = 0; // body bytes read natively: the parser never saw them
  let released = false;
  const release = (): void => {
    if (!released) active--;
    released = true;
    socket.off('close', release);
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
    if (left === 0) {
      release();
      return 0;
    }
    for (;;) {
      // The native part duplicates the descriptor on each call: a connection closed meanwhile (the
      // server's forced close at shutdown) must not be read again, its number may be another's now.
      if (socket.destroyed || socket._handle !== handle) {
        release();
        // The code a streamed body fails with when its connection closes: an abort, not a server error.
        throw Object.assign(new Error('the connection closed during the upload'), { code: 'ERR_STREAM_PREMATURE_CLOSE' });
      }
      const { err, n } = await new Promise<{ err: (Error & { code?: string }) | null; n: number }>((resolve) =>
        recv(fd, buf, offset, Math.min(max, left), (e, got) => resolve({ err: e, n: got })),
      );
      if (n > 0) {
        left -= n;
        readHere += n;
        lastProgress = Date.now();
        if (left === 0 && handBack(req, socket, handle, readHere)) marked[kMustClose] = false;
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
  // A connection that must close gives the place back when it does, whatever the writer does.
  socket.once('close', release);
  return readInto;
}

/**
 * Moves the HTTP parser past the `count` body bytes it never saw and restarts libuv's reads (see the
 * header). Returns false, leaving the connection to be closed, where that cannot be done.
 */
function handBack(req: IncomingMessage, socket: Socket & { parser?: HttpParser | null; _handle?: TcpHandle | null }, handle: TcpHandle, count: number): boolean {
  const parser = socket.parser;
  if (kOnBody === null || !parser || typeof parser.execute !== 'function' || typeof handle.readStart !== 'function' || socket.destroyed) return false;
  zeros ??= Buffer.alloc(1024 * 1024);
  const onBody = parser[kOnBody];
  parser[kOnBody] = null; // the parser's C++ side copies the body into a Buffer only for a callback
  try {
    for (let rest = count; rest > 0; ) {
      const n = Math.min(rest, zeros.length);
      const r = parser.execute(zeros.subarray(0, n));
      if (r instanceof Error || r !== n) return false;
      rest -= n;
    }
  } finally {
    parser[kOnBody] = onBody;
  }
  if (!req.complete) return false;
  return handle.readStart() === 0;
}
