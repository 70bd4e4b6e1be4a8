/**
 * Blob downloads from the libuv thread pool: the native part (native/sendfile, an optional
 * package) sends a range of up to 256 KiB with sendfile(2) and copies a larger one to the socket
 * (pread + write, 256 KiB at a time), where a stream moves every 64 KiB chunk through JS objects
 * and the event loop. Over loopback the copy was faster and cost less CPU than sendfile on large
 * blobs, and sendfile less on small ones (see native/sendfile/sendfile.c; figures in
 * docs/benchmarks.md). Without the native part (not built, not Linux) blobs are streamed.
 */
import { setTimeout as delay } from 'node:timers/promises';
import type { Readable } from 'node:stream';
import type { FastifyReply } from 'fastify';
import { fileRangeOf, type FileRange } from '../../blobstore/types.js';
import { native, type NativeHelpers } from '../../native.js';

type NativeSendfile = NonNullable<NativeHelpers['sendfile']>;
const nativeSendfile: NativeSendfile | null = native.sendfile ?? null;

/** Whether downloads go through the native part in this process. */
export const sendfileAvailable = nativeSendfile !== null;

/** Responses sent through the native part (/metrics: berth_blob_native_sends_total; tests check the path was taken). */
export const sendfileStats = { started: 0 };

/**
 * Sends `body` (headers from `reply`) through the native part when it is a local file range and the
 * connection is a plain TCP socket; otherwise through the stream. Resolves when done either way.
 */
export async function sendBlobBody(reply: FastifyReply, body: Readable): Promise<void> {
  const file = fileRangeOf(body);
  const socket = reply.raw.socket as (NonNullable<FastifyReply['raw']['socket']> & { _handle?: { fd?: unknown } }) | null;
  const socketFd = socket?._handle?.fd;
  if (!nativeSendfile || !file || !socket || typeof socketFd !== 'number' || socketFd < 0 || active >= MAX_ACTIVE) {
    await reply.send(body);
    return;
  }
  active++;
  try {
    await sendFile(reply, body, file, nativeSendfile, socketFd, socket);
  } finally {
    active--;
  }
}

/**
 * Transfers at once through the native part; more are streamed. A transfer holds a thread-pool
 * thread while the socket takes its bytes (a whole 1 GiB blob to a fast reader: about 0.4 s) and
 * gives it back after 50 ms without room (see native/sendfile). The pool (4 threads) also serves
 * every file operation and WAL sync, so downloads never hold more than this many of its threads.
 */
const MAX_ACTIVE = 2;
let active = 0;

const EMPTY = Buffer.alloc(0);

/** A reader that takes nothing for this long is given up (the connection is closed). */
const STALL_MS = 60_000;

/**
 * Sends the range, calling the native part again after each wait for room (EAGAIN). `open` says
 * whether `socketFd` is still this connection's: the native part duplicates the descriptor on each
 * call, so a connection closed during a wait (its number free for the next accepted one) must not
 * be called again.
 */
async function sendRange(native: NativeSendfile, socketFd: number, file: FileRange, open: () => boolean): Promise<void> {
  let offset = file.offset;
  let left = file.length;
  let lastProgress = Date.now();
  while (left > 0) {
    if (!open()) throw new Error('the connection closed during the download');
    const { err, sent } = await new Promise<{ err: (Error & { code?: string }) | null; sent: number }>((resolve) => native(socketFd, file.fd, offset, left, (e, n) => resolve({ err: e, sent: n })));
    offset += sent;
    left -= sent;
    if (sent > 0) lastProgress = Date.now();
    if (!err) {
      if (left !== 0) throw new Error(`the native send stopped with ${left} bytes left`);
      return;
    }
    if (err.code !== 'EAGAIN') throw err;
    if (Date.now() - lastProgress > STALL_MS) throw new Error(`the client read nothing for ${STALL_MS / 1000} s`);
    await delay(5); // the socket stayed full for 50 ms: let the client read
  }
}

async function sendFile(reply: FastifyReply, body: Readable, file: FileRange, native: NativeSendfile, socketFd: number, socket: NodeJS.WritableStream & { writableLength: number; destroyed: boolean; _handle?: unknown }): Promise<void> {
  const res = reply.raw;
  // onResponse (metrics, the request's log line) still runs when `res` finishes; onSend hooks do
  // not, so what server.ts adds there (X-Request-Id) is set here.
  reply.hijack();
  try {
    for (const [name, value] of Object.entries(reply.getHeaders())) if (value !== undefined) res.setHeader(name, value);
    res.setHeader('X-Request-Id', reply.request.id);
    res.writeHead(reply.statusCode);
    res.flushHeaders();
    // The headers must be in the socket before the file's bytes: an empty write's callback runs
    // once everything written before it has gone (also when the socket is corked for this tick).
    await new Promise<void>((resolve, reject) => socket.write(EMPTY, (err?: Error | null) => (err ? reject(err) : resolve())));
    sendfileStats.started++;
    const handle = socket._handle;
    await sendRange(native, socketFd, file, () => !socket.destroyed && socket._handle === handle);
    res.end();
  } catch (err) {
    // The client went away or stalled, or the file is shorter than its row says: the response
    // cannot be completed, so the connection is closed (the client sees a short body).
    reply.log.info({ err: String(err) }, 'blob download ended early');
    res.destroy();
  } finally {
    body.destroy(); // closes the file
  }
}
