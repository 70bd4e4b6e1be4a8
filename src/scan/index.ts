/**
 * Image scanning, the part that reads an image: walk its layers and list what is installed.
 *
 * The scan service calls `scanLayers` with the layers of one platform's manifest (lowest first), each opened
 * from the blob store, and gets a `ScanInventory` to store by image digest and match against advisories.
 */
import { apkExtractor } from './extractors/apk.js';
import { cargoExtractor } from './extractors/cargo.js';
import { dpkgExtractor } from './extractors/dpkg.js';
import { goBinaryExtractor } from './extractors/go-binary.js';
import { javaExtractor } from './extractors/java.js';
import { npmExtractor } from './extractors/npm.js';
import { osReleaseExtractor } from './extractors/os-release.js';
import { pythonExtractor } from './extractors/python.js';
import { rpmExtractor } from './extractors/rpm.js';
import { rubyExtractor } from './extractors/ruby.js';
import { buildInventory, type ScanInventory } from './inventory.js';
import type { Extractor, LayerSource, WalkLimits } from './walker/types.js';
import { walkLayers } from './walker/walker.js';

export type { InventoryError, InventoryOs, InventoryPackage, ScanInventory } from './inventory.js';
export type { Extractor, LayerSource, WalkLimits } from './walker/types.js';
export type { LayerReport, LayerStatus } from './walker/walker.js';
export { DEFAULT_WALK_LIMITS } from './walker/types.js';
export { buildInventory } from './inventory.js';
export { walkLayers } from './walker/walker.js';

/** Every extractor, in the order they are offered each file. */
export const DEFAULT_EXTRACTORS: readonly Extractor[] = [
  osReleaseExtractor,
  dpkgExtractor,
  apkExtractor,
  rpmExtractor,
  npmExtractor,
  pythonExtractor,
  goBinaryExtractor,
  cargoExtractor,
  javaExtractor,
  rubyExtractor,
];

export interface ScanOptions {
  extractors?: readonly Extractor[];
  limits?: Partial<WalkLimits>;
  signal?: AbortSignal;
}

/**
 * Reads the layers and returns the inventory. Never rejects for bad layer content (see walker.ts); rejects only
 * when `signal` aborts.
 */
export async function scanLayers(layers: readonly LayerSource[], options: ScanOptions = {}): Promise<ScanInventory> {
  const walk = await walkLayers(layers, {
    extractors: options.extractors ?? DEFAULT_EXTRACTORS,
    ...(options.limits ? { limits: options.limits } : {}),
    ...(options.signal ? { signal: options.signal } : {}),
  });
  return buildInventory(walk);
}
