/**
 * Which image manifests a scan reads: the manifest itself when it is a container image, or
 * each platform manifest of an index (attestation manifests, which BuildKit stores under the
 * `unknown/unknown` platform, are not images and are skipped). An artifact (a manifest whose
 * config is not an image config: signatures, SBOMs, Helm charts) is not scanned.
 */
import { isNonDistributable } from '../../core/media-types.js';

const IMAGE_CONFIG_TYPES = new Set(['application/vnd.oci.image.config.v1+json', 'application/vnd.docker.container.image.v1+json']);
const INDEX_TYPES = new Set(['application/vnd.oci.image.index.v1+json', 'application/vnd.docker.distribution.manifest.list.v2+json']);

export interface ImageTarget {
  digest: string;
  /** `os/arch[/variant]` when it came from an index. */
  platform?: string;
  layers: { digest: string; mediaType: string; size: number }[];
}

export type Resolution = { index: boolean; images: ImageTarget[] } | { unsupported: string };

/** Whether a config media type is a container image's (OCI or Docker). */
export const isImageConfig = (mediaType: string | null | undefined): boolean => mediaType !== null && mediaType !== undefined && IMAGE_CONFIG_TYPES.has(mediaType);

type Json = Record<string, unknown>;
const isObject = (v: unknown): v is Json => typeof v === 'object' && v !== null && !Array.isArray(v);

function parse(content: Buffer): Json | null {
  try {
    const doc: unknown = JSON.parse(content.toString('utf8'));
    return isObject(doc) ? doc : null;
  } catch {
    return null;
  }
}

const isIndex = (doc: Json): boolean => (typeof doc.mediaType === 'string' ? INDEX_TYPES.has(doc.mediaType) : Array.isArray(doc.manifests));

/** The image of a single manifest, or why it is not one. */
export function imageOf(digest: string, doc: Json): ImageTarget | string {
  const config = doc.config;
  if (!isObject(config) || typeof config.mediaType !== 'string' || !IMAGE_CONFIG_TYPES.has(config.mediaType)) {
    return `not a container image (config media type ${isObject(config) ? String(config.mediaType) : 'missing'})`;
  }
  const layers = (Array.isArray(doc.layers) ? doc.layers : [])
    .filter(isObject)
    .filter((l) => typeof l.digest === 'string' && typeof l.mediaType === 'string' && !isNonDistributable(l.mediaType))
    .map((l) => ({ digest: l.digest as string, mediaType: l.mediaType as string, size: typeof l.size === 'number' ? l.size : 0 }));
  return { digest, layers };
}

function platformOf(d: Json): string | undefined {
  const p = d.platform;
  if (!isObject(p) || typeof p.os !== 'string' || typeof p.architecture !== 'string') return undefined;
  return [p.os, p.architecture, ...(typeof p.variant === 'string' ? [p.variant] : [])].join('/');
}

/** Resolves a stored manifest to the images to read; `child` loads a child manifest of an index. */
export async function resolveTargets(digest: string, content: Buffer, child: (digest: string) => Promise<Buffer | null>): Promise<Resolution> {
  const doc = parse(content);
  if (!doc) return { unsupported: 'the manifest is not valid JSON' };
  if (!isIndex(doc)) {
    const image = imageOf(digest, doc);
    return typeof image === 'string' ? { unsupported: image } : { index: false, images: [image] };
  }
  const images: ImageTarget[] = [];
  for (const d of Array.isArray(doc.manifests) ? doc.manifests.filter(isObject) : []) {
    if (typeof d.digest !== 'string') continue;
    const annotations = isObject(d.annotations) ? d.annotations : {};
    const platform = platformOf(d);
    if (annotations['vnd.docker.reference.type'] === 'attestation-manifest' || platform === 'unknown/unknown') continue;
    const body = await child(d.digest);
    const childDoc = body ? parse(body) : null;
    if (!childDoc || isIndex(childDoc)) continue;
    const image = imageOf(d.digest, childDoc);
    if (typeof image === 'string') continue;
    images.push(platform ? { ...image, platform } : image);
  }
  return images.length > 0 ? { index: true, images } : { unsupported: 'the index holds no container image manifests' };
}
