/**
 * The BlobStore contract suite. Every driver's `*.contract.test.ts` calls
 * `describeBlobStoreContract` with a factory; this file never runs on its own.
 * Each test cleans up, and afterEach asserts that the store holds no object
 * (distribution's "did not clean up properly" rule).
 */
import { createHash, randomBytes, randomUUID } from 'node:crypto';
import { Readable } from 'node:stream';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { BlobNotFoundError, InvalidKeyError, type BlobStore } from './types.js';
import { contentHash, type ContentHash } from '../content-hash.js';

/** node:crypto's SHA-256 as a ContentHash (no native part: drivers hash it on the main thread). */
function nodeHash(): ContentHash {
  const h = createHash('sha256');
  return { update: (d) => void h.update(d), digest: () => h.digest('hex') };
}

export interface BlobStoreFactory {
  /** A new instance over the same backend each call (used for the multi-instance tests). */
  open(): Promise<BlobStore>;
  /** Removes the backend (temporary directory, test prefix). */
  destroy?(): Promise<void>;
}

export interface ContractOptions {
  /** A size that crosses the driver's internal part size (S3: above 5 MiB). */
  largeSize?: number;
  /** Why the suite is skipped when the factory is null (shown in the suite's name). */
  skipReason?: string;
}

/** Collects a stream into one buffer (test data is small). */
export async function readAll(stream: Readable): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const c of stream) chunks.push(c as Buffer);
  return Buffer.concat(chunks);
}

function failingStream(good: Buffer): Readable {
  let sent = false;
  return new Readable({
    read() {
      if (!sent) {
        sent = true;
        this.push(good);
      } else this.destroy(new Error('client went away'));
    },
  });
}

export function describeBlobStoreContract(name: string, factory: BlobStoreFactory | null, options: ContractOptions = {}): void {
  const large = options.largeSize ?? 12 * 1024 * 1024 + 12345;

  const suiteSkipReason = factory === null ? (options.skipReason ?? 'no backend configured') : undefined;
  describe.skipIf(suiteSkipReason !== undefined)(`BlobStore contract: ${name}${suiteSkipReason ? ` (skipped: ${suiteSkipReason})` : ''}`, () => {
    let store: BlobStore;
    const key = (): string => `test/${randomUUID().slice(0, 2)}/${randomUUID()}`;
    // Every implementation passes every case (no per-driver exemptions).
    const test = it;

    beforeAll(async () => {
      store = await factory!.open();
    });
    afterAll(async () => {
      await store?.close();
      await factory?.destroy?.();
    });
    afterEach(async () => {
      const left: string[] = [];
      for await (const o of store.list('')) left.push(o.key);
      expect(left, 'the test did not clean up').toEqual([]);
    });

    test('writes, commits, stats and reads back an object', async () => {
      const k = key();
      const data = randomBytes(100_000);
      const w = await store.writer(k);
      expect(await w.append(Readable.from([data.subarray(0, 1000), data.subarray(1000)]))).toBe(data.length);
      const info = await w.commit();
      expect(info.size).toBe(data.length);
      expect((await store.stat(k))?.size).toBe(data.length);
      expect((await readAll(await store.read(k))).equals(data)).toBe(true);
      await store.delete(k);
      expect(await store.stat(k)).toBeNull();
    });

    test('a fresh writer and a last append commit the data; an append after a last one is kept too', async () => {
      const k = key();
      const w = await store.writer(k, { fresh: true });
      await w.append(Readable.from([Buffer.from('one ')]), { last: true });
      await w.append(Readable.from([Buffer.from('two')]), { last: true });
      await w.append(Readable.from([Buffer.from(' three')]));
      expect(await store.stat(k)).toBeNull();
      expect((await w.commit()).size).toBe(13);
      expect((await readAll(await store.read(k))).toString()).toBe('one two three');
      await store.delete(k);
    });

    test('a fresh writer takes a small body of declared length in one last append, in many chunks or none', async () => {
      for (const data of [randomBytes(70_000), Buffer.alloc(0)]) {
        const k = key();
        const w = await store.writer(k, { fresh: true });
        const chunks = Array.from({ length: Math.ceil(data.length / 4096) }, (_, i) => data.subarray(i * 4096, (i + 1) * 4096));
        expect(await w.append(Readable.from(chunks), { last: true, length: data.length })).toBe(data.length);
        expect(await store.stat(k)).toBeNull();
        expect((await w.commit()).size).toBe(data.length);
        expect((await readAll(await store.read(k))).equals(data)).toBe(true);
        await store.delete(k);
      }
    });

    test('an append feeds its hash with exactly the bytes it stores, in order, across resumed writers and every body shape', async () => {
      // Pieces: a small one of declared length (the one-job path), an unaligned one, a large one of
      // unknown length (the filesystem driver's O_DIRECT path, resumed inside a block), a tail.
      const pieces = [randomBytes(5000), randomBytes(123_457), randomBytes(large), randomBytes(4097)];
      for (const hashOf of [(): ContentHash => contentHash('sha256'), nodeHash]) {
        const k = key();
        const hash = hashOf();
        for (const [i, piece] of pieces.entries()) {
          const w = await store.writer(k, i === 0 ? { fresh: true } : { resume: true });
          const opts = { hash, ...(i === 0 ? { length: piece.length, last: true } : {}) };
          const chunks = [piece.subarray(0, 1), piece.subarray(1, 70_000), piece.subarray(70_000)];
          expect(await w.append(Readable.from(chunks.filter((c) => c.length > 0)), opts)).toBe(piece.length);
        }
        await (await store.writer(k, { resume: true })).commit();
        const all = Buffer.concat(pieces);
        expect(hash.digest()).toBe(createHash('sha256').update(all).digest('hex'));
        expect((await readAll(await store.read(k))).equals(all)).toBe(true);
        await store.delete(k);
      }
    });

    test('a small body of declared length that fails midway leaves nothing, and the writer can be cancelled', async () => {
      const k = key();
      const w = await store.writer(k, { fresh: true });
      const failing = Readable.from(
        (async function* () {
          yield Buffer.from('some bytes');
          throw new Error('client went away');
        })(),
      );
      await expect(w.append(failing, { last: true, length: 100 })).rejects.toThrow('client went away');
      expect(await store.stat(k)).toBeNull();
      await w.cancel();
    });

    test('a fresh writer commits an empty object', async () => {
      const k = key();
      await (await store.writer(k, { fresh: true })).commit();
      expect((await store.stat(k))?.size).toBe(0);
      await store.delete(k);
    });

    test('commits an empty object', async () => {
      const k = key();
      const w = await store.writer(k);
      await w.commit();
      expect((await store.stat(k))?.size).toBe(0);
      expect((await readAll(await store.read(k))).length).toBe(0);
      await store.delete(k);
    });

    test('uncommitted data is neither readable nor listed', async () => {
      const k = key();
      const w = await store.writer(k);
      await w.append(Readable.from([Buffer.from('partial')]));
      expect(await store.stat(k)).toBeNull();
      await expect(store.read(k)).rejects.toBeInstanceOf(BlobNotFoundError);
      const listed: string[] = [];
      for await (const o of store.list('test/')) listed.push(o.key);
      expect(listed).not.toContain(k);
      await w.cancel();
    });

    test('reads a missing key as BlobNotFoundError and deletes it idempotently', async () => {
      await expect(store.read('test/missing/nothing')).rejects.toBeInstanceOf(BlobNotFoundError);
      await store.delete('test/missing/nothing');
      expect(await store.stat('test/missing/nothing')).toBeNull();
    });

    test('reads ranges', async () => {
      const k = key();
      const data = randomBytes(large);
      const w = await store.writer(k);
      await w.append(Readable.from([data]));
      await w.commit();
      expect((await readAll(await store.read(k, { offset: 10, length: 5 }))).equals(data.subarray(10, 15))).toBe(true);
      expect((await readAll(await store.read(k, { offset: large - 7 }))).equals(data.subarray(large - 7))).toBe(true);
      const mid = 5 * 1024 * 1024 - 3;
      expect((await readAll(await store.read(k, { offset: mid, length: 10 }))).equals(data.subarray(mid, mid + 10))).toBe(true);
      expect((await readAll(await store.read(k))).equals(data)).toBe(true);
      await store.delete(k);
    });

    test('resumes a writer on another instance, across small and large appends', async () => {
      const k = key();
      const parts = [randomBytes(1000), randomBytes(2000), randomBytes(large), randomBytes(3)];
      const w1 = await store.writer(k);
      await w1.append(Readable.from([parts[0]!]));
      await w1.append(Readable.from([parts[1]!]));
      const other = await factory!.open();
      try {
        const w2 = await other.writer(k, { resume: true });
        expect(w2.size).toBe(3000);
        await w2.append(Readable.from([parts[2]!]));
        const w3 = await store.writer(k, { resume: true });
        expect(w3.size).toBe(3000 + large);
        await w3.append(Readable.from([parts[3]!]));
        const info = await w3.commit();
        expect(info.size).toBe(3003 + large);
        expect((await readAll(await other.read(k))).equals(Buffer.concat(parts))).toBe(true);
      } finally {
        await other.close();
      }
      await store.delete(k);
    });

    test('a failed append leaves the durable size unchanged', async () => {
      const k = key();
      const w = await store.writer(k);
      await w.append(Readable.from([Buffer.from('hello ')]));
      await expect(w.append(failingStream(randomBytes(70_000)))).rejects.toThrow();
      const resumed = await store.writer(k, { resume: true });
      expect(resumed.size).toBe(6);
      await resumed.append(Readable.from([Buffer.from('world')]));
      await resumed.commit();
      expect((await readAll(await store.read(k))).toString()).toBe('hello world');
      await store.delete(k);
    });

    test('an aborted append rejects and nothing is committed', async () => {
      const k = key();
      const w = await store.writer(k);
      const ac = new AbortController();
      const body = new Readable({ read() {} });
      body.push(randomBytes(1000));
      const pending = w.append(body, { signal: ac.signal });
      setTimeout(() => ac.abort(), 20);
      await expect(pending).rejects.toThrow();
      expect(await store.stat(k)).toBeNull();
      await w.cancel();
    });

    test('a new writer without resume discards earlier uncommitted data', async () => {
      const k = key();
      const w1 = await store.writer(k);
      await w1.append(Readable.from([Buffer.from('stale data')]));
      const w2 = await store.writer(k);
      expect(w2.size).toBe(0);
      await w2.append(Readable.from([Buffer.from('fresh')]));
      await w2.commit();
      expect((await readAll(await store.read(k))).toString()).toBe('fresh');
      await store.delete(k);
    });

    test('cancel discards the data and is idempotent', async () => {
      const k = key();
      const w = await store.writer(k);
      await w.append(Readable.from([Buffer.from('bye')]));
      await w.cancel();
      await w.cancel();
      const resumed = await store.writer(k, { resume: true });
      expect(resumed.size).toBe(0);
      await resumed.cancel();
      expect(await store.stat(k)).toBeNull();
    });

    test('lists committed objects by prefix', async () => {
      const base = `test/list-${randomUUID()}`;
      const keys = [`${base}/a`, `${base}/b/c`, `${base}x/d`];
      for (const k of keys) {
        const w = await store.writer(k);
        await w.append(Readable.from([Buffer.from(k)]));
        await w.commit();
      }
      const listed: string[] = [];
      for await (const o of store.list(`${base}/`)) listed.push(o.key);
      expect(listed.sort()).toEqual([`${base}/a`, `${base}/b/c`]);
      for (const k of keys) await store.delete(k);
    });

    test('refuses keys that are not safe relative paths', async () => {
      for (const bad of ['../etc/passwd', '/abs', 'a//b', 'a/./b', 'a\\b', '', 'a/../../b']) {
        await expect(store.stat(bad), bad).rejects.toBeInstanceOf(InvalidKeyError);
      }
    });

    test('serves concurrent readers and writers', async () => {
      const ks = Array.from({ length: 6 }, key);
      const datas = ks.map(() => randomBytes(300_000));
      await Promise.all(
        ks.map(async (k, i) => {
          const w = await store.writer(k);
          await w.append(Readable.from([datas[i]!]));
          await w.commit();
        }),
      );
      const back = await Promise.all(ks.map(async (k) => readAll(await store.read(k))));
      back.forEach((b, i) => expect(b.equals(datas[i]!)).toBe(true));
      await Promise.all(ks.map((k) => store.delete(k)));
    });
  });
}
