import { Readable } from 'node:stream';
import { BerthError } from '../../core/errors.js';
import { kTakeReads, takeReads, type DirectReadable, type ReadInto } from '../../blobstore/body.js';

export interface Metered {
  stream: Readable;
  /** Bytes that have flowed through so far. */
  bytes(): number;
}

/**
 * Passes a body through, counting bytes. With `limit`, a body that runs past it fails with
 * UPLOAD_INVALID instead of being stored. (Hashing is the blob writer's: AppendOpts.hash.)
 * A body that can be read into the writer's buffers (kTakeReads) stays so, counted the same way.
 */
export function meter(body: AsyncIterable<unknown>, limit?: number): Metered {
  let count = 0;
  const tooLong = (): BerthError => new BerthError('UPLOAD_INVALID', `body is longer than the ${limit} bytes declared`);
  async function* gen(): AsyncGenerator<Buffer> {
    for await (const chunk of body) {
      const buf = typeof chunk === 'string' ? Buffer.from(chunk) : (chunk as Buffer);
      count += buf.length;
      if (limit !== undefined && count > limit) throw tooLong();
      yield buf;
    }
  }
  const stream: Readable & DirectReadable = Readable.from(gen(), { objectMode: false });
  stream[kTakeReads] = (): ReadInto | null => {
    const reads = takeReads(body);
    if (!reads) return null;
    return async (buf, offset, max) => {
      const n = await reads(buf, offset, max);
      count += n;
      if (limit !== undefined && count > limit) throw tooLong();
      return n;
    };
  };
  return { stream, bytes: () => count };
}

/** Reads a whole (small) body into memory, refusing more than `max` bytes. */
export async function readSmallBody(body: AsyncIterable<unknown>, max: number): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let total = 0;
  for await (const chunk of body) {
    const buf = typeof chunk === 'string' ? Buffer.from(chunk) : (chunk as Buffer);
    total += buf.length;
    if (total > max) throw new BerthError('TOO_LARGE', `manifest is larger than ${max} bytes`);
    chunks.push(buf);
  }
  return Buffer.concat(chunks);
}
