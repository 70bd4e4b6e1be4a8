/** Manifest media types the registry stores and serves. */
export const MediaType = {
  OciManifest: 'application/vnd.oci.image.manifest.v1+json',
  OciIndex: 'application/vnd.oci.image.index.v1+json',
  DockerManifest: 'application/vnd.docker.distribution.manifest.v2+json',
  DockerManifestList: 'application/vnd.docker.distribution.manifest.list.v2+json',
  OciEmpty: 'application/vnd.oci.empty.v1+json',
} as const;

export const SCHEMA1_MEDIA_TYPES = new Set([
  'application/vnd.docker.distribution.manifest.v1+json',
  'application/vnd.docker.distribution.manifest.v1+prettyjws',
]);

export type ManifestKind = 'image' | 'index';

export const MANIFEST_KINDS: Readonly<Record<string, ManifestKind>> = {
  [MediaType.OciManifest]: 'image',
  [MediaType.DockerManifest]: 'image',
  [MediaType.OciIndex]: 'index',
  [MediaType.DockerManifestList]: 'index',
};

/**
 * Layers that the specification lets a manifest reference without the registry
 * holding them (they are fetched from their `urls`).
 */
export function isNonDistributable(mediaType: string): boolean {
  return (
    mediaType === 'application/vnd.docker.image.rootfs.foreign.diff.tar.gzip' ||
    mediaType.startsWith('application/vnd.oci.image.layer.nondistributable.')
  );
}
