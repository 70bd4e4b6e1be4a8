/**
 * BlobStore: the port every byte store implements (filesystem, S3, ...).
 *
 * Keys are opaque, `/`-separated strings made by the registry (for example
 * `data/3f2c.../9b1e-...`): the metadata database maps a digest to the key that
 * holds its bytes, so nothing is ever moved after its digest is known.
 *
 * Guarantees every implementation gives (the contract suite in ./contract.ts checks each):
 * - A key becomes readable only when `BlobWriter.commit` resolves, and then in full:
 *   readers never see partial data, and a crash before commit leaves nothing readable.
 * - `commit` resolves only after the data is durable (fsync / the object store acknowledged it).
 * - Bytes accepted by `append` are in the backend when it resolves (they survive the process;
 *   the filesystem driver leaves them in the OS's cache, to be flushed by `commit`), and a writer
 *   opened with `{ resume: true }` on any instance over the same backend continues from there.
 *   Only `commit` makes them survive a power loss; a writer resumed after one reports the size
 *   that survived, so a session that recorded more is detectably inconsistent, never corrupt.
 * - Missing keys raise `BlobNotFoundError`; `delete` of a missing key is not an error.
 * - Every call honours `signal`: an aborted call rejects and leaves no committed object.
 */
import type { Readable } from 'node:stream';

export interface CallOpts {
  signal?: AbortSignal;
}

export interface WriterOpts extends CallOpts {
  resume?: boolean;
  fresh?: boolean;
}

export interface AppendOpts extends CallOpts {
  /**
   * No other append follows before `commit`: a driver may make the bytes durable now and so
   * have less to do at commit (the filesystem driver syncs the file it already has open).
   */
  last?: boolean;
  /**
   * The body's length when the caller knows it (a Content-Length); the caller's stream fails
   * rather than run past it. A driver may then gather a small body and write it in one go.
   */
  length?: number;
  /**
   * The writer feeds every byte of the body it consumes into this digest, in order, before the
   * append resolves (also when it fails: the digest then covers bytes that were not all stored,
   * and the caller must not trust it). The filesystem driver feeds a native digest from the
   * thread pool while it writes, so the main thread does not hash large uploads.
   */
  hash?: StreamHash;
}

/** A running digest that a writer feeds (AppendOpts.hash). */
export interface StreamHash {
  update(data: Buffer): void;
  /** The native digest behind it (native.hashCreate), which a driver may feed off the main thread; absent for node:crypto's. */
  readonly native?: object;
}

/**
 * Where a stream from `read` comes from when it is a byte range of a local file: set by the
 * filesystem driver, so that the HTTP layer can hand the file to the kernel (sendfile) instead of
 * reading the stream. The stream owns the descriptor: destroying it closes the file.
 */
export interface FileRange {
  fd: number;
  offset: number;
  length: number;
}

const FILE_RANGE = Symbol('berth.fileRange');

export function withFileRange<T extends Readable>(stream: T, range: FileRange): T {
  (stream as T & { [FILE_RANGE]?: FileRange })[FILE_RANGE] = range;
  return stream;
}

export function fileRangeOf(stream: Readable): FileRange | undefined {
  return (stream as Readable & { [FILE_RANGE]?: FileRange })[FILE_RANGE];
}

export interface ObjectInfo {
  key: string;
  size: number;
  modifiedAt: Date;
}

export interface BlobStore {
  /** Short name of the mechanism: "fs", "s3", ... */
  readonly driver: string;

  /** Size and time of a committed object, or null when there is none. */
  stat(key: string, o?: CallOpts): Promise<ObjectInfo | null>;

  /**
   * Streams a committed object, or the `length` bytes from `offset` (both optional).
   * Rejects with BlobNotFoundError when the key is missing.
   */
  read(key: string, o?: CallOpts & { offset?: number; length?: number }): Promise<Readable>;

  /**
   * Opens a writer. Without `resume`, any earlier uncommitted data under `key` is discarded
   * (by the time the writer first appends or commits).
   * With `resume`, the writer continues after the bytes earlier appends made durable
   * (`size` tells how many), on this or any other instance over the same backend.
   * With `fresh`, the caller promises that nothing was ever written under `key` (it made the
   * key up), so there is nothing to discard and a driver need not look.
   */
  writer(key: string, o?: WriterOpts): Promise<BlobWriter>;

  /** Removes a committed object and any uncommitted writer state. Idempotent. */
  delete(key: string, o?: CallOpts): Promise<void>;

  /** Committed objects whose key starts with `prefix` (order unspecified; uncommitted data is never listed). */
  list(prefix: string, o?: CallOpts): AsyncIterable<ObjectInfo>;

  /** Releases clients and handles. */
  close(): Promise<void>;
}

export interface BlobWriter {
  /** Bytes written so far (including those of earlier writers that were resumed). */
  readonly size: number;
  /**
   * Appends the whole stream; resolves with the bytes appended once the backend holds them.
   * If the stream errors or the signal aborts, rejects; the writer's durable size is then
   * whatever it was before this call, or more (a resumed writer reports it).
   */
  append(body: Readable, o?: AppendOpts): Promise<number>;
  /** Publishes the data at the key atomically and durably. The writer is finished afterwards. */
  commit(o?: CallOpts): Promise<ObjectInfo>;
  /** Discards the uncommitted data. Idempotent. */
  cancel(o?: CallOpts): Promise<void>;
}

/** Raised when a key holds no committed object. */
export class BlobNotFoundError extends Error {
  constructor(
    readonly key: string,
    readonly driver: string,
  ) {
    super(`${driver}: no object at "${key}"`);
    this.name = 'BlobNotFoundError';
  }
}

/** Raised for keys that are not safe relative paths (empty parts, `..`, leading `/`, backslashes, NUL). */
export class InvalidKeyError extends Error {
  constructor(readonly key: string) {
    super(`invalid blob store key "${key.slice(0, 200)}"`);
    this.name = 'InvalidKeyError';
  }
}

const SAFE_KEY = /^[A-Za-z0-9._-]+(?:\/[A-Za-z0-9._-]+)*$/;

/** Checks a key once, at the port boundary, so no driver can be led outside its root. */
export function assertValidKey(key: string): void {
  if (!SAFE_KEY.test(key) || key.split('/').some((p) => p === '.' || p === '..')) throw new InvalidKeyError(key);
}
