/**
 * The digest an upload is verified with. Where the native helpers are built it is OpenSSL's digest
 * inside the addon (the same code node:crypto runs), which the filesystem driver's O_DIRECT writes
 * feed on the thread pool (AppendOpts.hash); otherwise node:crypto's.
 */
import { createHash } from 'node:crypto';
import type { StreamHash } from './blobstore/types.js';
import type { DigestAlgorithm } from './core/digest.js';
import { native } from './native.js';

export interface ContentHash extends StreamHash {
  /** The lower-case hex digest; the hash cannot be used after it. */
  digest(): string;
}

export function contentHash(algorithm: DigestAlgorithm): ContentHash {
  const { hashCreate, hashUpdate, hashDigest } = native;
  if (hashCreate && hashUpdate && hashDigest) {
    const handle = hashCreate(algorithm);
    return { native: handle, update: (data) => hashUpdate(handle, data), digest: () => hashDigest(handle) };
  }
  const hash = createHash(algorithm);
  return { update: (data) => void hash.update(data), digest: () => hash.digest('hex') };
}
