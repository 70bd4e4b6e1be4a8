/**
 * Streaming a body into a file with O_DIRECT: the bytes go from page-aligned staging buffers to
 * the device, not through the page cache.
 *
 * Why: on these VMs a buffered write's cost is the kernel's copy into freshly allocated page-cache
 * pages, and that copy is slow in some minutes (likely when the host has taken the guest's free
 * memory back; not verified): `dd` of 1 GiB with fdatasync spent 1.5-2.1 s of system CPU (85% of it
 * in copy_folio_from_iter_atomic) in such minutes and 0.2 s in others, and a 1 GiB upload cost
 * Berth's thread pool 1.8-2.4 s of system CPU, on a machine with two cores whose other one is busy
 * receiving and hashing. Written with O_DIRECT from page-aligned buffers the same upload costs the
 * pool 0.1-0.2 s (per-thread CPU from /proc). The price: the first download of such a blob reads it
 * from the disk into fresh page-cache pages, the same kernel cost moved from the upload to the first
 * pull: the first GET of a 1 GiB blob just after its upload measured 144-347 MB/s, against 176-880
 * when the upload had left it in the page cache (three runs each; the GETs after it mostly 2.0-2.7
 * GB/s either way, but 113-327 MB/s in one run with O_DIRECT and 679-1,458 in one without).
 * storage.fs.directWrites: false keeps uploads in the page cache.
 *
 * Rules O_DIRECT imposes, and how they are met:
 * - The buffer, the file offset and the length must be aligned to the device's logical block size
 *   (512 or 4096). Everything here is aligned to ALIGN (4096). Node.js's Buffers are not aligned,
 *   so the body's chunks are copied into staging buffers from the native helper alignedBuffer()
 *   (an O_DIRECT write from a merely 512-aligned buffer was measured 30x slower here).
 * - An append that starts inside a block (a resumed upload whose last chunk ended unaligned)
 *   first reads that block's head back into the staging buffer and rewrites it.
 * - The tail that does not fill a block is written through the ordinary (buffered) descriptor;
 *   the kernel keeps the two views of the file coherent.
 * - Data written with O_DIRECT may still sit in the device's volatile cache, and the file's size
 *   and extents are metadata: the caller's fdatasync before commit is still what makes it durable.
 *
 * Where a filesystem refuses O_DIRECT (EINVAL: tmpfs before Linux 6.6, some FUSE filesystems) or
 * the native helper is not built, `openDirect` says 'unsupported' and the caller writes buffered.
 */
import { constants } from 'node:fs';
import { open, type FileHandle } from 'node:fs/promises';
import type { Readable } from 'node:stream';
import { native } from '../../native.js';
import type { StreamHash } from '../types.js';
import { destroyOnAbort, takeReads, toBuffer } from '../body.js';
import { noteStreamedBytes } from '../../young-generation.js';

const ALIGN = 4096;
/**
 * Size of one staging buffer; an append holds IN_FLIGHT + 1 of them. 1 GiB uploads with one write
 * in flight, interleaved: 333-372 MB/s with 1 MiB buffers, 331-449 with 4 MiB, 331-402 with 8 MiB.
 */
export const STAGE = 4 * 1024 * 1024;
/**
 * O_DIRECT writes an append keeps in flight while it fills one more buffer. 1 GiB uploads,
 * interleaved: 346-437 MB/s with one, 349-450 with two; with one, single uploads waited up to 0.9 s
 * of their 3 s for the disk, with two or three next to nothing.
 */
const IN_FLIGHT = 2;
/** With a native digest, bytes hashed per job as a staging buffer fills (see hashSoFar). */
const HASH_STEP = 1024 * 1024;
/** Staging buffers kept for reuse when no append holds them: one append's worth. */
const POOL_MAX = IN_FLIGHT + 1;

const free: Buffer[] = [];

/** Bytes written with O_DIRECT (/metrics: berth_blob_direct_written_bytes_total; tests check the path was taken). */
export const directWriteStats = { bytes: 0 };

function takeBuffer(): Buffer {
  return free.pop() ?? native.alignedBuffer!(STAGE);
}

function giveBack(buf: Buffer): void {
  if (free.length < POOL_MAX) free.push(buf);
}

/**
 * Appends writing with O_DIRECT at once, at most. Each holds IN_FLIGHT + 1 staging buffers (12 MiB),
 * so this bounds their memory at 48 MiB; appends past it are written buffered.
 */
export const MAX_ACTIVE = 4;
let active = 0;

/**
 * Opens `path` (which exists) for O_DIRECT writes and takes one of the MAX_ACTIVE places; the
 * handle must be closed with closeDirect. 'busy': every place is taken; 'unsupported': no native
 * helper, or the filesystem refuses O_DIRECT.
 */
export async function openDirect(path: string): Promise<FileHandle | 'busy' | 'unsupported'> {
  if (!native.alignedBuffer || constants.O_DIRECT === undefined) return 'unsupported';
  if (active >= MAX_ACTIVE) return 'busy';
  active++;
  try {
    return await open(path, constants.O_WRONLY | constants.O_DIRECT);
  } catch (err) {
    active--;
    if ((err as NodeJS.ErrnoException).code === 'EINVAL') return 'unsupported';
    throw err;
  }
}

/** Closes a handle from openDirect and gives its place back. */
export async function closeDirect(fh: FileHandle): Promise<void> {
  active--;
  await fh.close();
}

/**
 * Writes `body` into the file at `path` from offset `start` (the file's current size) and returns
 * the bytes written. `direct` is an O_DIRECT handle on the file; the head block read back and the
 * unaligned tail go through an ordinary handle opened here when needed (positioned, so not the
 * caller's O_APPEND one). `hash` gets every byte of the body, in order: a native one is fed by the
 * write jobs on the thread pool (native hashWrite), any other on the main thread as chunks arrive.
 * Waits for every write it started, also on failure.
 */
export async function writeDirect(path: string, direct: FileHandle, start: number, body: Readable, signal: AbortSignal | undefined, hash?: StreamHash): Promise<number> {
  const bufs = Array.from({ length: IN_FLIGHT + 1 }, takeBuffer);
  const writes: (Promise<void> | null)[] = bufs.map(() => null);
  let cur = 0;
  let pos = start - (start % ALIGN); // where bufs[cur] goes in the file
  let fill = start - pos;
  // Bytes of bufs[cur] before this are hashed or queued for hashing, or are not the body's (the
  // head block's bytes read back into bufs[0] are the file's).
  let hashed = fill;
  let total = 0;
  let plain: FileHandle | null = null;
  const buffered = async (): Promise<FileHandle> => (plain ??= await open(path, 'r+'));
  const { hashWrite } = native;
  const offThread = hash?.native && hashWrite ? { digest: hash.native, hashWrite } : null;
  const jobs = new Set<Promise<void>>(); // hash-only jobs not yet settled
  const job = (fd: number, buf: Buffer, from: number, position: number): Promise<void> =>
    new Promise((resolve, reject) => offThread!.hashWrite(offThread!.digest, fd, buf, from, position, (err) => (err ? reject(err) : resolve())));
  // Writes buf[0, length) at `position`; with a native digest, hashes buf[from, length) first.
  const write = (fh: FileHandle, buf: Buffer, length: number, position: number, from: number): Promise<void> =>
    offThread ? job(fh.fd, buf.subarray(0, length), from, position) : writeAll(fh, buf, length, position);
  // With a native digest, what has arrived is hashed every HASH_STEP bytes as the buffer fills, so
  // that little is left to hash when the body ends (a chunked upload waits for it on every PATCH).
  const hashSoFar = (): void => {
    const p = job(-1, bufs[cur]!.subarray(hashed, fill), 0, 0);
    jobs.add(p);
    void p.then(() => jobs.delete(p), () => jobs.delete(p));
    hashed = fill;
  };
  // Takes the bytes now in bufs[cur][fill, fill + n); when that fills the buffer, queues its write
  // and returns the write to wait for before the next buffer is used (null: go on). Not async: a
  // promise per 64 KiB chunk would cost the streamed path an extra turn of the microtask queue.
  const advance = (n: number): Promise<void> | null => {
    fill += n;
    if (fill < STAGE) {
      if (offThread && fill - hashed >= HASH_STEP) hashSoFar();
      return null;
    }
    writes[cur] = write(direct, bufs[cur]!, STAGE, pos, hashed).then(() => void (directWriteStats.bytes += STAGE));
    writes[cur]!.catch(() => undefined);
    pos += STAGE;
    fill = 0;
    hashed = 0;
    cur = (cur + 1) % bufs.length;
    // The next buffer is reused only when its write is done (at most IN_FLIGHT in flight).
    const previous = writes[cur];
    writes[cur] = null;
    return previous ?? null;
  };
  // A body read into the buffers (an upload's socket, src/http/socket-reads.ts) is never iterated,
  // so nothing listens for its 'error': it is not destroyed on abort (that would throw uncaught);
  // the loop checks the signal, and the reader fails by itself when the connection closes.
  const reads = takeReads(body);
  const stopWatching = reads ? (): void => undefined : destroyOnAbort(body, signal);
  try {
    if (fill > 0) await readExactly(await buffered(), bufs[0]!, fill, pos);
    if (reads) {
      // Read straight into the staging buffers, a hash step at a time so that the hashing keeps
      // up as the buffer fills.
      for (;;) {
        signal?.throwIfAborted();
        const n = await reads(bufs[cur]!, fill, Math.min(STAGE - fill, HASH_STEP));
        if (n === 0) break;
        total += n;
        if (!offThread) hash?.update(bufs[cur]!.subarray(fill, fill + n));
        const previous = advance(n);
        if (previous) await previous;
      }
    } else {
      for await (const chunk of body) {
        let buf = toBuffer(chunk);
        total += buf.length;
        if (!offThread) hash?.update(buf);
        // The socket's chunks are freed by the young generation's collection (see young-generation.ts).
        noteStreamedBytes(buf.length);
        while (buf.length > 0) {
          const n = buf.copy(bufs[cur]!, fill);
          buf = buf.subarray(n);
          const previous = advance(n);
          if (previous) await previous;
        }
      }
    }
    signal?.throwIfAborted();
    await Promise.all(writes);
    const aligned = fill - (fill % ALIGN);
    if (aligned > 0) {
      await write(direct, bufs[cur]!, aligned, pos, Math.min(hashed, aligned));
      directWriteStats.bytes += aligned;
    }
    if (fill > aligned) await write(await buffered(), bufs[cur]!.subarray(aligned), fill - aligned, pos + aligned, Math.max(0, hashed - aligned));
    return total;
  } finally {
    stopWatching();
    // NOTE: the buffers go back to the pool only when no write can still be reading them.
    await Promise.allSettled([...writes, ...jobs]);
    for (const b of bufs) giveBack(b);
    await (plain as FileHandle | null)?.close();
  }
}

async function writeAll(fh: FileHandle, buf: Buffer, length: number, position: number): Promise<void> {
  let done = 0;
  while (done < length) {
    const { bytesWritten } = await fh.write(buf, done, length - done, position + done);
    if (bytesWritten === 0) throw new Error(`write returned 0 at offset ${position + done}`);
    done += bytesWritten;
  }
}

async function readExactly(fh: FileHandle, into: Buffer, length: number, position: number): Promise<void> {
  let done = 0;
  while (done < length) {
    const { bytesRead } = await fh.read(into, done, length - done, position + done);
    if (bytesRead === 0) throw new Error(`the file ends before offset ${position + length}`);
    done += bytesRead;
  }
}
