/**
 * Helpers of the S3 driver: client creation, the key layout, error predicates and the
 * few listing / streaming loops the store and its writers share.
 * See s3-blob-store.ts for the design.
 */
import {
  DeleteObjectsCommand,
  GetObjectCommand,
  ListMultipartUploadsCommand,
  ListObjectsV2Command,
  S3Client,
  type MultipartUpload,
  type S3ClientConfig,
  type _Object,
} from '@aws-sdk/client-s3';
import { Readable } from 'node:stream';
import { destroyOnAbort, toBuffer } from '../body.js';
import { assertValidKey } from '../types.js';

export const MiB = 1024 * 1024;
/** S3's smallest part (all but the last part of a multipart upload). */
export const MIN_PART_SIZE = 5 * MiB;
/** S3's largest part. */
export const MAX_PART_SIZE = 5 * 1024 * MiB;
/** S3's highest part number. */
export const MAX_PARTS = 10_000;

export interface S3ConnectionOptions {
  endpoint?: string;
  region: string;
  accessKeyId?: string;
  secretAccessKey?: string;
  forcePathStyle?: boolean;
}

/**
 * An S3Client for AWS or any S3-compatible server. Flexible checksums are only sent when an
 * operation requires them: by default SDK v3 sends streamed bodies `aws-chunked` with a trailing
 * CRC32, which Ceph RGW 16 (and other non-AWS servers) reject with 411 MissingContentLength.
 */
export function createS3Client(o: S3ConnectionOptions): S3Client {
  const config: S3ClientConfig = {
    region: o.region,
    forcePathStyle: o.forcePathStyle ?? false,
    requestChecksumCalculation: 'WHEN_REQUIRED',
    responseChecksumValidation: 'WHEN_REQUIRED',
  };
  if (o.endpoint !== undefined) config.endpoint = o.endpoint;
  if ((o.accessKeyId === undefined) !== (o.secretAccessKey === undefined)) {
    throw new Error('s3: give both accessKeyId and secretAccessKey, or neither (to use the default credential chain)');
  }
  if (o.accessKeyId !== undefined && o.secretAccessKey !== undefined) {
    config.credentials = { accessKeyId: o.accessKeyId, secretAccessKey: o.secretAccessKey };
  }
  return new S3Client(config);
}

/**
 * Where things live in the bucket. `~` cannot occur in a key (see assertValidKey), so the
 * writer-state tree can never collide with a committed object, and `<key>~/` is a prefix
 * that belongs to exactly one key (`a~/` is not a prefix of `a/b~/`).
 */
export class KeyLayout {
  static readonly STATE_ROOT = '~uploads';
  static readonly STATE_FILE = 'state.json';

  constructor(readonly prefix: string) {}

  object(key: string): string {
    return this.prefix + key;
  }

  stateDir(key: string): string {
    return `${this.prefix}${KeyLayout.STATE_ROOT}/${key}~/`;
  }

  stateObject(key: string): string {
    return this.stateDir(key) + KeyLayout.STATE_FILE;
  }

  tailObject(key: string, name: string): string {
    return this.stateDir(key) + name;
  }

  /** The blob key stored at a bucket key, or null for writer state and objects that are not blobs. */
  keyOf(bucketKey: string): string | null {
    if (!bucketKey.startsWith(this.prefix)) return null;
    const key = bucketKey.slice(this.prefix.length);
    try {
      assertValidKey(key);
      return key;
    } catch {
      return null;
    }
  }
}

/** `{ abortSignal }` for `client.send`, without an `undefined` member (exactOptionalPropertyTypes). */
export function sendOpts(signal: AbortSignal | undefined): { abortSignal?: AbortSignal } {
  return signal ? { abortSignal: signal } : {};
}

function errorName(err: unknown): string | undefined {
  const name = (err as { name?: unknown } | null)?.name;
  return typeof name === 'string' ? name : undefined;
}

function httpStatus(err: unknown): number | undefined {
  return (err as { $metadata?: { httpStatusCode?: number } } | null)?.$metadata?.httpStatusCode;
}

/** GetObject gives NoSuchKey, HeadObject (no body) a bare 404 named NotFound. */
export function isNoSuchKey(err: unknown): boolean {
  const name = errorName(err);
  return name === 'NoSuchKey' || name === 'NotFound';
}

export function isNoSuchUpload(err: unknown): boolean {
  // RGW answers some calls about an unknown upload id with NoSuchKey instead.
  return errorName(err) === 'NoSuchUpload' || errorName(err) === 'NoSuchKey';
}

export function isPreconditionFailed(err: unknown): boolean {
  return errorName(err) === 'PreconditionFailed' || httpStatus(err) === 412;
}

export function isInvalidRange(err: unknown): boolean {
  return errorName(err) === 'InvalidRange' || httpStatus(err) === 416;
}

/**
 * The ETag as sent in `If-Match`. RGW 16 compares If-Match on PUT with the *unquoted* ETag:
 * the quoted form it returns itself always fails with 412. AWS accepts the bare form too.
 */
export function bareETag(etag: string): string {
  return etag.replace(/^(W\/)?"(.*)"$/, '$2');
}

/** The `x-amz-copy-source` value for a key (URL-encoded, slashes kept). */
export function copySource(bucket: string, key: string): string {
  return `${bucket}/${encodeURIComponent(key).replace(/%2F/g, '/')}`;
}

export function bodyStream(body: unknown): Readable {
  if (body instanceof Readable) return body;
  throw new TypeError('s3: expected a Node.js stream as the GetObject body');
}

/** The chunks of `body` as Buffers; an abort of `signal` destroys the body, so the loop rejects. */
export async function* chunksOf(body: Readable, signal: AbortSignal | undefined): AsyncGenerator<Buffer> {
  const stopWatching = destroyOnAbort(body, signal);
  try {
    for await (const chunk of body) yield toBuffer(chunk);
  } finally {
    stopWatching();
  }
}

/** A small object as text, with its ETag. */
export async function getText(
  client: S3Client,
  bucket: string,
  key: string,
  signal: AbortSignal | undefined,
): Promise<{ text: string; etag: string | undefined }> {
  const res = await client.send(new GetObjectCommand({ Bucket: bucket, Key: key }), sendOpts(signal));
  const chunks = (await bodyStream(res.Body).toArray()).map(toBuffer);
  return { text: Buffer.concat(chunks).toString('utf8'), etag: res.ETag };
}

/** Reads the whole object `key`, which must hold exactly `size` bytes, into `target` at `at`. */
export async function readObjectInto(
  client: S3Client,
  bucket: string,
  key: string,
  size: number,
  target: Buffer,
  at: number,
  signal: AbortSignal | undefined,
): Promise<void> {
  if (size === 0) return;
  const res = await client.send(new GetObjectCommand({ Bucket: bucket, Key: key }), sendOpts(signal));
  let pos = at;
  for await (const chunk of bodyStream(res.Body)) {
    const b = toBuffer(chunk);
    if (pos + b.length > at + size) throw new Error(`s3: ${key} is longer than the ${size} bytes recorded`);
    b.copy(target, pos);
    pos += b.length;
  }
  if (pos !== at + size) throw new Error(`s3: ${key} holds ${pos - at} bytes, ${size} recorded`);
}

/** Every object whose key starts with `prefix`, page by page. */
export async function* listObjects(
  client: S3Client,
  bucket: string,
  prefix: string,
  signal: AbortSignal | undefined,
): AsyncGenerator<_Object> {
  let token: string | undefined;
  do {
    const page = await client.send(
      new ListObjectsV2Command({ Bucket: bucket, Prefix: prefix, ContinuationToken: token }),
      sendOpts(signal),
    );
    yield* page.Contents ?? [];
    token = page.IsTruncated ? page.NextContinuationToken : undefined;
  } while (token);
}

/** Multipart uploads in progress whose key starts with `prefix`. */
export async function* listUploads(
  client: S3Client,
  bucket: string,
  prefix: string,
  signal: AbortSignal | undefined,
): AsyncGenerator<MultipartUpload> {
  let keyMarker: string | undefined;
  let uploadIdMarker: string | undefined;
  for (;;) {
    const page = await client.send(
      new ListMultipartUploadsCommand({ Bucket: bucket, Prefix: prefix, KeyMarker: keyMarker, UploadIdMarker: uploadIdMarker }),
      sendOpts(signal),
    );
    yield* page.Uploads ?? [];
    if (!page.IsTruncated) return;
    keyMarker = page.NextKeyMarker;
    uploadIdMarker = page.NextUploadIdMarker;
  }
}

/** Deletes objects in batches of 1000 (missing keys are not an error). */
export async function deleteKeys(
  client: S3Client,
  bucket: string,
  keys: string[],
  signal: AbortSignal | undefined,
): Promise<void> {
  for (let i = 0; i < keys.length; i += 1000) {
    const batch = keys.slice(i, i + 1000);
    const res = await client.send(
      new DeleteObjectsCommand({ Bucket: bucket, Delete: { Objects: batch.map((Key) => ({ Key })), Quiet: true } }),
      sendOpts(signal),
    );
    const failed = (res.Errors ?? []).filter((e) => e.Code !== 'NoSuchKey');
    if (failed.length > 0) {
      throw new Error(`s3: could not delete ${failed.length} objects, first ${failed[0]?.Key}: ${failed[0]?.Code} ${failed[0]?.Message}`);
    }
  }
}
