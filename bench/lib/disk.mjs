import crypto from 'node:crypto';
import fs from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { MiB } from './util.mjs';

/**
 * The disk's synced write rate in MB/s through the page cache, a reference for the upload rows:
 * the most an upload written as Distribution writes it can reach (it fsyncs the data before the
 * upload is acknowledged). Writes `size` bytes to a new file in `dir` 1 MiB at a time from a 64 MiB
 * random buffer (in memory, so no generator's CPU is timed), fdatasyncs and closes it (all timed),
 * then removes it.
 */
export function syncedWriteRate(dir, size) {
  const source = crypto.randomBytes(64 * MiB);
  const file = path.join(dir, `disk-reference-${process.pid}.bin`);
  const t0 = performance.now();
  const fd = fs.openSync(file, 'w');
  try {
    for (let off = 0; off < size; off += MiB) {
      const n = Math.min(MiB, size - off);
      const at = off % source.length;
      fs.writeSync(fd, source, at, n);
    }
    fs.fdatasyncSync(fd);
  } finally {
    fs.closeSync(fd);
  }
  const seconds = (performance.now() - t0) / 1000;
  fs.rmSync(file, { force: true });
  return size / seconds / 1e6;
}

/**
 * The same with O_DIRECT (past the page cache), as Berth writes upload bodies of 4 MiB or more:
 * 4 MiB writes from a page-aligned random buffer (Berth's native helper), one at a time, then
 * fdatasync. Null where the helper is not built or the filesystem refuses O_DIRECT.
 */
export function directWriteRate(dir, size) {
  let aligned;
  try {
    aligned = createRequire(import.meta.url)('../../native/sendfile/index.cjs').alignedBuffer;
  } catch {
    return null;
  }
  if (!aligned || fs.constants.O_DIRECT === undefined) return null;
  const chunk = 4 * MiB;
  const source = aligned(chunk);
  crypto.randomFillSync(source);
  const file = path.join(dir, `disk-reference-direct-${process.pid}.bin`);
  let fd;
  try {
    fd = fs.openSync(file, fs.constants.O_WRONLY | fs.constants.O_CREAT | fs.constants.O_TRUNC | fs.constants.O_DIRECT, 0o600);
  } catch {
    return null;
  }
  const t0 = performance.now();
  try {
    for (let off = 0; off < size; off += chunk) fs.writeSync(fd, source, 0, chunk, off);
    fs.fdatasyncSync(fd);
  } finally {
    fs.closeSync(fd);
  }
  const seconds = (performance.now() - t0) / 1000;
  fs.rmSync(file, { force: true });
  return (Math.ceil(size / chunk) * chunk) / seconds / 1e6;
}
