/**
 * Berth's optional native helpers (the package in native/sendfile, built by `npm ci` with
 * node-gyp on Linux): blob downloads sent to the socket from the thread pool (sendfile(2) up to
 * 256 KiB, a copy above), one thread-pool job for the create, write and sync of a small blob
 * and one for its rename, page-aligned buffers for O_DIRECT writes, a content digest that the
 * thread pool feeds while it writes those buffers, and an upload's socket read into those buffers
 * (chunked transfer encoding decoded on the way).
 * Each is null where it is not built; Berth then uses Node.js's streams, buffered fs calls and
 * node:crypto, which do the same work in more steps or on the main thread.
 */
import { createRequire } from 'node:module';

type Callback = (err: (Error & { code?: string }) | null) => void;

export interface NativeHelpers {
  /** The bytes [offset, offset+length) of the file go to the socket (sendfile(2) up to 256 KiB, pread + write above); err.code EAGAIN: no room for 50 ms, `sent` went, call again. */
  sendfile?: (socketFd: number, fileFd: number, offset: number, length: number, done: (err: Error | null, sent: number) => void) => void;
  /** Creates or truncates `path`, writes the buffers, fdatasyncs and closes it. */
  writeFile?: (path: string, buffers: Buffer[], done: Callback) => void;
  /** rename(2), then fsync(2) of the directory (`dirFd`) that `to` is in. */
  renameAndSyncDir?: (from: string, to: string, dirFd: number, done: Callback) => void;
  /** A Buffer of `size` bytes (a multiple of 4096) starting on a 4096-byte boundary, for O_DIRECT writes. */
  alignedBuffer?: (size: number) => Buffer;
  /** A running SHA-256 or SHA-512 digest (OpenSSL's, from Node.js's binary) that hashWrite can feed on the thread pool. */
  hashCreate?: (algorithm: 'sha256' | 'sha512') => object;
  /** Hashes `data` now (throws while hashWrite jobs on the digest are queued). */
  hashUpdate?: (digest: object, data: Buffer) => void;
  /** The hex digest; the digest is finished (throws while jobs are queued, or if an update failed). */
  hashDigest?: (digest: object) => string;
  /** On the thread pool: hashes buffer[hashFrom..] into `digest` (null: none) after every earlier job on it, then writes the whole buffer at `position` (fd -1: hashes only). */
  hashWrite?: (digest: object | null, fd: number, buffer: Buffer, hashFrom: number, position: number, done: Callback) => void;
  /** On the thread pool: up to `length` bytes of the socket into buffer[offset..]; err null and n < length: the peer closed; err.code EAGAIN: nothing came for 5 ms. */
  recvInto?: (socketFd: number, buffer: Buffer, offset: number, length: number, done: (err: (Error & { code?: string }) | null, n: number) => void) => void;
  /** Decodes the chunked body bytes of `src` into dst[dstOffset..] (at most dstLength): [src bytes used, data bytes written, 1 when the last chunk's size line was consumed]; throws EPROTO on malformed framing. `state` (16 bytes, zeroed at the body's start) carries the decoder across calls. */
  chunkedTake?: (state: Buffer, src: Buffer, dst: Buffer, dstOffset: number, dstLength: number) => [number, number, number];
  /** On the thread pool: the same from the socket, never past the last chunk's size line; err.code EAGAIN: nothing came for 5 ms; EPROTO: malformed framing; err null, last 0 and n 0: the peer closed. */
  recvChunkedInto?: (socketFd: number, state: Buffer, buffer: Buffer, offset: number, length: number, done: (err: (Error & { code?: string }) | null, n: number, last: number) => void) => void;
}

export const native: NativeHelpers = (() => {
  try {
    return createRequire(import.meta.url)('berth-sendfile') as NativeHelpers;
  } catch {
    return {};
  }
})();

/**
 * A native helper with a Node-style callback, as a promise-returning function (null: not built).
 * The helper is looked up on each call, so that a test can spy on it.
 */
export function nativeCall<K extends 'writeFile' | 'renameAndSyncDir'>(name: K): ((...args: Parameters<NonNullable<NativeHelpers[K]>> extends [...infer A, Callback] ? A : never) => Promise<void>) | null {
  if (!native[name]) return null;
  return (...args) =>
    new Promise<void>((resolve, reject) => {
      const fn = native[name] as (...a: unknown[]) => void;
      fn(...args, (err: Error | null) => (err ? reject(err) : resolve()));
    });
}
