/**
 * Turns a layer's stored bytes into its tar stream: compression is detected from the first bytes (a media type
 * can lie or be generic), and the decompressed size is capped in total and in ratio to the compressed size, so a
 * decompression bomb ends the layer with an error instead of exhausting memory, disk or time.
 */
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { createGunzip } from 'node:zlib';
import { zstdDecode } from './zstd-stream.js';

export type Compression = 'gzip' | 'zstd' | 'none';

export class LayerLimitError extends Error {
  override name = 'LayerLimitError';
}

/** Compression from magic bytes; throws for formats a layer may not use here (xz, bzip2). */
export function detectCompression(head: Buffer): Compression {
  if (head.length >= 2 && head[0] === 0x1f && head[1] === 0x8b) return 'gzip';
  if (head.length >= 4) {
    const magic = head.readUInt32LE(0);
    if (magic === 0xfd2fb528 || (magic & 0xfffffff0) === 0x184d2a50) return 'zstd';
  }
  if (head.length >= 6 && head.subarray(0, 6).equals(Buffer.from([0xfd, 0x37, 0x7a, 0x58, 0x5a, 0x00]))) {
    throw new Error('unsupported layer compression: xz');
  }
  if (head.length >= 3 && head.subarray(0, 3).toString('latin1') === 'BZh') throw new Error('unsupported layer compression: bzip2');
  return 'none';
}

export interface DecompressLimits {
  maxLayerBytes: number;
  maxRatio: number;
  ratioCheckAfterBytes: number;
  maxZstdWindowBytes: number;
}

/** Byte counts of one layer, updated while it streams. */
export interface LayerCounters {
  compression?: Compression;
  compressedBytes: number;
  decompressedBytes: number;
}

async function* counted(source: AsyncIterable<Buffer | string>, counters: LayerCounters): AsyncGenerator<Buffer> {
  for await (const c of source) {
    const b = typeof c === 'string' ? Buffer.from(c) : c;
    counters.compressedBytes += b.length;
    yield b;
  }
}

/** Reads until at least `n` bytes (or the end) are seen, then replays everything. */
async function peek(source: AsyncIterator<Buffer>, n: number): Promise<{ head: Buffer; replay: AsyncGenerator<Buffer> }> {
  const seen: Buffer[] = [];
  let total = 0;
  let done = false;
  while (total < n) {
    const r = await source.next();
    if (r.done) {
      done = true;
      break;
    }
    seen.push(r.value);
    total += r.value.length;
  }
  async function* replay(): AsyncGenerator<Buffer> {
    yield* seen;
    if (done) return;
    for (let r = await source.next(); !r.done; r = await source.next()) yield r.value;
  }
  return { head: Buffer.concat(seen), replay: replay() };
}

function gunzip(source: AsyncIterable<Buffer>): AsyncIterable<Buffer> {
  // 256 KiB output chunks: each chunk crosses several async iterators, so fewer, larger chunks are much faster.
  const gz = createGunzip({ chunkSize: 256 * 1024 });
  // The pipeline's own rejection is surfaced through `gz` (destroyed with the same error).
  pipeline(Readable.from(source), gz).catch(() => undefined);
  return gz;
}

/**
 * The decompressed bytes of a layer. Throws (while iterating) `LayerLimitError` for a bomb, and the decoder's
 * error for corrupt or truncated input.
 */
export async function* decompressLayer(
  stored: AsyncIterable<Buffer | string>,
  limits: DecompressLimits,
  counters: LayerCounters,
): AsyncGenerator<Buffer> {
  const { head, replay } = await peek(counted(stored, counters)[Symbol.asyncIterator](), 6);
  const compression = detectCompression(head);
  counters.compression = compression;
  const plain =
    compression === 'gzip' ? gunzip(replay) : compression === 'zstd' ? zstdDecode(replay, limits.maxZstdWindowBytes) : replay;
  for await (const chunk of plain) {
    counters.decompressedBytes += chunk.length;
    if (counters.decompressedBytes > limits.maxLayerBytes) {
      throw new LayerLimitError(`decompressed size exceeds the limit of ${limits.maxLayerBytes} bytes (decompression bomb?)`);
    }
    if (
      compression !== 'none' &&
      counters.decompressedBytes > limits.ratioCheckAfterBytes &&
      counters.decompressedBytes > limits.maxRatio * Math.max(1, counters.compressedBytes)
    ) {
      throw new LayerLimitError(
        `decompression ratio exceeds ${limits.maxRatio}:1 (${counters.decompressedBytes} bytes from ${counters.compressedBytes}; decompression bomb?)`,
      );
    }
    yield chunk;
  }
}
