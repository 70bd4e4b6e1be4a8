/**
 * What expiring a set of a repository's manifests would free: the blobs that only those
 * manifests reference, counting references from every repository.
 */
import type { ManifestStore, RepositoryInventory } from '../../metadata/types.js';

export async function bytesFreed(
  manifests: Pick<ManifestStore, 'blobReferenceCounts'>,
  inventory: RepositoryInventory,
  expiring: ReadonlySet<string>,
): Promise<number> {
  // Per blob: its size, the references from this repository, and those from expiring manifests.
  const blobs = new Map<string, { size: number; here: number; expiring: number }>();
  for (const r of inventory.blobRefs) {
    let b = blobs.get(r.child);
    if (!b) blobs.set(r.child, (b = { size: r.size, here: 0, expiring: 0 }));
    b.here++;
    if (expiring.has(r.parent)) b.expiring++;
  }
  // Only blobs every reference of this repository lets go of can be freed; they are freed when
  // no other repository references them either (their total count is this repository's).
  const candidates = [...blobs].filter(([, b]) => b.expiring > 0 && b.expiring === b.here).map(([digest]) => digest);
  const totals = await manifests.blobReferenceCounts(candidates);
  let bytes = 0;
  for (const digest of candidates) {
    const b = blobs.get(digest)!;
    if (totals.get(digest) === b.here) bytes += b.size;
  }
  return bytes;
}
