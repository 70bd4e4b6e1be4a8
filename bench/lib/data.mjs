// Deterministic pseudo-random blob content, generated as a stream of Buffer
// pieces without ever materialising a whole blob:
//   blob(seed)[i] = chunk c = floor(i / 4 MiB), offset o = i mod 4 MiB
//                 = prefix(seed, c)[o]   if o < 32
//                 = BASE[o]              otherwise
// BASE is one 4 MiB AES-CTR keystream buffer shared by every blob; the 32-byte
// prefix is sha256(seed:chunk), so every chunk and every seed differ.

import crypto from 'node:crypto';

export const CHUNK = 4 * 1024 * 1024;
const PREFIX = 32;

const BASE = keystream('berth-bench-base', CHUNK);

/** size bytes of AES-256-CTR keystream keyed by `label` (deterministic). */
export function keystream(label, size) {
  const key = crypto.createHash('sha256').update(String(label)).digest();
  const cipher = crypto.createCipheriv('aes-256-ctr', key, Buffer.alloc(16));
  return Buffer.concat([cipher.update(Buffer.alloc(size)), cipher.final()]);
}

function prefix(seed, chunk) {
  return crypto.createHash('sha256').update(`${seed}:${chunk}`).digest();
}

/** Generator of Buffer pieces covering bytes [start, end) of blob(seed). */
export function* pieces(seed, start, end) {
  let pos = start;
  while (pos < end) {
    const c = Math.floor(pos / CHUNK);
    const chunkStart = c * CHUNK;
    const off = pos - chunkStart;
    const stop = Math.min(end, chunkStart + CHUNK) - chunkStart;
    if (off < PREFIX) {
      const e = Math.min(PREFIX, stop);
      yield prefix(seed, c).subarray(off, e);
      pos = chunkStart + e;
    } else {
      yield BASE.subarray(off, stop);
      pos = chunkStart + stop;
    }
  }
}

/** Materialise a (small) byte range of blob(seed). */
export function bytesAt(seed, start, end) {
  return Buffer.concat([...pieces(seed, start, end)]);
}

const digestCache = new Map();

/** sha256 digest of blob(seed) of `size` bytes (first pass, cached). */
export function blobDigest(seed, size) {
  const key = `${seed}/${size}`;
  let d = digestCache.get(key);
  if (!d) {
    const h = crypto.createHash('sha256');
    for (const p of pieces(seed, 0, size)) h.update(p);
    d = 'sha256:' + h.digest('hex');
    digestCache.set(key, d);
  }
  return d;
}

export function sha256(buf) {
  return 'sha256:' + crypto.createHash('sha256').update(buf).digest('hex');
}
