/**
 * Berth's native helpers for small blobs (native/sendfile/durable-write.c): each writes or
 * renames what it is asked to and reports failures as Node.js does (an Error with the errno
 * name as its code), and the filesystem driver goes through them.
 */
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
