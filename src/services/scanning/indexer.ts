/**
 * Indexing an image: its layers (for an index, each platform manifest's) are streamed from
 * the blob store through the layer walker once, and the resulting inventory is stored by
 * manifest digest with the matches of the package versions not seen before. A digest that is
 * already indexed by this scanner version from layers read whole is not read again, in any
 * repository: content-addressed layers give the same inventory every time.
 *
 * Outcome policy (ECR has no "partial" status):
 * - COMPLETE: every layer was read to its end. Files an extractor could not parse (a broken
 *   package.json) do not change that; the description counts them.
 * - FAILED: some layer could not be read to its end (missing blob, corrupt or truncated
 *   stream, decompression bomb, refused hostile entries). The packages found in what was read
 *   are still indexed and matched, so the findings that are known are shown, and the
 *   description says which layer failed and why. Such an inventory is read again by the next scan.
 * - UNSUPPORTED_IMAGE: not a container image (an artifact such as a signature or an SBOM, or
 *   an index without image manifests).
 */
import { pipeline, Transform } from 'node:stream';
import type { BlobStore } from '../../blobstore/types.js';
import type { ScanStatus } from '../../metadata/scans-types.js';
import type { MetadataStore } from '../../metadata/types.js';
import { scanLayers, type InventoryPackage, type LayerSource, type ScanInventory, type WalkLimits } from '../../scan/index.js';
import { matchVersions, toVersion } from './matcher.js';
import { resolveTargets, type ImageTarget } from './targets.js';

/** Bump when the scanner finds different packages for the same layers, so stored inventories are rebuilt. */
export const SCANNER_VERSION = 'berth-scan/1';

export interface IndexOutcome {
  status: Extract<ScanStatus, 'COMPLETE' | 'FAILED' | 'UNSUPPORTED_IMAGE'>;
  description: string;
}

/** An index's inventory: its platforms' packages together, each with its platform. */
export type StoredInventory = ScanInventory & { packages: (InventoryPackage & { platform?: string })[] };

export interface IndexerOptions {
  now: () => number;
  limits?: Partial<WalkLimits>;
  /** Called as layers are read, with the compressed bytes read so far and the total to read (throttle it yourself). */
  onProgress?: (repositoryId: number, digest: string, done: number, total: number) => void;
}

const short = (digest: string): string => digest.replace(/^sha256:/, '').slice(0, 12);

export class ScanIndexer {
  constructor(
    private readonly meta: MetadataStore,
    private readonly blobs: BlobStore,
    private readonly o: IndexerOptions,
  ) {}

  /** Indexes the image `digest` of the repository (reading only what is not indexed yet). */
  async index(repositoryId: number, digest: string, signal?: AbortSignal): Promise<IndexOutcome> {
    const row = await this.meta.manifests.get(repositoryId, digest);
    if (!row) throw new Error(`manifest ${digest} is no longer in the repository`);
    const resolved = await resolveTargets(digest, row.content, async (d) => (await this.meta.manifests.get(repositoryId, d))?.content ?? null);
    if ('unsupported' in resolved) return { status: 'UNSUPPORTED_IMAGE', description: resolved.unsupported };

    const parts: { target: ImageTarget; inventory: ScanInventory }[] = [];
    const reusable = new Map<string, ScanInventory>();
    for (const t of resolved.images) {
      const stored = await this.meta.scans.getInventory(t.digest);
      if (stored && stored.scanner === SCANNER_VERSION && stored.layerErrors === 0) reusable.set(t.digest, stored.inventory as ScanInventory);
    }
    const total = resolved.images.filter((t) => !reusable.has(t.digest)).reduce((n, t) => n + t.layers.reduce((m, l) => m + l.size, 0), 0);
    let done = 0;
    const progress = (n: number): void => this.o.onProgress?.(repositoryId, digest, (done += n), total);
    for (const target of resolved.images) {
      signal?.throwIfAborted();
      parts.push({ target, inventory: reusable.get(target.digest) ?? (await this.read(target, progress, signal)) });
    }
    let inventory: StoredInventory;
    if (resolved.index) {
      inventory = mergePlatforms(parts);
      await this.store(digest, inventory);
    } else {
      inventory = parts[0]!.inventory;
    }
    return outcome(inventory);
  }

  private async read(target: ImageTarget, progress: (bytes: number) => void, signal?: AbortSignal): Promise<ScanInventory> {
    const layers: LayerSource[] = target.layers.map((l) => ({
      digest: l.digest,
      mediaType: l.mediaType,
      open: async (s?: AbortSignal) => {
        const blob = await this.meta.blobs.get(l.digest);
        if (!blob) throw new Error(`layer blob ${l.digest} is not stored`);
        const body = await this.blobs.read(blob.storageKey, { offset: 0, length: blob.size, ...(s ? { signal: s } : {}) });
        const counted = new Transform({
          transform(chunk: Buffer, _enc, cb) {
            progress(chunk.length);
            cb(null, chunk);
          },
        });
        // pipeline forwards a read error to `counted` (the walker records it) and closes `body` when the walker stops early.
        pipeline(body, counted, () => undefined);
        return counted;
      },
    }));
    const inventory = await scanLayers(layers, { ...(this.o.limits ? { limits: this.o.limits } : {}), ...(signal ? { signal } : {}) });
    await this.store(target.digest, inventory);
    return inventory;
  }

  /** Stores the inventory with the matches of its new package versions (matched against the database as it is now). */
  async store(digest: string, inventory: ScanInventory): Promise<void> {
    const versions = inventory.packages.map(toVersion);
    for (let attempt = 1; ; attempt++) {
      // The generation is read before the advisories: whatever is committed later has a higher one.
      const status = await this.meta.vulndb.status();
      const known = await this.meta.scans.knownPackageVersions(versions.map((v) => v.key));
      const matches = await matchVersions(this.meta.vulndb, versions.filter((v) => !known.has(v.key)));
      const record = {
        digest,
        scanner: SCANNER_VERSION,
        inventory,
        layerErrors: inventory.layers.filter((l) => l.status !== 'ok').length,
        indexedAt: this.o.now(),
        generation: status.generation,
        sourceUpdatedAt: status.vulnerabilitySourceUpdatedAt,
      };
      try {
        await this.meta.tx((tx) => tx.scans.putInventory(record, versions, matches, this.o.now()));
        return;
      } catch (err) {
        // A version pruned between the read and the write: match again (bounded).
        if (attempt >= 3 || !/vanished/.test((err as Error).message)) throw err;
      }
    }
  }
}

function mergePlatforms(parts: { target: ImageTarget; inventory: ScanInventory }[]): StoredInventory {
  const merged: StoredInventory = { packages: [], layers: [], errors: [], partial: false };
  for (const { target, inventory } of parts) {
    if (!merged.os && inventory.os) merged.os = inventory.os;
    for (const p of inventory.packages) merged.packages.push(target.platform ? { ...p, platform: target.platform } : p);
    merged.layers.push(...inventory.layers);
    merged.errors.push(...inventory.errors);
    merged.partial ||= inventory.partial;
  }
  return merged;
}

function outcome(inventory: ScanInventory): IndexOutcome {
  const bad = inventory.layers.filter((l) => l.status !== 'ok');
  if (bad.length > 0) {
    const first = bad[0]!;
    return {
      status: 'FAILED',
      description:
        `${bad.length} of ${inventory.layers.length} layers could not be read completely ` +
        `(layer ${short(first.digest)}: ${first.error ?? first.status}); the findings cover only the content that was read.`,
    };
  }
  const extractorErrors = inventory.errors.filter((e) => e.kind === 'extractor');
  if (extractorErrors.length > 0) {
    const e = extractorErrors[0]!;
    return {
      status: 'COMPLETE',
      description: `The scan was completed successfully; ${extractorErrors.length} file(s) could not be parsed (${e.path ?? '?'}: ${e.message}).`,
    };
  }
  return { status: 'COMPLETE', description: 'The scan was completed successfully.' };
}
