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
  // Per blob: the references from this repository, and those from expiring manifests.
  const here = new Map<string, number>();
  const fromExpiring = new Map<string, number>();
  for (const r of inventory.blobRefs) {
    here.set(r.child, (here.get(r.child) ?? 0) + 1);
    if (expiring.has(r.parent)) fromExpiring.set(r.child, (fromExpiring.get(r.child) ?? 0) + 1);
  }
  // Only blobs every reference of this repository lets go of can be freed; they are freed when
  // no other repository references them either (their total count is this repository's).
  const candidates: string[] = [];
  for (const [digest, n] of fromExpiring) if (n === here.get(digest) && inventory.blobSizes.has(digest)) candidates.push(digest);
  const totals = await manifests.blobReferenceCounts(candidates);
  let bytes = 0;
  for (const digest of candidates) if (totals.get(digest) === here.get(digest)) bytes += inventory.blobSizes.get(digest)!;
  return bytes;
}
