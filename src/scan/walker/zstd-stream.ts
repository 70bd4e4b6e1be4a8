/**
 * Streaming zstd decoding with bounded memory.
 *
 * Node 20's zlib has no zstd, so frames are decoded by `fzstd` (pure JavaScript, no native build, no
 * dependencies; chosen over @mongodb-js/zstd and zstd-napi, which need a native addon). fzstd alone is not safe on
 * hostile input: it allocates the window a frame header declares (up to 2 GiB) and decodes everything pushed
 * to it in one synchronous call (a few KiB of RLE blocks expand to gigabytes). So this module walks the frame
 * and block framing itself (RFC 8878 §3.1) and feeds fzstd one block at a time:
 * - a frame whose window (or single-segment content size) exceeds `maxWindowBytes` is refused before any
 *   allocation;
 * - each push yields at most one block (≤ 128 KiB) of output, and the generator yields it before reading on,
 *   so the consumer's backpressure and byte caps apply between blocks;
 * - skippable frames are skipped without being buffered.
 */
import { Decompress } from 'fzstd';

const ZSTD_MAGIC = 0xfd2fb528;
const BLOCK_MAX = 128 * 1024;

export class ZstdLimitError extends Error {
  override name = 'ZstdLimitError';
}

/** Accumulates input chunks and hands out exact byte counts. */
class ByteQueue {
  private chunks: Buffer[] = [];
  length = 0;
  push(b: Buffer): void {
    if (b.length === 0) return;
    this.chunks.push(b);
    this.length += b.length;
  }
  peek(n: number): Buffer {
    if (this.chunks[0] && this.chunks[0].length >= n) return this.chunks[0].subarray(0, n);
    const all = Buffer.concat(this.chunks);
    this.chunks = [all];
    return all.subarray(0, n);
  }
  take(n: number): Buffer {
    const out = this.peek(n);
    this.skip(n);
    return out;
  }
  skip(n: number): number {
    let left = Math.min(n, this.length);
    const skipped = left;
    while (left > 0) {
      const head = this.chunks[0] as Buffer;
      if (head.length <= left) {
        this.chunks.shift();
        left -= head.length;
      } else {
        this.chunks[0] = head.subarray(left);
        left = 0;
      }
    }
    this.length -= skipped;
    return skipped;
  }
}

type State =
  | { at: 'magic' }
  | { at: 'header' }
  | { at: 'block'; checksum: boolean }
  | { at: 'checksum' }
  | { at: 'skippable'; left: number };

/** Frame header size from its descriptor byte (magic excluded). */
function frameHeaderSize(fhd: number): number {
  const fcsFlag = fhd >> 6;
  const single = (fhd >> 5) & 1;
  const dictFlag = fhd & 3;
  const fcsBytes = fcsFlag === 0 ? single : 1 << fcsFlag;
  return 1 + (single ? 0 : 1) + (dictFlag === 3 ? 4 : dictFlag) + fcsBytes;
}

/** The window the decoder will allocate for this frame header (magic excluded). */
function frameWindow(h: Buffer): number {
  const fhd = h[0] as number;
  const fcsFlag = fhd >> 6;
  const single = (fhd >> 5) & 1;
  if (!single) {
    const wd = h[1] as number;
    const base = 2 ** (10 + (wd >> 3));
    return base + (base / 8) * (wd & 7);
  }
  const dictBytes = (fhd & 3) === 3 ? 4 : fhd & 3;
  const off = 1 + dictBytes;
  const fcsBytes = fcsFlag === 0 ? 1 : 1 << fcsFlag;
  let v = 0;
  for (let i = fcsBytes - 1; i >= 0; i--) v = v * 256 + (h[off + i] as number);
  return fcsBytes === 2 ? v + 256 : v;
}

/**
 * Decodes a stream of zstd frames. Throws `ZstdLimitError` for a refused window and `Error` for malformed or
 * truncated input.
 */
export async function* zstdDecode(source: AsyncIterable<Buffer>, maxWindowBytes: number): AsyncGenerator<Buffer> {
  const q = new ByteQueue();
  let out: Buffer[] = [];
  let decoder: Decompress | undefined;
  const newDecoder = (): Decompress =>
    new Decompress((data) => {
      if (data.length > 0) out.push(Buffer.from(data.buffer, data.byteOffset, data.length));
    });
  let state: State = { at: 'magic' };
  let sawFrame = false;

  const step = (): boolean => {
    switch (state.at) {
      case 'magic': {
        if (q.length < 4) return false;
        const magic = q.peek(4).readUInt32LE(0);
        if (magic === ZSTD_MAGIC) {
          state = { at: 'header' };
          return true;
        }
        if ((magic & 0xfffffff0) === 0x184d2a50) {
          if (q.length < 8) return false;
          const left = q.take(8).readUInt32LE(4);
          state = { at: 'skippable', left };
          return true;
        }
        throw new Error('zstd: invalid frame magic');
      }
      case 'header': {
        if (q.length < 5) return false;
        const fhd = q.peek(5)[4] as number;
        if (fhd & 0x08) throw new Error('zstd: reserved frame header bit set');
        const size = 4 + frameHeaderSize(fhd);
        if (q.length < size) return false;
        const header = q.take(size);
        const window = frameWindow(header.subarray(4));
        if (window > maxWindowBytes) throw new ZstdLimitError(`zstd window of ${window} bytes exceeds the limit of ${maxWindowBytes}`);
        decoder = newDecoder();
        decoder.push(header);
        sawFrame = true;
        state = { at: 'block', checksum: ((fhd >> 2) & 1) === 1 };
        return true;
      }
      case 'block': {
        if (q.length < 3) return false;
        const h = q.peek(3);
        const bh = (h[0] as number) | ((h[1] as number) << 8) | ((h[2] as number) << 16);
        const last = (bh & 1) === 1;
        const type = (bh >> 1) & 3;
        const size = bh >>> 3;
        if (type === 3) throw new Error('zstd: reserved block type');
        if (size > BLOCK_MAX) throw new Error('zstd: block larger than 128 KiB');
        const stored = type === 1 ? 1 : size;
        if (q.length < 3 + stored) return false;
        const blk = q.take(3 + stored);
        const checksum = state.checksum;
        if (last) state = checksum ? { at: 'checksum' } : { at: 'magic' };
        // Without a checksum, fzstd ends the frame with this block; with one it waits for the 4 bytes.
        (decoder as Decompress).push(blk);
        return true;
      }
      case 'checksum': {
        if (q.length < 4) return false;
        (decoder as Decompress).push(q.take(4));
        state = { at: 'magic' };
        return true;
      }
      case 'skippable': {
        state.left -= q.skip(state.left);
        if (state.left > 0) return false;
        state = { at: 'magic' };
        return true;
      }
    }
  };

  for await (const chunk of source) {
    q.push(chunk);
    while (step()) {
      if (out.length > 0) {
        const ready = out;
        out = [];
        yield* ready;
      }
    }
  }
  if (state.at !== 'magic' || q.length > 0 || !sawFrame) throw new Error('zstd: unexpected end of stream (truncated)');
}
