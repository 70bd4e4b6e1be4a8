// Builds image layers in tests: tar archives from entry lists (tar-stream), raw tar headers for hostile
// cases tar-stream would not write, gzip and zstd compression, and LayerSource objects over buffers.
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { createHash } from 'node:crypto';
import { Readable } from 'node:stream';
import { gzipSync } from 'node:zlib';
import * as tar from 'tar-stream';
import type { LayerSource } from './types.js';

export interface TestEntry {
  name: string;
  content?: string | Buffer;
  type?: 'file' | 'directory' | 'symlink' | 'link' | 'fifo';
  linkname?: string;
  mode?: number;
}

/** A tar archive (with its end-of-archive marker) holding the entries in order. */
export async function tarLayer(entries: readonly TestEntry[]): Promise<Buffer> {
  const pack = tar.pack();
  const chunks: Buffer[] = [];
  const done = (async () => {
    for await (const c of pack) chunks.push(c as Buffer);
  })();
  for (const e of entries) {
    const type = e.type ?? 'file';
    const header = {
      name: e.name,
      type,
      mode: e.mode ?? (type === 'directory' ? 0o755 : 0o644),
      ...(e.linkname !== undefined ? { linkname: e.linkname } : {}),
    };
    await new Promise<void>((resolve, reject) => {
      if (type === 'file') pack.entry(header, e.content ?? '', (err) => (err ? reject(err) : resolve()));
      else pack.entry(header, (err) => (err ? reject(err) : resolve()));
    });
  }
  pack.finalize();
  await done;
  return Buffer.concat(chunks);
}

/** One raw 512-byte ustar header, for entries tar-stream would not write (huge PAX records, odd names). */
export function rawTarHeader(name: string, size: number, typeflag: string, linkname = ''): Buffer {
  const h = Buffer.alloc(512);
  h.write(name.slice(0, 100), 0, 'latin1');
  h.write('0000644\0', 100, 'latin1');
  h.write('0000000\0', 108, 'latin1');
  h.write('0000000\0', 116, 'latin1');
  h.write(`${size.toString(8).padStart(11, '0')}\0`, 124, 'latin1');
  h.write('00000000000\0', 136, 'latin1');
  h.write(typeflag, 156, 'latin1');
  h.write(linkname.slice(0, 100), 157, 'latin1');
  h.write('ustar\0', 257, 'latin1');
  h.write('00', 263, 'latin1');
  h.fill(0x20, 148, 156);
  let sum = 0;
  for (const b of h) sum += b;
  h.write(`${sum.toString(8).padStart(6, '0')}\0 `, 148, 'latin1');
  return h;
}

/** Content padded to whole 512-byte blocks. */
export function tarBlocks(content: Buffer): Buffer {
  const pad = (512 - (content.length % 512)) % 512;
  return Buffer.concat([content, Buffer.alloc(pad)]);
}

/** The two zero blocks that end a tar archive. */
export const TAR_END = Buffer.alloc(1024);

export const gzip = (b: Buffer): Buffer => gzipSync(b);

const ZSTD_MAGIC = Buffer.from([0x28, 0xb5, 0x2f, 0xfd]);

function blockHeader(last: boolean, type: 0 | 1 | 2, size: number): Buffer {
  const v = (last ? 1 : 0) | (type << 1) | (size << 3);
  return Buffer.from([v & 0xff, (v >> 8) & 0xff, (v >> 16) & 0xff]);
}

/**
 * A valid zstd frame of raw (stored) blocks (RFC 8878): what any zstd decoder must accept, built without an
 * encoder. `windowLog` sets the declared window (2^windowLog bytes).
 */
export function zstdStored(data: Buffer, windowLog = 17): Buffer {
  const parts: Buffer[] = [ZSTD_MAGIC, Buffer.from([0x00, (windowLog - 10) << 3])];
  const BLOCK = 128 * 1024;
  if (data.length === 0) parts.push(blockHeader(true, 0, 0));
  for (let off = 0; off < data.length; off += BLOCK) {
    const piece = data.subarray(off, off + BLOCK);
    parts.push(blockHeader(off + BLOCK >= data.length, 0, piece.length), piece);
  }
  return Buffer.concat(parts);
}

/** A zstd frame whose `prefix` is stored and is followed by `rleBlocks` RLE blocks of 128 KiB of `byte`: a bomb of 4 bytes per 128 KiB. */
export function zstdRleBomb(prefix: Buffer, rleBlocks: number, byte = 0): Buffer {
  const parts: Buffer[] = [ZSTD_MAGIC, Buffer.from([0x00, 7 << 3]), blockHeader(false, 0, prefix.length), prefix];
  for (let i = 0; i < rleBlocks; i++) parts.push(blockHeader(i === rleBlocks - 1, 1, 128 * 1024), Buffer.from([byte]));
  return Buffer.concat(parts);
}

/** Real zstd compression through the `zstd` command, when the machine has it. */
export const zstdCliPath = ['/usr/bin/zstd', '/usr/local/bin/zstd'].find((p) => existsSync(p));
export function zstdCli(data: Buffer): Buffer {
  if (!zstdCliPath) throw new Error('zstd command not found');
  const r = spawnSync(zstdCliPath, ['-q', '-c', '-3'], { input: data, maxBuffer: 1 << 30 });
  if (r.status !== 0) throw new Error(`zstd failed: ${r.stderr.toString()}`);
  return r.stdout;
}

export const sha256 = (b: Buffer): string => `sha256:${createHash('sha256').update(b).digest('hex')}`;

/** A layer over bytes, streamed in chunks of `chunkSize`. */
export function bufferLayer(bytes: Buffer, chunkSize = 64 * 1024, mediaType?: string): LayerSource {
  return {
    digest: sha256(bytes),
    ...(mediaType !== undefined ? { mediaType } : {}),
    open: async () =>
      Readable.from(
        (function* () {
          for (let i = 0; i < bytes.length; i += chunkSize) yield bytes.subarray(i, i + chunkSize);
        })(),
        { objectMode: false },
      ),
  };
}

/** A layer whose bytes come from a generator (for streams too large to hold). */
export function generatedLayer(digest: string, gen: () => Iterable<Buffer> | AsyncIterable<Buffer>): LayerSource {
  return { digest, open: async () => Readable.from(gen(), { objectMode: false }) };
}
