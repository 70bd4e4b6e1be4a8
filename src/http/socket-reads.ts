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
 * A body sent with Transfer-Encoding: chunked instead is held back from the parser when its headers
 * end and read by chunked-reads.ts.
 *
 * Not taken (the request is streamed as before): no native part, TLS, a body under MIN_LENGTH,
 * more than MAX_ACTIVE bodies read natively at once (native-reads.ts).
 */
import type { IncomingMessage } from 'node:http';
import { kTakeReads, type DirectReadable, type ReadInto } from '../blobstore/body.js';
import { native } from '../native.js';
import { takeChunked } from './chunked-reads.js';
import { claimPlace, parserSlots, readNative, restartReads, setMustClose, socketReadStats, stopReads, tcpHandle, type ServerSocket, type TcpHandle } from './native-reads.js';

export { mustClose, socketReadStats } from './native-reads.js';

/**
 * Bodies shorter than this are streamed: the takeover saves per byte and costs per request (stopping
 * and restarting the reads, moving the parser). The filesystem driver takes its O_DIRECT path, the
 * only taker, from 4 MiB anyway.
 */
export const MIN_LENGTH = 1024 * 1024;

/** Zero bytes the parser is moved past a natively read body with (never read by anyone). */
let zeros: Buffer | null = null;

/**
 * Offers `req`'s body to the blob writer as natively readable (kTakeReads), when it can be; returns
 * `req` either way. `length` is the request's Content-Length (undefined: none, the body is chunked).
 */
export function offerSocketReads(req: IncomingMessage, length: number | undefined): IncomingMessage {
  const recv = native.recvInto;
  if (length === undefined) {
    (req as IncomingMessage & DirectReadable)[kTakeReads] = () => takeChunked(req);
  } else if (recv && length >= MIN_LENGTH) {
    (req as IncomingMessage & DirectReadable)[kTakeReads] = () => take(req, length, recv);
  }
  return req;
}

function take(req: IncomingMessage, length: number, recv: NonNullable<typeof native.recvInto>): ReadInto | null {
  const socket = req.socket as ServerSocket | null;
  const tcp = tcpHandle(socket);
  // The body must be untouched: every byte the parser delivered is still in the request's buffer.
  if (!socket || !tcp || req.readableDidRead || req.complete || req.destroyed) return null;
  const { handle, fd } = tcp;
  const release = claimPlace(socket);
  if (!release) return null;
  if (!stopReads(handle)) {
    release();
    return null;
  }
  socketReadStats.taken++;
  const pending: Buffer[] = [];
  let delivered = 0;
  for (let chunk: Buffer | null; (chunk = req.read() as Buffer | null) !== null; ) {
    pending.push(chunk);
    delivered += chunk.length;
  }
  setMustClose(req, true);
  let left = length - delivered; // body bytes still in the socket
  let readHere = 0; // body bytes read natively: the parser never saw them
  const progress = { last: Date.now() };
  const once = (buf: Buffer, offset: number, max: number) => () =>
    new Promise<{ err: Error | null; n: number }>((resolve) => recv(fd, buf, offset, Math.min(max, left), (err, n) => resolve({ err, n })));
  return async (buf, offset, max) => {
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
    try {
      const { n } = await readNative(socket, handle, progress, once(buf, offset, max));
      if (n === 0) release(); // the client closed the connection early: the caller sees a short body
      left -= n;
      readHere += n;
      if (n > 0 && left === 0 && handBack(req, socket, handle, readHere)) setMustClose(req, false);
      return n;
    } catch (err) {
      release();
      throw err;
    }
  };
}

/**
 * Moves the HTTP parser past the `count` body bytes it never saw and restarts libuv's reads (see the
 * header). Returns false, leaving the connection to be closed, where that cannot be done.
 */
function handBack(req: IncomingMessage, socket: ServerSocket, handle: TcpHandle, count: number): boolean {
  const parser = socket.parser;
  if (parserSlots === null || !parser || typeof parser.execute !== 'function' || socket.destroyed) return false;
  const { kOnBody } = parserSlots;
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
  return restartReads(socket, handle);
}
