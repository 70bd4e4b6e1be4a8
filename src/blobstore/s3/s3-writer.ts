/**
 * The S3 driver's writer and its durable state (the design is in s3-blob-store.ts).
 *
 * A writer's bytes are, in order: the parts of a multipart upload (each >= 5 MiB), then the
 * "tail": small objects holding the bytes that do not make a full part yet. `state.json`
 * lists both; writing it is the commit point of an append.
 */
import { randomUUID } from 'node:crypto';
import type { Readable } from 'node:stream';
import {
  AbortMultipartUploadCommand,
  CompleteMultipartUploadCommand,
  CopyObjectCommand,
  CreateMultipartUploadCommand,
  DeleteObjectCommand,
  HeadObjectCommand,
  PutObjectCommand,
  UploadPartCommand,
  type S3Client,
} from '@aws-sdk/client-s3';
import type { AppendOpts, BlobWriter, CallOpts, ObjectInfo } from '../types.js';
import {
  MAX_PARTS,
  bareETag,
  chunksOf,
  copySource,
  deleteKeys,
  getText,
  isNoSuchKey,
  isNoSuchUpload,
  isPreconditionFailed,
  listObjects,
  listUploads,
  readObjectInto,
  sendOpts,
  type KeyLayout,
} from './s3-support.js';

/** What a store hands its writers. */
export interface S3Context {
  readonly client: S3Client;
  readonly bucket: string;
  readonly layout: KeyLayout;
  readonly partSize: number;
}

export interface PartRecord {
  /** Part number, 1-based and consecutive. */
  n: number;
  etag: string;
  size: number;
}

export interface TailRecord {
  /** Object name under the key's state directory. */
  name: string;
  size: number;
}

/** Contents of `state.json`. */
export interface WriterState {
  v: 1;
  uploadId?: string;
  parts: PartRecord[];
  /** Sizes strictly decrease (see `append`), so there are at most log2(partSize) entries. */
  tail: TailRecord[];
}

const emptyState = (): WriterState => ({ v: 1, parts: [], tail: [] });
const sum = (xs: { size: number }[]): number => xs.reduce((n, x) => n + x.size, 0);

function parseState(text: string, where: string): WriterState {
  const s = JSON.parse(text) as Partial<WriterState> | null;
  const isCount = (n: unknown): boolean => Number.isSafeInteger(n) && (n as number) >= 0;
  const ok =
    s?.v === 1 &&
    (s.uploadId === undefined || typeof s.uploadId === 'string') &&
    Array.isArray(s.parts) &&
    s.parts.every((p, i) => p.n === i + 1 && typeof p.etag === 'string' && isCount(p.size)) &&
    Array.isArray(s.tail) &&
    s.tail.every((t) => typeof t.name === 'string' && /^[A-Za-z0-9._-]+$/.test(t.name) && isCount(t.size));
  if (!ok) throw new Error(`s3: malformed writer state at ${where}`);
  return s as WriterState;
}

/** The durable state of the writer of `key` (empty when there is none) and its ETag. */
export async function loadState(
  ctx: S3Context,
  key: string,
  signal: AbortSignal | undefined,
): Promise<{ state: WriterState; etag: string | undefined }> {
  const at = ctx.layout.stateObject(key);
  try {
    const { text, etag } = await getText(ctx.client, ctx.bucket, at, signal);
    return { state: parseState(text, at), etag };
  } catch (err) {
    if (isNoSuchKey(err)) return { state: emptyState(), etag: undefined };
    throw err;
  }
}

/**
 * Removes every trace of the writer of `key`: state.json first (after that nothing refers to
 * the rest, so a crash here leaves only garbage that the next call also removes), then all
 * multipart uploads on the key and every object of its state directory. Idempotent.
 */
export async function discardState(ctx: S3Context, key: string, signal: AbortSignal | undefined): Promise<void> {
  const { client, bucket, layout } = ctx;
  await client.send(new DeleteObjectCommand({ Bucket: bucket, Key: layout.stateObject(key) }), sendOpts(signal));
  const target = layout.object(key);
  const aborts: Promise<void>[] = [];
  for await (const u of listUploads(client, bucket, target, signal)) {
    if (u.Key !== target || u.UploadId === undefined) continue; // the prefix also matches longer keys
    aborts.push(abortUpload(client, bucket, target, u.UploadId, signal));
  }
  const leftovers: string[] = [];
  for await (const o of listObjects(client, bucket, layout.stateDir(key), signal)) if (o.Key) leftovers.push(o.Key);
  await Promise.all([...aborts, deleteKeys(client, bucket, leftovers, signal)]);
}

async function abortUpload(
  client: S3Client,
  bucket: string,
  key: string,
  uploadId: string,
  signal: AbortSignal | undefined,
): Promise<void> {
  try {
    await client.send(new AbortMultipartUploadCommand({ Bucket: bucket, Key: key, UploadId: uploadId }), sendOpts(signal));
  } catch (err) {
    if (!isNoSuchUpload(err)) throw err;
  }
}

export class S3BlobWriter implements BlobWriter {
  private finished: 'committed' | 'cancelled' | undefined;

  constructor(
    private readonly ctx: S3Context,
    private readonly key: string,
    private state: WriterState,
    /** ETag of state.json as this writer last wrote or read it; undefined when there is none. */
    private etag: string | undefined,
  ) {}

  get size(): number {
    return sum(this.state.parts) + sum(this.state.tail);
  }

  /**
   * Streams `body` into parts of `partSize` bytes, the first of which starts with the current
   * tail; the bytes left over become one new tail object. Then writes state.json: until that
   * write nothing refers to the new parts and objects, so a failure leaves the durable size
   * unchanged (new parts are overwritten by the next append, stray objects are removed on
   * commit/cancel). Holds at most one part in memory.
   */
  async append(body: Readable, o: AppendOpts = {}): Promise<number> {
    this.assertOpen();
    const { signal } = o;
    signal?.throwIfAborted();
    const { partSize } = this.ctx;
    const parts = [...this.state.parts];
    let tail = [...this.state.tail];
    let tailSize = sum(tail);
    const unreferenced: string[] = []; // tail objects the new state no longer lists
    // `buf` holds the bytes after the last part: [0, tailSize) is the room for the tail objects,
    // read only once they go into a part; new bytes go to [tailSize, fill).
    let buf: Buffer | undefined;
    let fill = tailSize;
    let appended = 0;

    const cutPart = async (part: Buffer): Promise<void> => {
      await this.readTail(tail, part, 0, signal);
      const record = await this.uploadPart(parts.length + 1, part.subarray(0, fill), signal);
      parts.push(record);
      unreferenced.push(...tail.map((t) => t.name));
      tail = [];
      tailSize = 0;
      fill = 0;
    };

    for await (const chunk of chunksOf(body, signal)) {
      o.hash?.update(chunk);
      for (let off = 0; off < chunk.length; ) {
        // A tail larger than partSize only happens when another instance uses bigger parts.
        buf ??= Buffer.allocUnsafe(Math.max(partSize, tailSize));
        if (fill >= partSize) await cutPart(buf);
        const n = Math.min(chunk.length - off, partSize - fill);
        chunk.copy(buf, fill, off, off + n);
        fill += n;
        off += n;
        appended += n;
      }
    }
    signal?.throwIfAborted();
    if (appended === 0 || buf === undefined) return 0;
    if (fill >= partSize) await cutPart(buf);

    if (fill > tailSize) {
      // The new tail object also takes in the trailing tail objects that are not larger than
      // it: tail sizes then strictly decrease, so even thousands of tiny appends leave at most
      // log2(partSize) objects and rewrite each byte at most log2 times.
      let from = tail.length;
      let start = tailSize;
      while (from > 0 && tail[from - 1]!.size <= fill - start) start -= tail[--from]!.size;
      const folded = tail.slice(from);
      await this.readTail(folded, buf, start, signal);
      const offset = sum(parts) + start;
      const name = `t${String(offset).padStart(13, '0')}-${randomUUID().slice(0, 8)}`;
      await this.ctx.client.send(
        new PutObjectCommand({
          Bucket: this.ctx.bucket,
          Key: this.ctx.layout.tailObject(this.key, name),
          Body: buf.subarray(start, fill),
          ContentLength: fill - start,
        }),
        sendOpts(signal),
      );
      unreferenced.push(...folded.map((t) => t.name));
      tail = [...tail.slice(0, from), { name, size: fill - start }];
    }

    await this.persist({ ...this.state, parts, tail }, signal); // the commit point
    await this.deleteTailObjects(unreferenced);
    return appended;
  }

  /**
   * Publishes the bytes at the key: with no part yet, by one PutObject (or a server-side copy
   * of the single tail object); otherwise the tail becomes the last part (which may be small)
   * and CompleteMultipartUpload publishes the object atomically. Then removes the state.
   */
  async commit(o: CallOpts = {}): Promise<ObjectInfo> {
    this.assertOpen();
    const { signal } = o;
    signal?.throwIfAborted();
    const { client, bucket, layout } = this.ctx;
    const target = layout.object(this.key);
    const { parts, tail } = this.state;
    const size = this.size;

    if (parts.length === 0) {
      const only = tail.length === 1 ? tail[0] : undefined;
      if (only) {
        const source = copySource(bucket, layout.tailObject(this.key, only.name));
        await client.send(new CopyObjectCommand({ Bucket: bucket, Key: target, CopySource: source }), sendOpts(signal));
      } else {
        const body = Buffer.allocUnsafe(size);
        await this.readTail(tail, body, 0, signal);
        await client.send(
          new PutObjectCommand({ Bucket: bucket, Key: target, Body: body, ContentLength: size }),
          sendOpts(signal),
        );
      }
    } else {
      const all = [...parts];
      if (tail.length > 0) {
        const last = Buffer.allocUnsafe(sum(tail));
        await this.readTail(tail, last, 0, signal);
        all.push(await this.uploadPart(all.length + 1, last, signal));
      }
      await client.send(
        new CompleteMultipartUploadCommand({
          Bucket: bucket,
          Key: target,
          UploadId: this.state.uploadId,
          MultipartUpload: { Parts: all.map((p) => ({ PartNumber: p.n, ETag: p.etag })) },
        }),
        sendOpts(signal),
      );
    }

    // RGW returns an empty ETag from CompleteMultipartUpload, and we want the server's time anyway.
    const head = await client.send(new HeadObjectCommand({ Bucket: bucket, Key: target }), sendOpts(signal));
    if (head.ContentLength !== size) {
      throw new Error(`s3: committed ${target} holds ${head.ContentLength} bytes, expected ${size}`);
    }
    this.finished = 'committed';
    // The object is published; leftover state is only garbage (removed by delete or the next writer).
    await discardState(this.ctx, this.key, undefined).catch(() => undefined);
    return { key: this.key, size, modifiedAt: head.LastModified ?? new Date() };
  }

  async cancel(o: CallOpts = {}): Promise<void> {
    if (this.finished) return;
    await discardState(this.ctx, this.key, o.signal);
    this.finished = 'cancelled';
  }

  private assertOpen(): void {
    if (this.finished) throw new Error(`writer for "${this.key}" is ${this.finished}`);
  }

  /** Reads the tail objects `tail`, in order, into `target` from `at` (in parallel). */
  private async readTail(tail: TailRecord[], target: Buffer, at: number, signal: AbortSignal | undefined): Promise<void> {
    let pos = at;
    await Promise.all(
      tail.map((t) => {
        const here = pos;
        pos += t.size;
        const key = this.ctx.layout.tailObject(this.key, t.name);
        return readObjectInto(this.ctx.client, this.ctx.bucket, key, t.size, target, here, signal).catch((err: unknown) => {
          throw isNoSuchKey(err) ? this.supersededError(err) : err;
        });
      }),
    );
  }

  /** For a writer whose state was removed under it (its tail objects or upload are gone, or state.json changed). */
  private supersededError(cause: unknown): Error {
    return new Error(`s3: the upload of "${this.key}" was discarded or taken over by another writer`, { cause });
  }

  private async uploadPart(n: number, body: Buffer, signal: AbortSignal | undefined): Promise<PartRecord> {
    if (n > MAX_PARTS) throw new Error(`s3: "${this.key}" needs more than ${MAX_PARTS} parts; raise partSize`);
    const uploadId = await this.ensureUpload(signal);
    const res = await this.ctx.client
      .send(
        new UploadPartCommand({
          Bucket: this.ctx.bucket,
          Key: this.ctx.layout.object(this.key),
          UploadId: uploadId,
          PartNumber: n,
          Body: body,
          ContentLength: body.length,
        }),
        sendOpts(signal),
      )
      .catch((err: unknown) => {
        throw isNoSuchUpload(err) ? this.supersededError(err) : err;
      });
    if (!res.ETag) throw new Error(`s3: UploadPart ${n} of "${this.key}" returned no ETag`);
    return { n, etag: res.ETag, size: body.length };
  }

  /**
   * The multipart upload of this writer, created on first use. Its id is saved in state.json
   * at once (the durable size does not change), so cancel/delete can always abort it.
   */
  private async ensureUpload(signal: AbortSignal | undefined): Promise<string> {
    if (this.state.uploadId !== undefined) return this.state.uploadId;
    const { client, bucket, layout } = this.ctx;
    const target = layout.object(this.key);
    const res = await client.send(new CreateMultipartUploadCommand({ Bucket: bucket, Key: target }), sendOpts(signal));
    const uploadId = res.UploadId;
    if (!uploadId) throw new Error(`s3: CreateMultipartUpload of "${this.key}" returned no upload id`);
    try {
      await this.persist({ ...this.state, uploadId }, signal);
    } catch (err) {
      await abortUpload(client, bucket, target, uploadId, undefined).catch(() => undefined);
      throw err;
    }
    return uploadId;
  }

  /**
   * Writes state.json if it is still the one this writer knows (If-Match / If-None-Match), so a
   * writer whose key was discarded or taken over by another writer fails instead of mixing data.
   */
  private async persist(next: WriterState, signal: AbortSignal | undefined): Promise<void> {
    const body = JSON.stringify(next);
    const at = this.ctx.layout.stateObject(this.key);
    let etag: string | undefined;
    try {
      const res = await this.ctx.client.send(
        new PutObjectCommand({
          Bucket: this.ctx.bucket,
          Key: at,
          Body: body,
          ContentType: 'application/json',
          ...(this.etag === undefined ? { IfNoneMatch: '*' } : { IfMatch: bareETag(this.etag) }),
        }),
        sendOpts(signal),
      );
      etag = res.ETag;
    } catch (err) {
      if (!isPreconditionFailed(err)) throw err;
      // A retried PUT whose first attempt landed also fails the condition: accept our own write.
      const now = await getText(this.ctx.client, this.ctx.bucket, at, signal).catch(() => undefined);
      if (now?.text !== body) throw this.supersededError(err);
      etag = now.etag;
    }
    if (!etag) throw new Error(`s3: PutObject of ${at} returned no ETag`);
    this.state = next;
    this.etag = etag;
  }

  /** Best effort: an object left behind is removed with the rest of the state later. */
  private async deleteTailObjects(names: string[]): Promise<void> {
    const keys = names.map((n) => this.ctx.layout.tailObject(this.key, n));
    await deleteKeys(this.ctx.client, this.ctx.bucket, keys, undefined).catch(() => undefined);
  }
}
