/**
 * The filesystem driver's O_DIRECT path (direct-write.ts): large and unknown-length bodies are
 * written through page-aligned buffers, whatever offset an append starts at and however the body
 * is chunked; with directWrites off, buffered writes give the same result. (A filesystem that refuses
 * O_DIRECT takes the same buffered path; none is at hand to test it on: tmpfs takes O_DIRECT since Linux 6.6.)
 */
import { createHash, randomBytes } from 'node:crypto';
import { mkdtemp, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { native } from '../../native.js';
import { contentHash } from '../../content-hash.js';
import { MAX_ACTIVE, STAGE, directWriteStats } from './direct-write.js';
import { FsBlobStore } from './fs-blob-store.js';

async function readAll(stream: Readable): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const c of stream) chunks.push(c as Buffer);
  return Buffer.concat(chunks);
}

/** `data` as a stream of pieces of the given sizes (cycled), like a socket's uneven chunks. */
function chunked(data: Buffer, sizes: number[]): Readable {
  const pieces: Buffer[] = [];
  for (let at = 0, i = 0; at < data.length; i++) {
    const n = sizes[i % sizes.length]!;
    pieces.push(data.subarray(at, at + n));
    at += n;
  }
  return Readable.from(pieces);
}

/**
 * Appends the parts one per resumed writer (a chunked upload across PATCHes), commits, reads back;
 * every append feeds one native digest (hashed by the write jobs), which must match the parts.
 */
async function roundTrip(store: FsBlobStore, key: string, parts: Buffer[], sizes: number[]): Promise<Buffer> {
  const hash = contentHash('sha256');
  expect(hash.native).toBeDefined();
  for (const part of parts) {
    const w = await store.writer(key, { resume: true });
    await w.append(chunked(part, sizes), { hash });
  }
  expect(hash.digest()).toBe(createHash('sha256').update(Buffer.concat(parts)).digest('hex'));
  await (await store.writer(key, { resume: true })).commit();
  const back = await readAll(await store.read(key));
  await store.delete(key);
  return back;
}

describe.skipIf(process.platform !== 'linux')('filesystem driver: O_DIRECT writes', () => {
  let root: string;
  let store: FsBlobStore;
  beforeAll(async () => {
    root = await mkdtemp(join(tmpdir(), 'berth-direct-'));
    store = new FsBlobStore(root);
  });
  afterAll(async () => {
    await store.close();
    await rm(root, { recursive: true, force: true });
  });

  it('has the native part built (npm ci builds native/sendfile with node-gyp)', () => {
    expect(typeof native.alignedBuffer).toBe('function');
    const buf = native.alignedBuffer!(8192);
    expect(buf.length).toBe(8192);
    expect(() => native.alignedBuffer!(1000)).toThrow(/multiple of 4096/);
  });

  it('writes a body of unknown length with O_DIRECT, all but its unaligned tail', async () => {
    const data = randomBytes(2 * STAGE + 4096 * 3 + 777);
    const before = directWriteStats.bytes;
    const w = await store.writer('t/whole', { fresh: true });
    expect(await w.append(chunked(data, [65536, 1, 4095, 100_000]), { last: true })).toBe(data.length);
    await w.commit();
    expect(directWriteStats.bytes - before).toBe(data.length - 777);
    expect((await readAll(await store.read('t/whole'))).equals(data)).toBe(true);
    expect((await stat(join(root, 'objects/t/whole'))).size).toBe(data.length);
    await store.delete('t/whole');
  });

  it('leaves a small body of declared length to buffered writes', async () => {
    const data = randomBytes(STAGE - 1);
    const before = directWriteStats.bytes;
    const w = await store.writer('t/small', { fresh: true });
    await w.append(Readable.from([data]), { length: data.length });
    await w.commit();
    expect(directWriteStats.bytes).toBe(before);
    expect((await readAll(await store.read('t/small'))).equals(data)).toBe(true);
    await store.delete('t/small');
  });

  it('resumes at offsets inside a block (the head is read back and rewritten), including appends shorter than a block', async () => {
    const cases: Array<{ parts: number[]; sizes: number[] }> = [
      { parts: [5000, 100, 3, STAGE + 10, 4096, 1], sizes: [65536] },
      { parts: [4096, STAGE, 1, STAGE - 1, 8191], sizes: [1000, 7] },
      { parts: [1, 1, 1, 2 * STAGE + 4095], sizes: [STAGE + 3] },
      // Many small chunks: the digest is fed every megabyte while a staging buffer fills.
      { parts: [3000, 3 * STAGE + 12_345, 2 * 1024 * 1024 + 5], sizes: [65536, 1000, 300_000] },
    ];
    for (const [i, c] of cases.entries()) {
      const parts = c.parts.map((n) => randomBytes(n));
      const back = await roundTrip(store, `t/resume-${i}`, parts, c.sizes);
      expect(back.equals(Buffer.concat(parts)), `case ${i}`).toBe(true);
    }
  });

  it('a body that fails midway is cut back to the size before the append', async () => {
    const w = await store.writer('t/fail', { fresh: true });
    const head = randomBytes(4096 + 10);
    await w.append(Readable.from([head]));
    const failing = Readable.from(
      (async function* () {
        yield randomBytes(STAGE);
        yield randomBytes(STAGE);
        throw new Error('client went away');
      })(),
    );
    await expect(w.append(failing)).rejects.toThrow('client went away');
    const resumed = await store.writer('t/fail', { resume: true });
    expect(resumed.size).toBe(head.length);
    const tail = randomBytes(STAGE + 5);
    await resumed.append(Readable.from([tail]), { last: true });
    await resumed.commit();
    expect((await readAll(await store.read('t/fail'))).equals(Buffer.concat([head, tail]))).toBe(true);
    await store.delete('t/fail');
  });

  it(`writes at most ${MAX_ACTIVE} appends with O_DIRECT at once (their staging buffers are bounded); the others go buffered, all intact`, async () => {
    let open!: () => void;
    const gate = new Promise<void>((r) => (open = r));
    const n = MAX_ACTIVE + 2;
    const datas = Array.from({ length: n }, () => [randomBytes(STAGE), randomBytes(STAGE)] as const);
    const before = directWriteStats.bytes;
    const writers = await Promise.all(datas.map((_, i) => store.writer(`t/many-${i}`, { fresh: true })));
    const appends = writers.map((w, i) =>
      w.append(
        Readable.from(
          (async function* () {
            await gate; // every append has chosen its path before any body arrives
            yield* datas[i]!;
          })(),
        ),
        { last: true },
      ),
    );
    await new Promise((r) => setTimeout(r, 100));
    open();
    await Promise.all(appends);
    expect(directWriteStats.bytes - before).toBe(MAX_ACTIVE * 2 * STAGE);
    for (const [i, w] of writers.entries()) {
      await w.commit();
      expect((await readAll(await store.read(`t/many-${i}`))).equals(Buffer.concat(datas[i]!)), `blob ${i}`).toBe(true);
      await store.delete(`t/many-${i}`);
    }
    // The places are given back: the next append writes with O_DIRECT again.
    const again = directWriteStats.bytes;
    const w = await store.writer('t/again', { fresh: true });
    await w.append(Readable.from([randomBytes(STAGE)]), { last: true });
    await w.cancel();
    expect(directWriteStats.bytes - again).toBe(STAGE);
  });

  it('writes buffered when configured so (storage.fs.directWrites: false), with the same result', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'berth-buffered-'));
    const buffered = new FsBlobStore(dir, { directWrites: false });
    try {
      const before = directWriteStats.bytes;
      const parts = [randomBytes(5000), randomBytes(STAGE + 3)];
      expect((await roundTrip(buffered, 't/buffered', parts, [65536])).equals(Buffer.concat(parts))).toBe(true);
      expect(directWriteStats.bytes).toBe(before);
    } finally {
      await buffered.close();
      await rm(dir, { recursive: true, force: true });
    }
  });
});
