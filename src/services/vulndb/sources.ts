/**
 * Where OSV records come from: a directory of `*.json` files (recursive), a zip (OSV's
 * per-ecosystem `all.zip`: one record per entry), or an HTTP(S) URL of such a zip,
 * downloaded to a file first (a zip's directory is at its end, so it is read from disk).
 *
 * Memory stays bounded: one file or zip entry is held at a time, each capped at
 * `maxRecordBytes`; a larger one is reported, not read.
 */
import { createWriteStream } from 'node:fs';
import { open, opendir, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { Readable, Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { inflateRawSync } from 'node:zlib';
import type { ReadableStream as WebReadableStream } from 'node:stream/web';
import yauzl from 'yauzl';
import { BlockCachedReader } from './zip-reader.js';

/** One file's bytes, or why it could not be read. */
export type RawRecord = { name: string; data: Buffer } | { name: string; error: string };

export async function* directoryRecords(dir: string, maxRecordBytes: number): AsyncGenerator<RawRecord> {
  const entries: { name: string; dir: boolean }[] = [];
  for await (const e of await opendir(dir)) {
    if (e.name.startsWith('.')) continue;
    if (e.isDirectory() || (e.isFile() && e.name.toLowerCase().endsWith('.json'))) entries.push({ name: e.name, dir: e.isDirectory() });
  }
  // Sorted, so an import reads the same records in the same order every time.
  entries.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  for (const e of entries) {
    const path = join(dir, e.name);
    if (e.dir) yield* directoryRecords(path, maxRecordBytes);
    else yield await readFileCapped(path, maxRecordBytes);
  }
}

/** A single record file. */
export async function* fileRecords(path: string, maxRecordBytes: number): AsyncGenerator<RawRecord> {
  yield await readFileCapped(path, maxRecordBytes);
}

async function readFileCapped(path: string, max: number): Promise<RawRecord> {
  try {
    const size = (await stat(path)).size;
    if (size > max) return { name: path, error: `file is ${size} bytes, more than the ${max}-byte limit of one record` };
    const fh = await open(path);
    try {
      return { name: path, data: await fh.readFile() };
    } finally {
      await fh.close();
    }
  } catch (err) {
    return { name: path, error: (err as Error).message };
  }
}

export async function* zipRecords(path: string, maxRecordBytes: number): AsyncGenerator<RawRecord> {
  const reader = await BlockCachedReader.open(path);
  const zip = await yauzl.fromRandomAccessReaderPromise(reader, reader.size, { lazyEntries: true, autoClose: false }).catch((err: unknown) => {
    reader.close(() => undefined);
    throw err;
  });
  try {
    // One entry at a time (reading ahead measured slower: the reads come from the block cache).
    for await (const entry of zip.eachEntry()) {
      const name = entry.fileName;
      if (name.endsWith('/') || !name.toLowerCase().endsWith('.json')) continue;
      yield await readEntry(zip, reader, entry, maxRecordBytes);
    }
  } finally {
    zip.close();
  }
}

/** Never rejects: a bad entry becomes an error record. */
async function readEntry(zip: yauzl.ZipFile, reader: BlockCachedReader, entry: yauzl.Entry, max: number): Promise<RawRecord> {
  const name = entry.fileName;
  if (entry.uncompressedSize > max) return { name, error: `entry is ${entry.uncompressedSize} bytes, more than the ${max}-byte limit of one record` };
  if (entry.isEncrypted() || !entry.canDecodeFileData()) return { name, error: 'entry is encrypted or uses an unsupported compression method' };
  try {
    // Read and inflated in one call each: yauzl's stream per entry (and a zlib stream) cost more
    // than the inflating for small records. The output is capped and checked against the directory.
    if (entry.compressedSize > max + 1024) return { name, error: `entry is ${entry.compressedSize} bytes compressed, more than the ${max}-byte limit of one record` };
    const { fileDataStart } = await zip.readLocalFileHeaderPromise(entry, { minimal: true });
    const raw = await reader.bytes(fileDataStart, entry.compressedSize);
    const data = entry.compressionMethod === 0 ? raw : inflateRawSync(raw, { maxOutputLength: Math.max(1, entry.uncompressedSize) });
    if (data.length !== entry.uncompressedSize) return { name, error: `entry inflates to ${data.length} bytes, the zip says ${entry.uncompressedSize}` };
    return { name, data };
  } catch (err) {
    return { name, error: (err as Error).message };
  }
}

/** Whether the file starts like a zip (local file header, or the end record of an empty zip). */
export async function looksLikeZip(path: string): Promise<boolean> {
  const fh = await open(path);
  try {
    const { buffer, bytesRead } = await fh.read(Buffer.alloc(4), 0, 4, 0);
    const sig = bytesRead === 4 ? buffer.readUInt32LE(0) : 0;
    return sig === 0x04034b50 || sig === 0x06054b50;
  } finally {
    await fh.close();
  }
}

export interface DownloadResult {
  /** The server answered 304 to the conditional request: nothing was written. */
  notModified: boolean;
  bytes: number;
  etag?: string;
  lastModified?: string;
}

/** GETs `url` into `dest` (at most `maxBytes`), conditionally when `etag` / `lastModified` are given. */
export async function download(
  url: string,
  dest: string,
  o: { maxBytes: number; etag?: string; lastModified?: string; signal?: AbortSignal },
): Promise<DownloadResult> {
  const headers: Record<string, string> = {};
  if (o.etag) headers['if-none-match'] = o.etag;
  if (o.lastModified) headers['if-modified-since'] = o.lastModified;
  // Aborting (rather than cancelling the body) closes the connection at once when we give up early.
  const ac = new AbortController();
  const res = await fetch(url, { headers, redirect: 'follow', signal: o.signal ? AbortSignal.any([o.signal, ac.signal]) : ac.signal });
  if (res.status === 304) {
    ac.abort();
    return { notModified: true, bytes: 0 };
  }
  if (!res.ok || !res.body) {
    ac.abort();
    throw new Error(`GET ${url}: HTTP ${res.status} ${res.statusText}`);
  }
  const declared = Number(res.headers.get('content-length') ?? NaN);
  if (declared > o.maxBytes) {
    ac.abort();
    throw new Error(`GET ${url}: ${declared} bytes, more than the ${o.maxBytes}-byte download limit`);
  }
  let bytes = 0;
  const limit = new Transform({
    transform(chunk: Buffer, _enc, cb) {
      bytes += chunk.length;
      cb(bytes > o.maxBytes ? new Error(`GET ${url}: more than the ${o.maxBytes}-byte download limit`) : null, chunk);
    },
  });
  try {
    await pipeline(Readable.fromWeb(res.body as WebReadableStream<Uint8Array>), limit, createWriteStream(dest));
  } catch (err) {
    ac.abort();
    throw err;
  }
  const etag = res.headers.get('etag');
  const lastModified = res.headers.get('last-modified');
  return { notModified: false, bytes, ...(etag ? { etag } : {}), ...(lastModified ? { lastModified } : {}) };
}
