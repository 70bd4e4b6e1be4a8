/**
 * A yauzl reader over a file that serves reads from a few cached 1 MiB blocks.
 *
 * yauzl reads each central-directory record, each local header and each entry's data
 * with its own file read; for an OSV all.zip of 100,000 small records that is some
 * 300,000 thread-pool round trips, and the import spent most of its time waiting on them.
 * The zip is read in order (the directory at the end, the entries from the start), so a
 * handful of blocks serve nearly every read. Memory: at most `maxBlocks` blocks.
 */
import type { FileHandle } from 'node:fs/promises';
import { open } from 'node:fs/promises';
import { Readable } from 'node:stream';
import yauzl from 'yauzl';

export class BlockCachedReader extends yauzl.RandomAccessReader {
  /** Block index → its bytes; Map order is the LRU order (oldest first). */
  private readonly blocks = new Map<number, Promise<Buffer>>();

  private constructor(
    private readonly fh: FileHandle,
    readonly size: number,
    private readonly blockSize: number,
    private readonly maxBlocks: number,
  ) {
    super();
  }

  static async open(path: string, o: { blockSize?: number; maxBlocks?: number } = {}): Promise<BlockCachedReader> {
    const fh = await open(path);
    const size = (await fh.stat()).size;
    return new BlockCachedReader(fh, size, o.blockSize ?? 1 << 20, o.maxBlocks ?? 8);
  }

  private block(i: number): Promise<Buffer> {
    let b = this.blocks.get(i);
    if (b) {
      this.blocks.delete(i);
    } else {
      const start = i * this.blockSize;
      const length = Math.min(this.blockSize, this.size - start);
      b = this.fh.read(Buffer.alloc(length), 0, length, start).then((r) => r.buffer.subarray(0, r.bytesRead));
      if (this.blocks.size >= this.maxBlocks) this.blocks.delete(this.blocks.keys().next().value as number);
    }
    this.blocks.set(i, b);
    return b;
  }

  private async *range(start: number, end: number): AsyncGenerator<Buffer> {
    for (let i = Math.floor(start / this.blockSize); i * this.blockSize < end; i++) {
      const b = await this.block(i);
      const from = Math.max(start - i * this.blockSize, 0);
      const to = Math.min(end - i * this.blockSize, b.length);
      if (to <= from) throw new Error(`zip read past the end of the file (${end} > ${this.size})`);
      yield b.subarray(from, to);
    }
  }

  /** `length` bytes at `start`, copied out of the cache. */
  async bytes(start: number, length: number): Promise<Buffer> {
    const out = Buffer.alloc(length);
    let at = 0;
    for await (const part of this.range(start, start + length)) at += part.copy(out, at);
    return out;
  }

  override _readStreamForRange(start: number, end: number): Readable {
    return Readable.from(this.range(start, end), { objectMode: false });
  }

  override read(buffer: Buffer, offset: number, length: number, position: number, callback: (err: Error | null) => void): void {
    this.bytes(position, length).then(
      (b) => {
        b.copy(buffer, offset);
        callback(null);
      },
      (err: unknown) => callback(err as Error),
    );
  }

  override close(callback: (err: Error | null) => void): void {
    this.blocks.clear();
    this.fh.close().then(
      () => callback(null),
      (err: unknown) => callback(err as Error),
    );
  }
}
