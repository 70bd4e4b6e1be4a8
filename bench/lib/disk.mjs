import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { MiB } from './util.mjs';

/**
 * The disk's synced write rate in MB/s, a reference for the upload rows: the most an upload can
 * reach when its bytes are synced before it is acknowledged (both registries sync an upload's data).
 * Writes `size` bytes to a new file in `dir` 1 MiB at a time from a 64 MiB random buffer (in
 * memory, so no generator's CPU is timed), fdatasyncs and closes it (all timed), then removes it.
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
