/**
 * Blob uploads: monolithic, POST+PUT, chunked (PATCH), cross-repository mount.
 *
 * Commit order (the integrity rule "a blob is visible only after its bytes are stored
 * and verified"): append the bytes → commit the object durably at a fresh key →
 * verify digest and size → one transaction inserts the blob row (or finds the digest
 * already stored), links it to the repository and deletes the session. Until that
 * transaction commits no repository can see the blob; a crash before it leaves an
 * object with no row, which garbage collection removes.
 *
 * Hashing happens in-stream: the blob store's writer feeds the session's digest with the bytes it
 * stores (AppendOpts.hash; the filesystem driver does it on the thread pool for large bodies).
 * A hash state cannot be serialized, so the in-process state is only used when it covers every
 * byte of the session; when the upload was resumed on another node or after a restart, the
 * digest is computed by reading the committed object back (CNCF Distribution's fallback as well).
 */
import { randomUUID } from 'node:crypto';
import { BerthError } from '../../core/errors.js';
import { hasher, parseDigest, type Digest } from '../../core/digest.js';
import { contentHash, type ContentHash } from '../../content-hash.js';
import { validateRepositoryName } from '../../core/names.js';
import type { ByteRange } from '../../core/range.js';
import type { BlobWriter } from '../../blobstore/types.js';
import type { UploadRow } from '../../metadata/types.js';
import type { RegistryContext } from './context.js';
import { pushTarget } from './push-target.js';
import { KeyedMutex } from './keyed-mutex.js';
import { meter } from './streams.js';

export interface UploadStatus {
  id: string;
  repository: string;
  /** Bytes received so far. */
  offset: number;
}

export interface CommittedBlob {
  digest: string;
  size: number;
}

export interface ChunkOptions {
  /** The chunk's `Content-Range`, when the client sent one. */
  range?: ByteRange;
  /** The chunk's `Content-Length`, when known. */
  length?: number;
  signal?: AbortSignal;
}

/** The signed state of a lazy session: id, repository id and name, creation time. */
interface LazyState extends Record<string, unknown> {
  i: string;
  r: number;
  n: string;
  c: number;
}

/** A session row, or the stand-in for a lazy session that has no row yet. */
type SessionRow = UploadRow & { lazy?: true };

interface HashState {
  hash: ContentHash;
  offset: number;
}

const storageKeyFor = (id: string): string => `blobs/${id.slice(0, 2)}/${id}`;

/** A set that forgets its oldest members past `max`. */
class BoundedSet {
  private readonly items = new Set<string>();
  constructor(private readonly max: number) {}
  add(v: string): void {
    this.items.add(v);
    if (this.items.size > this.max) this.items.delete(this.items.values().next().value as string);
  }
  has(v: string): boolean {
    return this.items.has(v);
  }
}

export class UploadService {
  /** In-process digests of sessions that have stored bytes on this node, by session id. */
  private readonly hashes = new Map<string, HashState>();
  private readonly locks = new KeyedMutex();
  /** Sessions this node completed or cancelled: their state tokens are still valid, the sessions are not. */
  private readonly finished = new BoundedSet(100_000);

  constructor(private readonly ctx: RegistryContext) {}

  /**
   * Opens an upload session in the repository (creating the repository on first push).
   *
   * With `lazy` (the /v2/ path), no row is written yet: the session's state (id, repository,
   * start) is returned as a signed token that travels in the upload URL (`_state`), and the
   * row is written by the first chunk that stores bytes. A push of POST + PUT (what docker,
   * skopeo and podman do for each blob) then costs one database commit instead of two, and an
   * abandoned POST leaves nothing behind. Any node can continue the session: the token is
   * signed with the registry's key. The ECR API's InitiateLayerUpload returns only an id, so
   * it writes the row at once.
   */
  async start(repository: string, o: { lazy?: boolean } = {}): Promise<UploadStatus & { state?: string }> {
    validateRepositoryName(repository);
    const now = this.ctx.now();
    const repo = await pushTarget(this.ctx.meta, repository, now, this.ctx.settings.createOnPush);
    const id = randomUUID();
    if (o.lazy) {
      const state = await this.ctx.tokens.sign('upload', { i: id, r: repo.id, n: repository, c: now } satisfies LazyState, this.ctx.settings.uploadPurgeAfterMs);
      return { id, repository, offset: 0, state };
    }
    await this.ctx.meta.uploads.create({ id, repositoryId: repo.id, storageKey: storageKeyFor(id), offset: 0, createdAt: now, updatedAt: now });
    return { id, repository, offset: 0 };
  }

  async status(repository: string, id: string, state?: string): Promise<UploadStatus> {
    const row = await this.session(repository, id, state);
    return { id, repository, offset: row.offset };
  }

  /** Appends one chunk (PATCH). Chunks must arrive in order: a range that does not start at the offset is refused. */
  async append(repository: string, id: string, body: AsyncIterable<unknown>, o: ChunkOptions & { state?: string } = {}): Promise<UploadStatus> {
    return this.locks.run(id, async () => {
      const row = await this.session(repository, id, o.state);
      const { offset } = await this.appendLocked(row, body, o);
      return { id, repository, offset };
    });
  }

  /** Finishes the session (PUT ?digest=), with an optional last chunk. */
  async complete(
    repository: string,
    id: string,
    digest: string,
    body: AsyncIterable<unknown> | null,
    o: ChunkOptions & { refuseExisting?: boolean; state?: string } = {},
  ): Promise<CommittedBlob> {
    const expected = parseDigest(digest);
    return this.locks.run(id, async () => {
      const row = await this.session(repository, id, o.state);
      // ECR's CompleteLayerUpload refuses a layer the repository already has (and drops the session).
      if (o.refuseExisting && (await this.ctx.meta.blobs.getLinked(row.repositoryId, expected.value))) {
        await this.discard(row);
        throw new BerthError('LAYER_EXISTS', `The layer '${expected.value}' already exists in the repository with name '${repository}'`);
      }
      // NOTE: the last chunk's offset is not recorded on its own: the publish transaction deletes
      // the session anyway (one commit fewer per blob). If publishing fails, the stored bytes run
      // ahead of the recorded offset and the session answers "inconsistent" until it is restarted.
      // The writer that stored the last chunk also commits (one open and stat fewer per blob).
      const last = body ? await this.appendLocked(row, body, o, true) : null;
      const size = last?.offset ?? row.offset;
      const state = this.hashes.get(id);
      const writer = last?.writer ?? (await this.ctx.blobs.writer(row.storageKey, { resume: true, ...signalOpt(o.signal) }));
      if (writer.size !== size) throw inconsistent(id);
      await writer.commit(signalOpt(o.signal));
      const inStream = state && state.offset === size && expected.algorithm === 'sha256' ? state.hash : null;
      this.finished.add(id);
      return this.publish(row.repositoryId, row.storageKey, expected, size, inStream, id);
    });
  }

  /** Cancels the session and discards its bytes (DELETE). */
  async cancel(repository: string, id: string, state?: string): Promise<void> {
    await this.locks.run(id, async () => {
      const row = await this.session(repository, id, state);
      this.finished.add(id);
      await this.discard(row);
    });
  }

  /** Single-request upload (POST ?digest=): stream, verify, publish. No session row is needed. */
  async monolithic(repository: string, digest: string, body: AsyncIterable<unknown>, o: ChunkOptions = {}): Promise<CommittedBlob> {
    validateRepositoryName(repository);
    const expected = parseDigest(digest);
    const repo = await pushTarget(this.ctx.meta, repository, this.ctx.now(), this.ctx.settings.createOnPush);
    const key = storageKeyFor(randomUUID());
    const hash = contentHash(expected.algorithm);
    const writer = await this.ctx.blobs.writer(key, { fresh: true, ...signalOpt(o.signal) });
    try {
      const metered = meter(body, o.length);
      await writer.append(metered.stream, { last: true, hash, ...(o.length === undefined ? {} : { length: o.length }), ...signalOpt(o.signal) });
      if (o.length !== undefined && metered.bytes() !== o.length) throw truncated(metered.bytes(), o.length);
      await writer.commit(signalOpt(o.signal));
      return await this.publish(repo.id, key, expected, metered.bytes(), hash, null);
    } catch (err) {
      await writer.cancel().catch(() => undefined);
      await this.ctx.blobs.delete(key).catch(() => undefined);
      throw err;
    }
  }

  /**
   * Links an existing blob into `repository` (cross-repository mount). With `from`, the blob
   * must be linked there; without it, a repository that holds it is looked for. Either way
   * the source must be one `canRead` accepts (the caller may read it). Returns null when
   * nothing can be mounted.
   */
  async mount(repository: string, digest: string, from: string | undefined, canRead: (repository: string) => Promise<boolean>): Promise<CommittedBlob | null> {
    validateRepositoryName(repository);
    parseDigest(digest);
    let blob = null;
    if (from !== undefined) {
      validateRepositoryName(from);
      const source = await this.ctx.meta.repositories.get(from);
      blob = source && (await canRead(from)) ? await this.ctx.meta.blobs.getLinked(source.id, digest) : null;
    } else {
      // Automatic mount: only from a repository the caller may read, so a digest alone never
      // grants access to bytes held elsewhere.
      for (const name of await this.ctx.meta.blobs.repositoriesLinking(digest, 50)) {
        if (name !== repository && !(await canRead(name))) continue;
        blob = await this.ctx.meta.blobs.get(digest);
        break;
      }
    }
    if (!blob) return null;
    const now = this.ctx.now();
    const linked = await this.ctx.meta.tx(async (tx) => {
      const repo = await pushTarget(tx, repository, now, this.ctx.settings.createOnPush);
      if (!(await tx.blobs.get(digest))) return false;
      await tx.blobs.link(repo.id, digest, now);
      return true;
    });
    return linked ? { digest, size: blob.size } : null;
  }

  /** @internal Sessions whose digest this node holds (tests: abandoned sessions hold none). */
  get digestsHeld(): number {
    return this.hashes.size;
  }

  /** Removes sessions idle for longer than the configured time, with their bytes. Returns how many. */
  async purgeStale(): Promise<number> {
    const before = this.ctx.now() - this.ctx.settings.uploadPurgeAfterMs;
    let purged = 0;
    for (;;) {
      const stale = await this.ctx.meta.uploads.listStale(before, 100);
      for (const row of stale) {
        await this.locks.run(row.id, () => this.discard(row));
        purged++;
      }
      if (stale.length < 100) return purged;
    }
  }

  private async session(repository: string, id: string, state?: string): Promise<SessionRow> {
    validateRepositoryName(repository);
    const unknown = (): BerthError => new BerthError('UPLOAD_NOT_FOUND', `upload ${id.slice(0, 100)} is unknown to this repository`);
    if (!/^[0-9a-f-]{36}$/.test(id)) throw unknown();
    const [row, repo] = await Promise.all([this.ctx.meta.uploads.get(id), this.ctx.meta.repositories.get(repository)]);
    if (row) {
      if (!repo || row.repositoryId !== repo.id) throw unknown();
      return row;
    }
    // No row: a lazy session that has stored nothing yet, if its signed state says so. A session
    // this node finished (completed or cancelled) is gone; another node learns that only when the
    // state expires (uploads.purgeAfterSeconds), and until then sees an empty session.
    if (state === undefined || this.finished.has(id)) throw unknown();
    const s = await this.ctx.tokens.verify<LazyState>('upload', state).catch(() => {
      throw unknown();
    });
    if (s.i !== id || s.n !== repository || !repo || repo.id !== s.r) throw unknown();
    return { id, repositoryId: s.r, storageKey: storageKeyFor(id), offset: 0, createdAt: s.c, updatedAt: s.c, lazy: true };
  }

  /**
   * Stores one chunk. `completing`: the session is completed right after (the PUT's last chunk),
   * so the new offset is not recorded (the publish deletes the row) and the store may make the
   * bytes durable now.
   */
  private async appendLocked(row: SessionRow, body: AsyncIterable<unknown>, o: ChunkOptions, completing = false): Promise<{ offset: number; writer: BlobWriter }> {
    if (o.range) {
      if (o.range.start !== row.offset) {
        throw new BerthError('UPLOAD_OUT_OF_ORDER', `chunk starts at ${o.range.start} but the upload is at ${row.offset}`, {
          detail: { offset: row.offset },
        });
      }
      const rangeLength = o.range.end - o.range.start + 1;
      if (o.length !== undefined && o.length !== rangeLength) {
        throw new BerthError('UPLOAD_INVALID', `Content-Range covers ${rangeLength} bytes but Content-Length is ${o.length}`);
      }
    }
    const declared = o.length ?? (o.range ? o.range.end - o.range.start + 1 : undefined);
    // A lazy session has no row because it never stored a byte: its key is still fresh.
    const writer = await this.ctx.blobs.writer(row.storageKey, { ...(row.lazy ? { fresh: true } : { resume: true }), ...signalOpt(o.signal) });
    if (writer.size !== row.offset) throw inconsistent(row.id);
    // The session's digest starts with its first bytes (not at POST: a session that never gets a
    // byte, which a lazy one leaves no row to purge for, would keep it forever).
    const state = this.hashes.get(row.id);
    const hash = state && state.offset === row.offset ? state.hash : row.offset === 0 ? contentHash('sha256') : null;
    if (!hash) this.hashes.delete(row.id);
    const metered = meter(body, declared);
    let appended: number;
    try {
      appended = await writer.append(metered.stream, { last: completing, ...(hash ? { hash } : {}), ...(declared === undefined ? {} : { length: declared }), ...signalOpt(o.signal) });
    } catch (err) {
      // The hash has absorbed bytes that were not stored: it no longer matches the data.
      this.hashes.delete(row.id);
      throw err;
    }
    if (declared !== undefined && appended !== declared) {
      this.hashes.delete(row.id);
      throw truncated(appended, declared);
    }
    const offset = row.offset + appended;
    if (!completing && !(await this.record(row, offset))) {
      this.hashes.delete(row.id);
      throw new BerthError('UPLOAD_INVALID', `upload ${row.id} was changed concurrently; check its status and resume`);
    }
    if (hash) this.hashes.set(row.id, { hash, offset });
    return { offset, writer };
  }

  /** Records the new offset: compare-and-set on the row, or the first row of a lazy session. */
  private async record(row: SessionRow, offset: number): Promise<boolean> {
    const now = this.ctx.now();
    if (!row.lazy) return this.ctx.meta.uploads.advance(row.id, row.offset, offset, now);
    try {
      await this.ctx.meta.uploads.create({ id: row.id, repositoryId: row.repositoryId, storageKey: row.storageKey, offset, createdAt: row.createdAt, updatedAt: now });
      return true;
    } catch {
      return false; // another request created it first
    }
  }

  /** Verifies the committed object and makes it visible, or removes it. */
  private async publish(
    repositoryId: number,
    key: string,
    expected: Digest,
    size: number,
    hash: ContentHash | null,
    uploadId: string | null,
  ): Promise<CommittedBlob> {
    const actual = hash ? `${expected.algorithm}:${hash.digest()}` : await this.digestStored(key, expected);
    if (uploadId) this.hashes.delete(uploadId);
    if (actual !== expected.value) {
      await this.ctx.blobs.delete(key);
      if (uploadId) await this.ctx.meta.uploads.delete(uploadId);
      throw new BerthError('DIGEST_MISMATCH', `content digest ${actual} does not match ${expected.value}`, { detail: { expected: expected.value, actual } });
    }
    const now = this.ctx.now();
    const stored = await this.ctx.meta.tx(async (tx) => {
      const result = await tx.blobs.insert({ digest: expected.value, size, storageKey: key, createdAt: now });
      await tx.blobs.link(repositoryId, expected.value, now);
      if (uploadId) await tx.uploads.delete(uploadId);
      return result;
    });
    // The same content was already stored under another key: keep that one.
    if (!stored.inserted && stored.row.storageKey !== key) await this.ctx.blobs.delete(key);
    return { digest: expected.value, size };
  }

  private async digestStored(key: string, expected: Digest): Promise<string> {
    const hash = hasher(expected.algorithm);
    for await (const chunk of await this.ctx.blobs.read(key)) hash.update(chunk as Buffer);
    return `${expected.algorithm}:${hash.digest('hex')}`;
  }

  private async discard(row: UploadRow): Promise<void> {
    this.hashes.delete(row.id);
    await this.ctx.blobs.delete(row.storageKey);
    await this.ctx.meta.uploads.delete(row.id);
  }
}

function signalOpt(signal: AbortSignal | undefined): { signal?: AbortSignal } {
  return signal ? { signal } : {};
}

function inconsistent(id: string): BerthError {
  return new BerthError('UPLOAD_INVALID', `upload ${id} has inconsistent stored state; cancel it and start again`);
}

function truncated(got: number, declared: number): BerthError {
  return new BerthError('UPLOAD_INVALID', `received ${got} bytes but ${declared} were declared`);
}
