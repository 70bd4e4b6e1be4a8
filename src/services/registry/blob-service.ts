import type { Readable } from 'node:stream';
import { BerthError } from '../../core/errors.js';
import { parseDigest } from '../../core/digest.js';
import { validateRepositoryName } from '../../core/names.js';
import { parseRangeHeader, type ByteRange } from '../../core/range.js';
import { BlobNotFoundError } from '../../blobstore/types.js';
import type { RepositoryRow } from '../../metadata/types.js';
import type { RegistryContext } from './context.js';

export interface BlobInfo {
  digest: string;
  size: number;
}

export interface BlobRead extends BlobInfo {
  /** The range served, or null for the whole blob. */
  range: ByteRange | null;
  body: Readable;
}

/** Reads of blobs through a repository: a repository only serves blobs linked to it. */
export class BlobService {
  constructor(private readonly ctx: RegistryContext) {}

  async stat(repository: string, digest: string): Promise<BlobInfo & { storageKey: string }> {
    validateRepositoryName(repository);
    parseDigest(digest);
    const blob = await this.ctx.meta.blobs.getLinkedByName(repository, digest);
    if (!blob) {
      await this.repository(repository);
      throw new BerthError('BLOB_NOT_FOUND', `blob ${digest} is unknown to repository ${repository}`);
    }
    return { digest, size: blob.size, storageKey: blob.storageKey };
  }

  /** Opens the blob, or the byte range `rangeHeader` asks for (RANGE_NOT_SATISFIABLE when it cannot be served). */
  async open(repository: string, digest: string, rangeHeader?: string, signal?: AbortSignal): Promise<BlobRead> {
    const blob = await this.stat(repository, digest);
    const range = parseRangeHeader(rangeHeader, blob.size);
    try {
      // The length is always given, so a driver never reads ahead past the blob (a small blob
      // then costs a small buffer, not a whole read chunk).
      const body = await this.ctx.blobs.read(blob.storageKey, {
        ...(range ? { offset: range.start, length: range.end - range.start + 1 } : { offset: 0, length: blob.size }),
        ...(signal ? { signal } : {}),
      });
      return { digest, size: blob.size, range, body };
    } catch (err) {
      if (err instanceof BlobNotFoundError) {
        // Garbage collection may have reclaimed an unused blob between the lookup and the read.
        const repo = await this.repository(repository);
        if (!(await this.ctx.meta.blobs.getLinked(repo.id, digest))) {
          throw new BerthError('BLOB_NOT_FOUND', `blob ${digest} is unknown to repository ${repository}`);
        }
        // NOTE: the row says the bytes exist but the store lost them: that is our fault, not the client's.
        throw new BerthError('INTERNAL', `blob ${digest} is indexed but its bytes are missing`, { cause: err });
      }
      throw err;
    }
  }

  /** Unlinks the blob from the repository (the bytes stay while anything else uses them). */
  async delete(repository: string, digest: string): Promise<void> {
    const repo = await this.repository(repository);
    parseDigest(digest);
    if (!(await this.ctx.meta.blobs.unlink(repo.id, digest))) {
      throw new BerthError('BLOB_NOT_FOUND', `blob ${digest} is unknown to repository ${repository}`);
    }
  }

  private async repository(name: string): Promise<RepositoryRow> {
    validateRepositoryName(name);
    const repo = await this.ctx.meta.repositories.get(name);
    if (!repo) throw new BerthError('REPOSITORY_NOT_FOUND', `repository ${name} is not known`);
    return repo;
  }
}
