/**
 * What the two native upload readers share: socket-reads.ts (a body with a Content-Length) and
 * chunked-reads.ts (a body with Transfer-Encoding: chunked). Both read the socket on the thread
 * pool into the blob writer's staging buffers, with libuv's reads of the socket stopped, and then
 * give the connection back to Node.js's HTTP parser.
 *
 * Both use Node.js internals: the TCP handle's readStop, readStart, reading and fd; the connection's
 * parser (`socket.parser`, its `execute`, `pause`, `resume`, `getCurrentBuffer` and the callback slots
 * that node:_http_common's HTTPParser names). Each is checked before use; where one is missing the
 * body is streamed as before, or the connection is closed after the response (mustClose).
 */
import type { IncomingMessage } from 'node:http';
import { createRequire } from 'node:module';
import type { Socket } from 'node:net';
import { setTimeout as delay } from 'node:timers/promises';
import { BerthError } from '../core/errors.js';

/** Bodies read natively at once; more are streamed (each read job holds a pool thread for up to 5 ms while it waits). */
export const MAX_ACTIVE = 4;
/** A client that sends nothing for this long is given up (the upload fails, the connection closes). */
export const STALL_MS = 60_000;

let active = 0;

/** Bodies taken so far, and those being read now (tests check the path was taken and every place given back). */
export const socketReadStats = {
  taken: 0,
  get active(): number {
    return active;
  },
};

export interface TcpHandle {
  fd?: unknown;
  reading?: boolean;
  readStop?: () => number;
  readStart?: () => number;
}

/** Node.js's HTTP parser (a C++ object): `execute` parses a buffer; numbered slots hold its callbacks. */
export interface HttpParser {
  execute(data: Buffer): number | Error;
  pause?: () => void;
  resume?: () => void;
  getCurrentBuffer?: () => Buffer;
  incoming?: IncomingMessage | null;
  socket?: Socket | null;
  _consumed?: boolean;
  [slot: number]: unknown;
}

export type ServerSocket = Socket & { _handle?: TcpHandle | null; encrypted?: boolean; parser?: HttpParser | null; _paused?: boolean };

/** node:_http_common's HTTPParser slot numbers (kOnBody, kOnHeadersComplete, kOnExecute), null where not found. */
export const parserSlots: { kOnBody: number; kOnHeadersComplete: number; kOnExecute: number } | null = (() => {
  try {
    const p = (createRequire(import.meta.url)('_http_common') as { HTTPParser?: Record<string, unknown> }).HTTPParser;
    const { kOnBody, kOnHeadersComplete, kOnExecute } = p ?? {};
    return typeof kOnBody === 'number' && typeof kOnHeadersComplete === 'number' && typeof kOnExecute === 'number' ? { kOnBody, kOnHeadersComplete, kOnExecute } : null;
  } catch {
    return null;
  }
})();

/** The socket's TCP handle and descriptor, when its body can be read natively at all (plain TCP, readStop there). */
export function tcpHandle(socket: ServerSocket | null | undefined): { handle: TcpHandle & { readStop: () => number }; fd: number } | null {
  const handle = socket?._handle;
  const fd = handle?.fd;
  if (!socket || socket.encrypted || !handle || typeof fd !== 'number' || fd < 0 || typeof handle.readStop !== 'function') return null;
  return { handle: handle as TcpHandle & { readStop: () => number }, fd };
}

/**
 * Stops libuv's reads of the socket. NOTE: the handle's `reading` flag is set and stays true, so
 * that Node.js never restarts the reads itself (net.Socket restarts them when it finds the flag
 * false: a request's read() would, after the HTTP server's back-pressure stopped them); only
 * restartReads does. False (flag restored) where readStop fails.
 */
export function stopReads(handle: TcpHandle & { readStop: () => number }): boolean {
  const wasReading = handle.reading;
  handle.reading = true;
  if (handle.readStop() === 0) return true;
  handle.reading = wasReading === true;
  return false;
}

/**
 * Gives libuv's reads back: restarts them, or, while the HTTP server holds the connection back
 * (its write side is behind: socket._paused), leaves them to the server, which restarts them with
 * the parser when the writes drain. False where the reads could not be restarted.
 */
export function restartReads(socket: ServerSocket, handle: TcpHandle): boolean {
  if (typeof handle.readStart !== 'function' || socket.destroyed) return false;
  if (socket._paused) {
    socket.parser?.pause?.();
    handle.reading = false;
    return true;
  }
  return handle.readStart() === 0;
}

/** A place among MAX_ACTIVE, given back by the returned function (also when the socket closes), or null when none is free. */
export function claimPlace(socket: Socket): (() => void) | null {
  if (active >= MAX_ACTIVE) return null;
  active++;
  let released = false;
  const release = (): void => {
    if (!released) active--;
    released = true;
    socket.off('close', release);
  };
  socket.once('close', release);
  return release;
}

const kMustClose = Symbol('berth.mustClose');

/** True when the body of `req` was read from its socket natively and the connection could not be handed back: it must close after the response. */
export function mustClose(req: IncomingMessage): boolean {
  return (req as IncomingMessage & { [kMustClose]?: boolean })[kMustClose] === true;
}

export function setMustClose(req: IncomingMessage, value: boolean): void {
  (req as IncomingMessage & { [kMustClose]?: boolean })[kMustClose] = value;
}

export type NativeError = (Error & { code?: string }) | null;

/**
 * Calls `read` (one native read job) until it brings bytes or ends: on EAGAIN (nothing came for
 * 5 ms) it waits 1 ms on the event loop and asks again, so a stalled client never holds a pool
 * thread. Throws when the connection closed meanwhile (ERR_STREAM_PREMATURE_CLOSE, the code a
 * streamed body fails with: an abort, not a server error), when the client sent nothing for
 * STALL_MS (UPLOAD_INVALID), or with the job's own error; `lastProgress` is the time of the last
 * byte, shared across calls.
 */
export async function readNative<R extends { err: NativeError; n: number }>(socket: ServerSocket, handle: TcpHandle, progress: { last: number }, read: () => Promise<R>): Promise<R> {
  for (;;) {
    // The native part duplicates the descriptor on each call: a connection closed meanwhile (the
    // server's forced close at shutdown) must not be read again, its number may be another's now.
    if (socket.destroyed || socket._handle !== handle) throw prematureClose();
    const r = await read();
    if (r.n > 0) progress.last = Date.now();
    if (r.n > 0 || !r.err) return r;
    if (r.err.code !== 'EAGAIN') throw r.err;
    if (Date.now() - progress.last > STALL_MS) throw new BerthError('UPLOAD_INVALID', `the client sent nothing for ${STALL_MS / 1000} s`);
    await delay(1);
  }
}

export function prematureClose(): Error {
  return Object.assign(new Error('the connection closed during the upload'), { code: 'ERR_STREAM_PREMATURE_CLOSE' });
}
