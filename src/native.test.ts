/**
 * Berth's native helpers for small blobs (native/sendfile/durable-write.c): each writes or
 * renames what it is asked to and reports failures as Node.js does (an Error with the errno
 * name as its code), and the filesystem driver goes through them. And the digest that write jobs
 * feed on the thread pool (hash-write.c): in queue order, whatever thread runs each job.
 */
import { createHash, randomBytes } from 'node:crypto';
import { mkdtemp, readFile, readdir, rm, stat, writeFile } from 'node:fs/promises';
import { open } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { native, nativeCall } from './native.js';
import { FsBlobStore } from './blobstore/fs/fs-blob-store.js';

describe.skipIf(process.platform !== 'linux')('native helpers for small blobs', () => {
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'berth-native-'));
  });
  afterAll(() => rm(dir, { recursive: true, force: true }));

  it('are built (npm ci builds native/sendfile with node-gyp)', () => {
    expect(typeof native.writeFile).toBe('function');
    expect(typeof native.renameAndSyncDir).toBe('function');
  });

  it('writes every buffer in order, more than one writev takes, over an existing file', async () => {
    const write = nativeCall('writeFile')!;
    const path = join(dir, 'many');
    await writeFile(path, 'old content that is longer than nothing');
    // 3,000 buffers: past IOV_MAX (1,024), so the job loops over writev.
    const buffers = Array.from({ length: 3000 }, (_, i) => Buffer.from(`${i},`));
    await write(path, buffers);
    expect((await readFile(path)).equals(Buffer.concat(buffers))).toBe(true);
    await write(path, []);
    expect((await stat(path)).size).toBe(0);
  });

  it('renames and syncs the directory, and reports failures with their errno code', async () => {
    const write = nativeCall('writeFile')!;
    const rename = nativeCall('renameAndSyncDir')!;
    await expect(write(join(dir, 'no-such-dir', 'f'), [Buffer.from('x')])).rejects.toMatchObject({ code: 'ENOENT' });
    await write(join(dir, 'from'), [Buffer.from('moved')]);
    const handle = await open(dir, 'r');
    try {
      await rename(join(dir, 'from'), join(dir, 'to'), handle.fd);
      expect(await readFile(join(dir, 'to'), 'utf8')).toBe('moved');
      await expect(rename(join(dir, 'from'), join(dir, 'again'), handle.fd)).rejects.toMatchObject({ code: 'ENOENT' });
    } finally {
      await handle.close();
    }
    expect(() => native.writeFile!('', [], () => undefined)).toThrow(TypeError);
    expect(() => native.writeFile!(join(dir, 'x'), ['not a buffer' as unknown as Buffer], () => undefined)).toThrow(TypeError);
    expect(() => native.renameAndSyncDir!('a', 'b', -1, () => undefined)).toThrow(TypeError);
  });

  it('carry the filesystem driver through a small blob of known length: one job writes it, one publishes it', async () => {
    const store = new FsBlobStore(join(dir, 'store'));
    const writeSpy = vi.spyOn(native, 'writeFile');
    const renameSpy = vi.spyOn(native, 'renameAndSyncDir');
    try {
      const data = Buffer.from('a small layer');
      const w = await store.writer('blobs/ab/one', { fresh: true });
      await w.append(Readable.from([data]), { last: true, length: data.length });
      await w.commit();
      expect(writeSpy).toHaveBeenCalledTimes(1);
      expect(renameSpy).toHaveBeenCalledTimes(1);
      expect(await readdir(join(dir, 'store', 'objects', 'blobs', 'ab'))).toEqual(['one']);
      // Without a declared length (or past the bound) the body is streamed as before.
      const w2 = await store.writer('blobs/ab/two', { fresh: true });
      await w2.append(Readable.from([data]), { last: true });
      await w2.commit();
      expect(writeSpy).toHaveBeenCalledTimes(1);
    } finally {
      writeSpy.mockRestore();
      renameSpy.mockRestore();
      await store.close();
    }
  });
});

describe.skipIf(process.platform !== 'linux')('native digest fed by write jobs (hash-write.c)', () => {
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'berth-hash-'));
  });
  afterAll(() => rm(dir, { recursive: true, force: true }));

  const hashWrite = (digest: object | null, fd: number, buf: Buffer, from: number, position: number): Promise<void> =>
    new Promise((resolve, reject) => native.hashWrite!(digest, fd, buf, from, position, (err) => (err ? reject(err) : resolve())));

  it('hashes 200 jobs queued at once in queue order (skipping each one\'s first `hashFrom` bytes) and writes each at its position', async () => {
    const digest = native.hashCreate!('sha256');
    const fh = await open(join(dir, 'jobs'), 'w+');
    const expected = createHash('sha256');
    const file: Buffer[] = [];
    const jobs: Promise<void>[] = [];
    let position = 0;
    native.hashUpdate!(digest, Buffer.from('prefix '));
    expected.update('prefix ');
    for (let i = 0; i < 200; i++) {
      // The last job is large (64 MiB: tens of ms to hash), so it is still running just after.
      const buf = i === 199 ? randomBytes(64 << 20) : randomBytes(1 + ((i * 7919) % 300_000));
      const from = i % 3 === 0 ? Math.min(buf.length, 100) : 0;
      expected.update(buf.subarray(from));
      file.push(buf);
      jobs.push(hashWrite(digest, fh.fd, buf, from, position));
      position += buf.length;
    }
    // While jobs are queued, the main thread may neither update nor take the digest.
    expect(() => native.hashDigest!(digest)).toThrow(/still running/);
    expect(() => native.hashUpdate!(digest, Buffer.from('x'))).toThrow(/still running/);
    await Promise.all(jobs);
    await fh.close();
    expect(native.hashDigest!(digest)).toBe(expected.digest('hex'));
    expect(() => native.hashDigest!(digest)).toThrow(/already taken/);
    expect((await readFile(join(dir, 'jobs'))).equals(Buffer.concat(file))).toBe(true);
  });

  it('hashes without writing when the descriptor is -1, in order with the writing jobs', async () => {
    const digest = native.hashCreate!('sha256');
    const fh = await open(join(dir, 'mixed'), 'w+');
    const parts = [randomBytes(1000), randomBytes(5000), randomBytes(3)];
    await Promise.all([hashWrite(digest, -1, parts[0]!, 0, 0), hashWrite(digest, fh.fd, parts[1]!, 0, 0), hashWrite(digest, -1, parts[2]!, 0, 0)]);
    await fh.close();
    expect(native.hashDigest!(digest)).toBe(createHash('sha256').update(Buffer.concat(parts)).digest('hex'));
    expect((await readFile(join(dir, 'mixed'))).equals(parts[1]!)).toBe(true);
  });

  it('computes SHA-512 too, writes without a digest, and reports a failed write with its errno code', async () => {
    const d = native.hashCreate!('sha512');
    native.hashUpdate!(d, Buffer.from('abc'));
    expect(native.hashDigest!(d)).toBe(createHash('sha512').update('abc').digest('hex'));
    expect(() => native.hashCreate!('md5' as 'sha256')).toThrow(/sha256 or sha512/);
    const ro = await open(join(dir, 'jobs'), 'r');
    const digest = native.hashCreate!('sha256');
    await expect(hashWrite(digest, ro.fd, Buffer.from('no'), 0, 0)).rejects.toMatchObject({ code: 'EBADF' });
    await ro.close();
    const fh = await open(join(dir, 'plain'), 'w');
    await hashWrite(null, fh.fd, Buffer.from('plain'), 0, 3);
    await fh.close();
    expect(await readFile(join(dir, 'plain'))).toEqual(Buffer.concat([Buffer.alloc(3), Buffer.from('plain')]));
    expect(() => native.hashWrite!(digest, -2, Buffer.from('x'), 0, 0, () => undefined)).toThrow(/bad arguments/);
    expect(() => native.hashWrite!(null, -1, Buffer.from('x'), 0, 0, () => undefined)).toThrow(/bad arguments/);
    expect(() => native.hashWrite!(digest, 1, Buffer.from('x'), 2, 0, () => undefined)).toThrow(/bad arguments/);
  });
});
