/**
 * S3BlobStore: the S3 driver (AWS S3 and S3-compatible servers such as Ceph RGW, MinIO).
 *
 * Key layout in the bucket (`<prefix>` is the `prefix` option, e.g. "berth/"):
 *
 *   <prefix><key>                               committed object
 *   <prefix><key>  (multipart upload)           parts of an unfinished writer, invisible to List*
 *   <prefix>~uploads/<key>~/state.json          writer state: { uploadId, parts[], tail[] }
 *   <prefix>~uploads/<key>~/t<offset>-<rand>    tail objects: bytes after the last part (< partSize in all)
 *
 * `~` may not occur in a key, so `~uploads/` never collides with a committed object, `list()`
 * skips it, and `<key>~/` is a prefix that belongs to exactly one key.
 *
 * Writing. A writer's bytes are the parts of its multipart upload (each >= 5 MiB, normally
 * exactly `partSize`) followed by the tail objects. An append streams its body into a single
 * part-sized buffer; each time the tail plus the new bytes fill a part, the tail objects are read
 * back into the front of the buffer and the whole part is uploaded. The leftover (< partSize)
 * becomes one new tail object, which also takes in the trailing tail objects not larger than
 * itself, so tail sizes strictly decrease (at most log2(partSize) objects, each byte rewritten at
 * most log2 times however small the appends are).
 *
 * Commit points:
 *   - append: the conditional PUT of state.json (If-Match the ETag this writer last saw). Before
 *     it, nothing refers to the new parts/tail objects, so a failed or aborted append leaves the
 *     durable size unchanged; after it, any instance can resume from state.json.
 *   - commit: with no part, one PutObject (or CopyObject of the single tail object); otherwise the
 *     tail is uploaded as the last part (the last part may be small) and CompleteMultipartUpload
 *     publishes the object. Both are atomic in S3. The state is removed afterwards.
 *   - cancel / delete / a new writer without `resume`: state.json is deleted first (from then on
 *     the rest is unreferenced garbage), then the multipart uploads of the key are aborted and the
 *     state directory is emptied.
 *
 * Server quirks handled (Ceph RGW 16, see shared/services/README.md): no aws-chunked bodies
 * (checksums only WHEN_REQUIRED, every body is a Buffer with a known length); the empty ETag of
 * CompleteMultipartUpload (HeadObject after commit); If-Match on PUT compares the unquoted ETag;
 * NoSuchKey for unknown upload ids; path-style addressing via `forcePathStyle`.
 */
import { DeleteObjectCommand, GetObjectCommand, HeadObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import { Readable, addAbortSignal } from 'node:stream';
import { BlobNotFoundError, assertValidKey, type BlobStore, type BlobWriter, type CallOpts, type ObjectInfo, type WriterOpts } from '../types.js';
import {
  KeyLayout,
  MAX_PART_SIZE,
  MiB,
  MIN_PART_SIZE,
  bodyStream,
  createS3Client,
  isInvalidRange,
  isNoSuchKey,
  listObjects,
  sendOpts,
  type S3ConnectionOptions,
} from './s3-support.js';
import { S3BlobWriter, discardState, loadState, type S3Context } from './s3-writer.js';

export { createS3Client } from './s3-support.js';

export interface S3BlobStoreOptions extends S3ConnectionOptions {
  bucket: string;
  /** Prefix of every key inside the bucket, usually ending in "/" (e.g. "berth/"). Default "". */
  prefix?: string;
  /** Size of multipart parts, and the most an append buffers in memory. Default 16 MiB, at least 5 MiB. */
  partSize?: number;
}

export const DEFAULT_PART_SIZE = 16 * MiB;

/**
 * The BlobStore port over an S3 bucket. Guarantees, on top of the port's:
 * - Only committed objects are visible: writer state lives in a multipart upload and under
 *   `<prefix>~uploads/`, which `stat`, `read` and `list` never show.
 * - Every append is all-or-nothing and durable when it resolves (acknowledged by S3), and any
 *   instance over the same bucket and prefix can resume the writer: the state is in the bucket.
 * - Memory: an append buffers at most one part (`partSize`); reads are ranged GetObject streams.
 * - A writer whose key was discarded (new writer without `resume`, `cancel`, `delete`) or taken
 *   over by a writer on another instance fails its next append instead of mixing data.
 * - `commit` publishes atomically (PutObject / CopyObject / CompleteMultipartUpload).
 */
export class S3BlobStore implements BlobStore {
  readonly driver = 's3';
  private readonly client: S3Client;
  private readonly ctx: S3Context;

  constructor(options: S3BlobStoreOptions) {
    const partSize = options.partSize ?? DEFAULT_PART_SIZE;
    if (!Number.isSafeInteger(partSize) || partSize < MIN_PART_SIZE || partSize > MAX_PART_SIZE) {
      throw new RangeError(`s3: partSize must be an integer from ${MIN_PART_SIZE} (5 MiB) to ${MAX_PART_SIZE} (5 GiB)`);
    }
    if (!options.bucket) throw new Error('s3: bucket is required');
    this.client = createS3Client(options);
    this.ctx = {
      client: this.client,
      bucket: options.bucket,
      layout: new KeyLayout(options.prefix ?? ''),
      partSize,
    };
  }

  async stat(key: string, o: CallOpts = {}): Promise<ObjectInfo | null> {
    assertValidKey(key);
    try {
      const head = await this.client.send(
        new HeadObjectCommand({ Bucket: this.ctx.bucket, Key: this.ctx.layout.object(key) }),
        sendOpts(o.signal),
      );
      return { key, size: head.ContentLength ?? 0, modifiedAt: head.LastModified ?? new Date(0) };
    } catch (err) {
      if (isNoSuchKey(err)) return null;
      throw err;
    }
  }

  async read(key: string, o: CallOpts & { offset?: number; length?: number } = {}): Promise<Readable> {
    assertValidKey(key);
    const offset = o.offset ?? 0;
    const { length, signal } = o;
    if (!Number.isSafeInteger(offset) || offset < 0 || (length !== undefined && (!Number.isSafeInteger(length) || length < 0))) {
      throw new RangeError(`read: invalid range offset=${o.offset} length=${length}`);
    }
    if (length === 0) {
      if ((await this.stat(key, o)) === null) throw new BlobNotFoundError(key, this.driver);
      return Readable.from([]);
    }
    const range =
      offset === 0 && length === undefined ? undefined : `bytes=${offset}-${length === undefined ? '' : offset + length - 1}`;
    try {
      const res = await this.client.send(
        new GetObjectCommand({ Bucket: this.ctx.bucket, Key: this.ctx.layout.object(key), Range: range }),
        sendOpts(signal),
      );
      const body = bodyStream(res.Body);
      return signal ? addAbortSignal(signal, body) : body;
    } catch (err) {
      if (isNoSuchKey(err)) throw new BlobNotFoundError(key, this.driver);
      // 416: the object exists and `offset` is at or past its end, so there is nothing to read.
      if (isInvalidRange(err)) return Readable.from([]);
      throw err;
    }
  }

  async writer(key: string, o: WriterOpts = {}): Promise<BlobWriter> {
    assertValidKey(key);
    if (o.resume) {
      const { state, etag } = await loadState(this.ctx, key, o.signal);
      return new S3BlobWriter(this.ctx, key, state, etag);
    }
    // Discarding costs a delete and two listings; a fresh key has nothing to discard.
    if (!o.fresh) await discardState(this.ctx, key, o.signal);
    return new S3BlobWriter(this.ctx, key, { v: 1, parts: [], tail: [] }, undefined);
  }

  async delete(key: string, o: CallOpts = {}): Promise<void> {
    assertValidKey(key);
    await Promise.all([
      this.client.send(new DeleteObjectCommand({ Bucket: this.ctx.bucket, Key: this.ctx.layout.object(key) }), sendOpts(o.signal)),
      discardState(this.ctx, key, o.signal),
    ]);
  }

  async *list(prefix: string, o: CallOpts = {}): AsyncIterable<ObjectInfo> {
    const { client, bucket, layout } = this.ctx;
    for await (const obj of listObjects(client, bucket, layout.object(prefix), o.signal)) {
      const key = obj.Key === undefined ? null : layout.keyOf(obj.Key);
      if (key === null) continue; // writer state (`~uploads/`) or an object that is not a blob
      yield { key, size: obj.Size ?? 0, modifiedAt: obj.LastModified ?? new Date(0) };
    }
  }

  async close(): Promise<void> {
    this.client.destroy();
  }
}
