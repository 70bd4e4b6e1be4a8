/**
 * An upload's body sent with `Transfer-Encoding: chunked`, read from its socket by the native part
 * (native/sendfile's recvChunkedInto) straight into the blob writer's staging buffers. podman,
 * buildah and docker push a layer they compress on the way this way, as one PATCH with a chunked
 * body (skopeo too, when it cannot know a blob's size). Streamed through Node.js's HTTP parser, a
 * 1 GiB layer cost the main thread 0.81-1.26 s of CPU (curl, three runs), a quarter of it in
 * copies (the parser copies each body piece into a new Buffer, the upload copies it again into a
 * staging buffer); read this way, 0.09-0.14 s.
 *
 * Why the body must be held back when its headers end: a body with a Content-Length can be taken
 * from the parser at any point, because where it ends is known (socket-reads.ts). A chunked body
 * cannot: once the parser has seen part of it, it may be inside a chunk's framing, and that state
 * is not readable from outside. So the parser is stopped right after the headers, before it has
 * seen a byte of the body:
 *
 * 1. Hold. Each server connection's parser has its headers-complete callback wrapped. For a
 *    chunked PATCH, PUT or POST under `/blobs/uploads/`, the callback runs as usual (the request is
 *    emitted and routed) and then returns llhttp's HPE_PAUSED, which stops the parser right after
 *    the headers. The read that carried the headers ends with a pause "error"; the connection's
 *    execute callback is wrapped for that one read: it takes the bytes of the read past the headers
 *    (getCurrentBuffer, a copy), stops libuv's reads of the socket and swallows the error.
 * 2. Take. The blob writer asks for the body (kTakeReads, via socket-reads.ts's offerSocketReads):
 *    the held bytes are decoded first (chunkedTake, synchronously), then the socket, on the thread
 *    pool (recvChunkedInto), which consumes the framing exactly and never reads past the last
 *    chunk's size line.
 * 3. Hand back. After the last chunk's size line, the parser is resumed and given "0\r\n" (that
 *    line again, as the parser never saw it) and whatever of the held bytes is left; libuv's reads
 *    restart, and the parser reads the trailer section and the final CRLF from the socket. The
 *    upload waits for the parser to complete the message, so a body whose end never comes (or is
 *    malformed) fails as it would when streamed. The connection stays kept alive. Framing the
 *    decoder refuses fails the upload (400 BLOB_UPLOAD_INVALID); that connection closes after the
 *    response, lingering so that a client still sending reads it (linger-close.ts).
 * 4. Release. A held body that nobody takes (another storage driver, a request refused before its
 *    body is read, more than MAX_ACTIVE bodies read at once) is given back to the parser when
 *    something reads the request as a stream (its `_read`, also Node.js's own drain of an unread
 *    body after the response): the parser is resumed and given the held bytes, and the reads restart.
 *
 * Not held: TLS, a connection whose parser is not fed by libuv directly (`_consumed`), a request
 * whose own headers came in a read this module parsed itself (a pipelined request), a server whose
 * writes are behind (`_paused`), and any request without a chunked body.
 */
import type { IncomingMessage, Server } from 'node:http';
import type { Socket } from 'node:net';
import type { ReadInto } from '../blobstore/body.js';
import { BerthError } from '../core/errors.js';
import { native } from '../native.js';
import {
  claimPlace,
  parserSlots,
  prematureClose,
  readNative,
  restartReads,
  setMustClose,
  socketReadStats,
  stopReads,
  STALL_MS,
  tcpHandle,
  type HttpParser,
  type NativeError,
  type ServerSocket,
  type TcpHandle,
} from './native-reads.js';

/** llhttp's HPE_PAUSED: returned by a callback, it stops the parser there until `resume`. */
const HPE_PAUSED = 21;
/** The last chunk's size line: the parser is given it again when the body is handed back. */
const LAST_CHUNK = Buffer.from('0\r\n');
/** Bytes of the decoder's state (recv-chunked.c's chunk_state_t). */
const STATE_BYTES = 16;
const HELD_METHODS = new Set(['PATCH', 'PUT', 'POST']);

const kHoldable = Symbol('berth.holdChunked');
const kHeld = Symbol('berth.heldBody');
const kHeadersComplete = Symbol('berth.headersComplete');

interface Held {
  socket: ServerSocket;
  parser: HttpParser;
  handle: TcpHandle & { readStop: () => number };
  fd: number;
  /** pausing: the read that carried the headers is still being parsed; held: its rest is in `leftover`. */
  state: 'pausing' | 'held' | 'released' | 'taken';
  leftover: Buffer;
  /** Something read the request while pausing: release as soon as the read is done. */
  releaseAsked: boolean;
  /** The request's own `_read`, restored when the body is released or taken. */
  read: IncomingMessage['_read'];
}

type HoldingRequest = IncomingMessage & { [kHeld]?: Held };

/** True while this module itself runs the parser: a request parsed then is never held. */
let parsingHere = false;

/**
 * Makes `server` hold chunked upload bodies back from its parsers for the native reader (see the
 * header). Does nothing where the native part or the parser's slots are missing.
 */
export function holdChunkedUploads(server: Server): void {
  if (!native.chunkedTake || !native.recvChunkedInto || parserSlots === null) return;
  const { kOnHeadersComplete } = parserSlots;
  // NOTE: Node.js's own 'connection' listener, added when the server was made, has given the socket its parser.
  server.on('connection', (socket: ServerSocket & { [kHoldable]?: boolean }) => {
    const parser = socket.parser;
    if (!parser || socket.encrypted) return;
    socket[kHoldable] = true;
    // Parsers are pooled and shared with Node.js's HTTP client: the wrapper stays, and holds only
    // for sockets marked here.
    const current = parser[kOnHeadersComplete];
    if (current !== onHeadersComplete && typeof current === 'function') {
      (parser as HttpParser & { [kHeadersComplete]?: unknown })[kHeadersComplete] = current;
      parser[kOnHeadersComplete] = onHeadersComplete;
    }
  });
}

// Node.js's callback takes nine arguments; named, not spread, as this runs for every request.
function onHeadersComplete(this: HttpParser & { [kHeadersComplete]?: (...a: unknown[]) => unknown }, a: unknown, b: unknown, c: unknown, d: unknown, e: unknown, f: unknown, g: unknown, h: unknown, i: unknown): unknown {
  const result = this[kHeadersComplete]!.call(this, a, b, c, d, e, f, g, h, i);
  if (result !== 0 || parsingHere) return result;
  const socket = this.socket as (ServerSocket & { [kHoldable]?: boolean }) | null | undefined;
  const req = this.incoming as HoldingRequest | null | undefined;
  if (!socket?.[kHoldable] || !req || !holdable(req, socket, this)) return result;
  return hold(req, socket, this) ? HPE_PAUSED : result;
}

function holdable(req: IncomingMessage, socket: ServerSocket, parser: HttpParser): boolean {
  return (
    HELD_METHODS.has(req.method ?? '') &&
    req.headers['transfer-encoding']?.toLowerCase() === 'chunked' &&
    req.headers['content-length'] === undefined &&
    (req.url ?? '').includes('/blobs/uploads/') &&
    parser._consumed === true &&
    socket._paused !== true &&
    typeof parser.getCurrentBuffer === 'function' &&
    typeof parser.resume === 'function'
  );
}

function hold(req: HoldingRequest, socket: ServerSocket, parser: HttpParser): boolean {
  const tcp = tcpHandle(socket);
  if (!tcp || parserSlots === null) return false;
  const { kOnExecute } = parserSlots;
  const held: Held = { socket, parser, ...tcp, state: 'pausing', leftover: Buffer.alloc(0), releaseAsked: false, read: req._read };
  req[kHeld] = held;
  // The read that carries these headers ends with the pause: take its rest, then let go.
  const onExecute = parser[kOnExecute] as ((this: unknown, ret: unknown) => unknown) | null;
  parser[kOnExecute] = function (this: unknown, ret: unknown): unknown {
    parser[kOnExecute] = onExecute;
    if (held.state === 'pausing' && ret instanceof Error && (ret as Error & { code?: string }).code === 'HPE_PAUSED') {
      captureLeftover(req, held, (ret as Error & { bytesParsed?: number }).bytesParsed ?? 0);
      return undefined;
    }
    if (held.state === 'pausing') held.state = 'released'; // not paused after all: nothing is held
    return onExecute?.call(this, ret);
  };
  // Reading the request as a stream gives its body back to the parser first.
  req._read = function (this: IncomingMessage, size: number): void {
    release(req, held);
    held.read.call(this, size);
  };
  return true;
}

function captureLeftover(req: HoldingRequest, held: Held, bytesParsed: number): void {
  held.leftover = held.parser.getCurrentBuffer!().subarray(bytesParsed);
  held.state = 'held';
  if (held.releaseAsked || !stopReads(held.handle)) release(req, held, true);
}

/** Gives a held body back to the parser (see the header, 4). */
function release(req: HoldingRequest, held: Held, readsRunning = false): void {
  if (held.state === 'pausing') {
    held.releaseAsked = true;
    return;
  }
  if (held.state !== 'held') return;
  held.state = 'released';
  req._read = held.read;
  const { socket, parser } = held;
  if (socket.destroyed || socket.parser !== parser) return;
  parser.resume!();
  const r = parseHere(parser, held.leftover);
  held.leftover = Buffer.alloc(0);
  // As Node.js does with a parse error: a 400 response, and the connection closes.
  if (r instanceof Error) socket.emit('error', r);
  else if (!readsRunning && !restartReads(socket, held.handle)) socket.destroy();
}

function parseHere(parser: HttpParser, data: Buffer): number | Error {
  if (data.length === 0) return 0;
  parsingHere = true;
  try {
    return parser.execute(data);
  } finally {
    parsingHere = false;
  }
}

/**
 * The reader of `req`'s held chunked body (see the header, 2 and 3), or null: not held, or no
 * place free (the body is then streamed).
 */
export function takeChunked(req: HoldingRequest): ReadInto | null {
  const held = req[kHeld];
  const { chunkedTake, recvChunkedInto } = native;
  if (!held || held.state !== 'held' || !chunkedTake || !recvChunkedInto) return null;
  const { socket, handle, fd } = held;
  const releasePlace = claimPlace(socket);
  if (!releasePlace) return null;
  held.state = 'taken';
  req._read = held.read;
  socketReadStats.taken++;
  setMustClose(req, true);
  const state = Buffer.alloc(STATE_BYTES);
  let pending = held.leftover;
  held.leftover = Buffer.alloc(0);
  let done = false; // the last chunk's size line was consumed
  let finished = false; // and the parser completed the request
  const progress = { last: Date.now() };
  const once = (buf: Buffer, offset: number, max: number) => () =>
    new Promise<{ err: NativeError; n: number; done: boolean }>((resolve) =>
      recvChunkedInto(fd, state, buf, offset, max, (err, n, last) => resolve({ err, n, done: last === 1 })),
    );
  const read = async (buf: Buffer, offset: number, max: number): Promise<number> => {
    if (finished) return 0;
    while (!done && pending.length > 0) {
      const [used, written, last] = chunkedTake(state, pending, buf, offset, max);
      pending = pending.subarray(used);
      done = last === 1;
      if (written > 0) return written;
    }
    if (!done) {
      const r = await readNative(socket, handle, progress, once(buf, offset, max));
      done = r.done;
      if (r.n > 0) return r.n;
      if (!done) throw prematureClose(); // the client closed before the last chunk
    }
    await handBack(req, held, pending);
    setMustClose(req, false);
    finished = true;
    return 0;
  };
  return async (buf, offset, max) => {
    try {
      const n = await read(buf, offset, max);
      if (n === 0) releasePlace();
      return n;
    } catch (err) {
      releasePlace();
      if ((err as { code?: string }).code === 'EPROTO') throw new BerthError('UPLOAD_INVALID', (err as Error).message);
      throw err;
    }
  };
}

/**
 * Gives the connection back to the parser after the last chunk's size line (see the header, 3)
 * and waits until it has completed the request.
 */
async function handBack(req: IncomingMessage, held: Held, rest: Buffer): Promise<void> {
  const { socket, parser, handle } = held;
  if (socket.destroyed || socket.parser !== parser) throw prematureClose();
  parser.resume!();
  const r = parseHere(parser, rest.length === 0 ? LAST_CHUNK : Buffer.concat([LAST_CHUNK, rest]));
  if (r instanceof Error) throw new BerthError('UPLOAD_INVALID', `malformed chunked body: ${(r as Error & { reason?: string }).reason ?? r.message}`);
  if (!restartReads(socket, handle)) throw prematureClose();
  if (!req.complete) await completion(req, socket);
}

/** Resolves when the parser has completed `req`; fails when the connection closes first or nothing comes for STALL_MS. */
function completion(req: IncomingMessage, socket: Socket): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    const finish = (err?: Error): void => {
      clearTimeout(timer);
      req.off('end', onEnd);
      socket.off('close', onClose);
      if (err) reject(err);
      else resolve();
    };
    const onEnd = (): void => finish();
    const onClose = (): void => finish(req.complete ? undefined : prematureClose());
    const timer = setTimeout(() => finish(new BerthError('UPLOAD_INVALID', `the chunked body's end did not come within ${STALL_MS / 1000} s`)), STALL_MS);
    req.once('end', onEnd);
    socket.once('close', onClose);
    req.resume(); // no body bytes will come: the parser only completes the message
  });
}
