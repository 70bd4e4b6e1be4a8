/**
 * FsBlobStore: the filesystem driver.
 *
 * Layout under the root directory:
 *   objects/<key>   committed objects, published by rename (atomic on one filesystem)
 *   partial/<key>   data of writers not yet committed (appended; large bodies with O_DIRECT, see
 *                   direct-write.ts; fdatasync'ed by the last append or the commit)
 *
 * Both trees live on the same filesystem, so commit is fdatasync + rename + fsync of the
 * directory: after a crash a key is either wholly present or absent.
 *
 * A small blob pushed in one request costs six filesystem calls: open (creating the partial
 * file), write, fdatasync and close of that one handle (the upload's last append), rename, and
 * fsync of the target directory through a handle kept open. It cost thirteen before (an empty
 * file created by its own open and close, a stat to resume it, a second open to sync it, and
 * an open and close of the directory for each fsync), each a trip through the thread pool.
 * With Berth's native helpers (src/native.ts) those six calls are two trips: one job creates,
 * writes, syncs and closes the file (a body of known length up to ONE_JOB_MAX bytes, gathered
 * first), one renames it and syncs the directory.
 */
import { createReadStream, unlink as unlinkCallback } from 'node:fs';
import { mkdir, open, readdir, rename, stat, truncate, type FileHandle } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import type { Readable } from 'node:stream';
import { nativeCall } from '../../native.js';
import { noteStreamedBytes } from '../../young-generation.js';
import { destroyOnAbort, toBuffer } from '../body.js';
import { STAGE, closeDirect, openDirect, writeDirect } from './direct-write.js';
import {
  BlobNotFoundError,
  assertValidKey,
  type AppendOpts,
  type BlobStore,
  type BlobWriter,
  type CallOpts,
  type ObjectInfo,
  type StreamHash,
  type WriterOpts,
  withFileRange,
} from '../types.js';

const READ_CHUNK = 4 * 1024 * 1024;
const WRITE_BATCH = 1024 * 1024;
/**
 * The largest body written by one native job (gathered in memory first): an image's config and
 * its small layers (the benchmark's are 1-100 KiB). Larger bodies stream as before, so what an
 * upload holds in memory stays bounded.
 */
const ONE_JOB_MAX = 256 * 1024;
const writeFileInOneJob = nativeCall('writeFile');
const renameAndSyncDir = nativeCall('renameAndSyncDir');
const SYNC_EVERY = 8 * 1024 * 1024;

export class FsBlobStore implements BlobStore {
  readonly driver = 'fs';

  /** Directories known to exist (none is ever removed), so a write does not mkdir each time. */
  private readonly dirs = new Set<string>();
  /**
   * Open handles of the directories objects are published into, for their fsync. Bounded: the
   * registry publishes into 256 directories (`blobs/<2 hex>/`); past the bound a publish opens
   * and closes the directory as before. NOTE: a handle stays valid because no directory is
   * ever removed or replaced.
   */
  private readonly dirHandles = new Map<string, Promise<FileHandle>>();

  /** False when configured so, or once the filesystem refused O_DIRECT: then every write is buffered. */
  private direct: boolean;

  constructor(
    private readonly root: string,
    o: { directWrites?: boolean } = {},
  ) {
    this.direct = o.directWrites ?? true;
  }

  /**
   * @internal An O_DIRECT handle on `path` for a body of `length` bytes (undefined: unknown), to be
   * closed with closeDirect; or null: small bodies (below one staging buffer), filesystems without
   * O_DIRECT and appends past direct-write.ts's MAX_ACTIVE are written buffered.
   */
  async directHandle(path: string, length: number | undefined): Promise<FileHandle | null> {
    if (!this.direct || (length !== undefined && length < STAGE)) return null;
    const fh = await openDirect(path);
    if (fh === 'unsupported') this.direct = false;
    return typeof fh === 'string' ? null : fh;
  }

  private async ensureDir(dir: string): Promise<void> {
    if (this.dirs.has(dir)) return;
    await mkdir(dir, { recursive: true });
    if (this.dirs.size > 10_000) this.dirs.clear();
    this.dirs.add(dir);
  }

  private objectPath(key: string): string {
    assertValidKey(key);
    return join(this.root, 'objects', key);
  }

  private partialPath(key: string): string {
    assertValidKey(key);
    return join(this.root, 'partial', key);
  }

  async stat(key: string): Promise<ObjectInfo | null> {
    try {
      const s = await stat(this.objectPath(key));
      return { key, size: s.size, modifiedAt: s.mtime };
    } catch (err) {
      if (isNotFound(err)) return null;
      throw err;
    }
  }

  async read(key: string, o: CallOpts & { offset?: number; length?: number } = {}): Promise<Readable> {
    let fh: FileHandle;
    try {
      fh = await open(this.objectPath(key), 'r');
    } catch (err) {
      if (isNotFound(err)) throw new BlobNotFoundError(key, this.driver);
      throw err;
    }
    const start = o.offset ?? 0;
    if (o.length === 0) {
      await fh.close();
      return createReadStream('/dev/null', { start: 0, end: -1 });
    }
    const end = o.length === undefined ? undefined : start + o.length - 1;
    const stream = fh.createReadStream({
      start,
      ...(end === undefined ? {} : { end }),
      highWaterMark: READ_CHUNK,
      ...(o.signal ? { signal: o.signal } : {}),
    });
    return o.length === undefined ? stream : withFileRange(stream, { fd: fh.fd, offset: start, length: o.length });
  }

  async writer(key: string, o: WriterOpts = {}): Promise<BlobWriter> {
    const path = this.partialPath(key);
    await this.ensureDir(dirname(path));
    if (!o.resume) return new FsBlobWriter(this, key, path, 0, false); // the file is created (truncated) by the first append or commit
    let size = 0;
    try {
      size = (await stat(path)).size;
    } catch (err) {
      if (!isNotFound(err)) throw err;
    }
    return new FsBlobWriter(this, key, path, size, true);
  }

  /**
   * @internal used by FsBlobWriter.commit. `durable`: the partial file's data is already synced
   * (by the writer's last append); otherwise it is synced here.
   */
  async publish(key: string, partial: string, size: number, durable: boolean): Promise<ObjectInfo> {
    const target = this.objectPath(key);
    await this.ensureDir(dirname(target));
    if (!durable) {
      const fh = await open(partial, 'a');
      try {
        await fh.datasync();
      } finally {
        await fh.close();
      }
    }
    const dir = await this.dirHandle(dirname(target));
    if (renameAndSyncDir && dir) {
      await renameAndSyncDir(partial, target, dir.fd);
    } else {
      await rename(partial, target);
      await (dir ? dir.sync() : fsyncDirOnce(dirname(target)));
    }
    return { key, size, modifiedAt: new Date() };
  }

  /** A handle on the directory kept open for its fsyncs; null past MAX_DIR_HANDLES (then opened per sync). */
  private async dirHandle(dir: string): Promise<FileHandle | null> {
    let handle = this.dirHandles.get(dir);
    if (!handle) {
      if (this.dirHandles.size >= MAX_DIR_HANDLES) return null;
      handle = open(dir, 'r');
      this.dirHandles.set(dir, handle);
      handle.catch(() => this.dirHandles.delete(dir));
    }
    return handle;
  }

  async delete(key: string): Promise<void> {
    await Promise.all([unlinkIfPresent(this.objectPath(key)), unlinkIfPresent(this.partialPath(key))]);
  }

  async *list(prefix: string): AsyncIterable<ObjectInfo> {
    const base = join(this.root, 'objects');
    for await (const key of walk(base, '')) {
      if (!key.startsWith(prefix)) continue;
      try {
        const s = await stat(join(base, key));
        yield { key, size: s.size, modifiedAt: s.mtime };
      } catch (err) {
        if (!isNotFound(err)) throw err;
      }
    }
  }

  async close(): Promise<void> {
    const handles = [...this.dirHandles.values()];
    this.dirHandles.clear();
    await Promise.all(handles.map((h) => h.then((fh) => fh.close()).catch(() => undefined)));
  }
}

const MAX_DIR_HANDLES = 1024;

class FsBlobWriter implements BlobWriter {
  private done = false;
  /** The last append synced the file's data and nothing was written after it. */
  private durable = false;

  constructor(
    private readonly store: FsBlobStore,
    private readonly key: string,
    private readonly path: string,
    public size: number,
    /** The partial file exists (a resumed writer) or was created by this writer. */
    private created: boolean,
  ) {}

  /** NOTE: all-or-nothing: on failure the file is truncated back to its size before the call. */
  async append(body: Readable, o: AppendOpts = {}): Promise<number> {
    if (this.done) throw new Error('writer is finished');
    if (writeFileInOneJob && o.last && !this.created && o.length !== undefined && o.length <= ONE_JOB_MAX) return this.appendInOneJob(writeFileInOneJob, body, o);
    const before = this.size;
    // A fresh writer's first open truncates: earlier uncommitted data under the key is discarded.
    const fh = await open(this.path, this.created ? 'a' : 'w');
    this.created = true;
    this.durable = false;
    try {
      // NOTE: no datasync here unless this is the last append: commit (publish) syncs the file
      // before it becomes visible. Large bodies go to the device with O_DIRECT (direct-write.ts),
      // so that sync has only the device's cache and the metadata left; buffered ones keep one
      // write-behind sync in flight (writeBatched) for the same end. A chunked 1 GiB upload
      // (64 PATCHes of 16 MiB) waited for the disk on every PATCH before.
      const direct = await this.store.directHandle(this.path, o.length);
      let written: number;
      try {
        written = direct ? await writeDirect(this.path, direct, before, body, o.signal, o.hash) : await writeBatched(fh, body, o.signal, o.hash);
      } finally {
        if (direct) await closeDirect(direct);
      }
      if (o.last) await fh.datasync();
      this.size = before + written;
      this.durable = o.last === true;
      return written;
    } catch (err) {
      await fh.truncate(before).catch(() => undefined);
      throw err;
    } finally {
      await fh.close().catch(() => undefined);
    }
  }

  /** A fresh writer's only append, of a small body: gathered, then created, written and synced by one native job. */
  private async appendInOneJob(write: (path: string, buffers: Buffer[]) => Promise<void>, body: Readable, o: AppendOpts): Promise<number> {
    const chunks: Buffer[] = [];
    let total = 0;
    const stopWatching = destroyOnAbort(body, o.signal);
    try {
      for await (const chunk of body) {
        const buf = toBuffer(chunk);
        total += buf.length;
        // The caller's stream stops at its declared length; this only guards the bound.
        if (total > ONE_JOB_MAX) throw new Error(`body longer than the ${o.length} bytes declared`);
        o.hash?.update(buf);
        chunks.push(buf);
      }
      o.signal?.throwIfAborted();
    } finally {
      stopWatching();
    }
    this.created = true; // the job may leave a partial file behind if it fails
    try {
      await write(this.path, chunks);
    } catch (err) {
      await truncate(this.path, 0).catch(() => undefined);
      throw err;
    }
    this.size = total;
    this.durable = true;
    return total;
  }

  async commit(o: CallOpts = {}): Promise<ObjectInfo> {
    if (this.done) throw new Error('writer is finished');
    o.signal?.throwIfAborted();
    if (!this.created) {
      // An empty object: create the file (publish syncs it).
      await (await open(this.path, 'w')).close();
      this.created = true;
    }
    const info = await this.store.publish(this.key, this.path, this.size, this.durable);
    this.done = true;
    return info;
  }

  async cancel(): Promise<void> {
    this.done = true;
    await unlinkIfPresent(this.path);
  }
}

/**
 * Copies a stream into the file, gathering chunks into writev calls of about 1 MiB; returns the bytes written.
 * One write is in flight while the next batch is gathered, so reading (and the caller's
 * hashing) overlaps with the disk.
 */
async function writeBatched(fh: FileHandle, body: Readable, signal: AbortSignal | undefined, hash: StreamHash | undefined): Promise<number> {
  let total = 0;
  let batch: Buffer[] = [];
  let batched = 0;
  let inflight: Promise<void> | null = null;
  const writeAll = async (bufs: Buffer[]): Promise<void> => {
    let pending = bufs;
    while (pending.length > 0) {
      const total = pending.reduce((n, b) => n + b.length, 0);
      const { bytesWritten } = await fh.writev(pending);
      if (bytesWritten === total) break;
      pending = skipBytes(pending, bytesWritten);
    }
  };
  // Flushing as we go (one datasync in flight every SYNC_EVERY bytes) overlaps the disk's
  // write-back with receiving, so the datasync before commit only has the tail left to flush.
  let sinceSync = 0;
  let syncing: Promise<void> | null = null;
  const flush = async (): Promise<void> => {
    const bufs = batch;
    const size = batched;
    batch = [];
    batched = 0;
    if (inflight) await inflight;
    inflight = writeAll(bufs);
    inflight.catch(() => undefined);
    sinceSync += size;
    // The socket's chunks are freed by the young generation's collection (see young-generation.ts).
    noteStreamedBytes(size);
    if (sinceSync >= SYNC_EVERY && !syncing) {
      sinceSync = 0;
      const written = inflight;
      syncing = written.then(() => fh.datasync()).finally(() => {
        syncing = null;
      });
      syncing.catch(() => undefined);
    }
  };
  const stopWatching = destroyOnAbort(body, signal);
  try {
    for await (const chunk of body) {
      const buf = toBuffer(chunk);
      hash?.update(buf);
      batch.push(buf);
      batched += buf.length;
      total += buf.length;
      if (batched >= WRITE_BATCH) await flush();
    }
    signal?.throwIfAborted();
    if (batched > 0) await flush();
  } finally {
    stopWatching();
    // NOTE: always wait for the last write (and sync), so the caller's truncate-on-failure runs after them.
    if (inflight) await (inflight as Promise<void>);
    if (syncing) await (syncing as Promise<void>);
  }
  return total;
}

function skipBytes(bufs: Buffer[], n: number): Buffer[] {
  const out: Buffer[] = [];
  let skip = n;
  for (const b of bufs) {
    if (skip >= b.length) {
      skip -= b.length;
      continue;
    }
    out.push(skip > 0 ? b.subarray(skip) : b);
    skip = 0;
  }
  return out;
}

async function* walk(base: string, rel: string): AsyncIterable<string> {
  let entries;
  try {
    entries = await readdir(join(base, rel), { withFileTypes: true });
  } catch (err) {
    if (isNotFound(err)) return;
    throw err;
  }
  entries.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  for (const e of entries) {
    const child = rel === '' ? e.name : `${rel}/${e.name}`;
    if (e.isDirectory()) yield* walk(base, child);
    else if (e.isFile()) yield child;
  }
}

async function fsyncDirOnce(dir: string): Promise<void> {
  const fh = await open(dir, 'r');
  try {
    await fh.sync();
  } finally {
    await fh.close();
  }
}

/**
 * The callback form of unlink: measured on a garbage-collection pass of 500,000 objects, the
 * promise form spent most of its time on the main thread (about 25 s; the pass went from
 * 83.4 s to 69.8 s with this form).
 */
function unlinkIfPresent(path: string): Promise<void> {
  return new Promise((resolve, reject) => {
    unlinkCallback(path, (err) => (err && !isNotFound(err) ? reject(err) : resolve()));
  });
}

function isNotFound(err: unknown): boolean {
  return (err as NodeJS.ErrnoException).code === 'ENOENT' || (err as NodeJS.ErrnoException).code === 'ENOTDIR';
}

