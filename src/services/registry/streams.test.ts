/**
 * meter(): counts what flows through and refuses a body past its declared length, both when the
 * body is iterated and when the writer reads it straight into its buffers (kTakeReads).
 */
import { describe, expect, it } from 'vitest';
import { kTakeReads, takeReads, type ReadInto } from '../../blobstore/body.js';
import { meter } from './streams.js';

/** A body of `total` bytes that a writer may read into its buffers, `step` bytes per read. */
function readableInto(total: number, step: number): AsyncIterable<Buffer> & { [kTakeReads]: () => ReadInto | null; taken: boolean } {
  let left = total;
  const body = {
    taken: false,
    async *[Symbol.asyncIterator](): AsyncGenerator<Buffer> {
      throw new Error('iterated after being taken');
    },
    [kTakeReads]: (): ReadInto => {
      body.taken = true;
      return async (buf, offset, max) => {
        const n = Math.min(step, max, left);
        buf.fill(7, offset, offset + n);
        left -= n;
        return n;
      };
    },
  };
  return body;
}

async function readAll(reads: ReadInto): Promise<number> {
  const buf = Buffer.alloc(1000);
  let total = 0;
  for (let n; (n = await reads(buf, 0, buf.length)) > 0; ) total += n;
  return total;
}

describe('meter', () => {
  it('counts an iterated body and refuses one longer than declared', async () => {
    const m = meter((async function* () { yield Buffer.alloc(300); yield Buffer.alloc(200); })(), 500);
    let seen = 0;
    for await (const c of m.stream) seen += (c as Buffer).length;
    expect(seen).toBe(500);
    expect(m.bytes()).toBe(500);
    const long = meter((async function* () { yield Buffer.alloc(300); yield Buffer.alloc(201); })(), 500);
    await expect((async () => { for await (const _ of long.stream) void _; })()).rejects.toMatchObject({ code: 'UPLOAD_INVALID' });
  });

  it('passes a body that can be read into buffers on, counting what is read', async () => {
    const body = readableInto(2500, 700);
    const m = meter(body, 2500);
    const reads = takeReads(m.stream);
    expect(reads).not.toBeNull();
    expect(body.taken).toBe(true);
    expect(await readAll(reads!)).toBe(2500);
    expect(m.bytes()).toBe(2500);
  });

  it('refuses a body read into buffers once it runs past the declared length', async () => {
    const m = meter(readableInto(2500, 700), 2000);
    await expect(readAll(takeReads(m.stream)!)).rejects.toMatchObject({ code: 'UPLOAD_INVALID' });
  });

  it('offers no reader for a body that has none (it is iterated as usual)', () => {
    const m = meter((async function* () { yield Buffer.alloc(1); })());
    expect(takeReads(m.stream)).toBeNull();
  });
});
