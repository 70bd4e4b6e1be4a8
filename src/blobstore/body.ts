/** Reading an append's body: shared by the filesystem and S3 drivers. */
import type { Readable } from 'node:stream';

/** A body chunk as a Buffer (streams may yield strings or Uint8Arrays). */
export function toBuffer(chunk: unknown): Buffer {
  if (Buffer.isBuffer(chunk)) return chunk;
  if (typeof chunk === 'string') return Buffer.from(chunk);
  if (chunk instanceof Uint8Array) return Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength);
  throw new TypeError('append: the body must yield Buffers, Uint8Arrays or strings');
}

/**
 * Makes an abort of `signal` destroy `body`, so that a loop reading it rejects; throws at once if
 * the signal is already aborted. Returns the function that removes the listener (call it in a
 * `finally`).
 */
export function destroyOnAbort(body: Readable, signal: AbortSignal | undefined): () => void {
  if (!signal) return () => undefined;
  signal.throwIfAborted();
  const onAbort = (): void => {
    body.destroy(signal.reason instanceof Error ? signal.reason : new Error('aborted'));
  };
  signal.addEventListener('abort', onAbort, { once: true });
  return () => signal.removeEventListener('abort', onAbort);
}

/**
 * Reads the next bytes of a body into `buf[offset, offset + max)`; resolves the number read (at
 * least 1), or 0 at the end of the body.
 */
export type ReadInto = (buf: Buffer, offset: number, max: number) => Promise<number>;

/**
 * A body that can also be read straight into a caller's buffers (an upload's socket read on the
 * thread pool: src/http/socket-reads.ts). `takeReads` is called at most once, before the body is
 * iterated: it returns the reader, after which the body must not be iterated, or null, when the
 * body is to be iterated as usual.
 */
export const kTakeReads = Symbol('berth.takeReads');

export interface DirectReadable {
  [kTakeReads]?: () => ReadInto | null;
}

/** The reader behind `body`, taken now, or null (iterate the body). */
export function takeReads(body: object): ReadInto | null {
  return (body as DirectReadable)[kTakeReads]?.() ?? null;
}
