/**
 * Builds OCI image layouts (https://github.com/opencontainers/image-spec/blob/main/image-layout.md)
 * on disk without any network access, so that real clients (skopeo, podman, ...)
 * can copy them into a registry under test. Also reads layouts back, so a test can
 * compare what a client wrote with what was pushed.
 *
 * Everything is deterministic: fixed mtimes, fixed ownership, sorted entries, so
 * the same input always gives the same digests.
 */
import { createHash } from 'node:crypto';
import { mkdir, readFile, writeFile, access } from 'node:fs/promises';
import { join } from 'node:path';
import { gunzipSync, gzipSync } from 'node:zlib';
import * as tar from 'tar-stream';

export const MT_OCI_MANIFEST = 'application/vnd.oci.image.manifest.v1+json';
export const MT_OCI_INDEX = 'application/vnd.oci.image.index.v1+json';
export const MT_OCI_CONFIG = 'application/vnd.oci.image.config.v1+json';
export const MT_OCI_LAYER_GZIP = 'application/vnd.oci.image.layer.v1.tar+gzip';
export const MT_OCI_LAYER_TAR = 'application/vnd.oci.image.layer.v1.tar';
export const MT_DOCKER_MANIFEST = 'application/vnd.docker.distribution.manifest.v2+json';
export const MT_DOCKER_LIST = 'application/vnd.docker.distribution.manifest.list.v2+json';
export const MT_DOCKER_LAYER_GZIP = 'application/vnd.docker.image.rootfs.diff.tar.gzip';
export const REF_NAME_ANNOTATION = 'org.opencontainers.image.ref.name';

const FIXED_MTIME = new Date('2024-01-01T00:00:00Z');

export interface Platform {
  architecture: string;
  os: string;
  variant?: string;
}

export interface LayerSpec {
  /** path inside the layer (no leading slash needed) -> file content */
  files: Record<string, string | Buffer>;
}

export interface ImageSpec {
  layers: LayerSpec[];
  platform?: Platform;
  /** put into config.config.Labels, handy to make two images differ */
  labels?: Record<string, string>;
}

export interface Descriptor {
  mediaType: string;
  digest: string;
  size: number;
  annotations?: Record<string, string>;
  platform?: Platform;
}

export interface WrittenLayer {
  /** digest of the gzip'd blob (what the manifest references) */
  digest: string;
  /** sha256 of the uncompressed tar (what rootfs.diff_ids holds) */
  diffId: string;
  size: number;
  files: Record<string, string | Buffer>;
}

export interface WrittenImage {
  manifestDigest: string;
  manifestSize: number;
  manifestBytes: Buffer;
  configDigest: string;
  layers: WrittenLayer[];
  platform: Platform;
}

export interface WrittenIndex {
  indexDigest: string;
  indexSize: number;
  indexBytes: Buffer;
  images: WrittenImage[];
}

export function sha256(data: Buffer | string): string {
  return 'sha256:' + createHash('sha256').update(data).digest('hex');
}

/** Path of a blob inside a layout. */
export function blobPath(dir: string, digest: string): string {
  const [alg, hex] = digest.split(':');
  if (!alg || !hex) throw new Error(`bad digest ${digest}`);
  return join(dir, 'blobs', alg, hex);
}

/** A deterministic, uncompressed tar with the given files (parent dirs included). */
export async function makeTar(files: Record<string, string | Buffer>): Promise<Buffer> {
  const pack = tar.pack();
  const chunks: Buffer[] = [];
  const done = new Promise<void>((resolve, reject) => {
    pack.on('data', (c: unknown) => chunks.push(c as Buffer));
    pack.on('end', () => resolve());
    pack.on('error', (e: Error) => reject(e));
  });

  const paths = Object.keys(files)
    .map((p) => p.replace(/^\/+/, ''))
    .sort();
  const dirs = new Set<string>();
  for (const p of paths) {
    const parts = p.split('/');
    for (let i = 1; i < parts.length; i++) dirs.add(parts.slice(0, i).join('/'));
  }
  const entry = (header: Parameters<tar.Pack['entry']>[0], body?: Buffer) =>
    new Promise<void>((resolve, reject) => {
      const cb = (err?: Error | null) => (err ? reject(err) : resolve());
      if (body) pack.entry(header, body, cb);
      else pack.entry(header, cb);
    });
  for (const d of [...dirs].sort()) {
    await entry({ name: d + '/', type: 'directory', mode: 0o755, mtime: FIXED_MTIME, uid: 0, gid: 0 });
  }
  for (const p of Object.keys(files).sort()) {
    const content = files[p];
    if (content === undefined) continue;
    const body = Buffer.isBuffer(content) ? content : Buffer.from(content, 'utf8');
    await entry(
      { name: p.replace(/^\/+/, ''), type: 'file', mode: 0o644, mtime: FIXED_MTIME, uid: 0, gid: 0, size: body.length },
      body,
    );
  }
  pack.finalize();
  await done;
  return Buffer.concat(chunks);
}

/** Reads a tar (gzip'd or not) into path -> content (regular files only). */
export async function readTar(data: Buffer): Promise<Map<string, Buffer>> {
  const raw = data.length >= 2 && data[0] === 0x1f && data[1] === 0x8b ? gunzipSync(data) : data;
  const extract = tar.extract();
  const out = new Map<string, Buffer>();
  const finished = new Promise<void>((resolve, reject) => {
    extract.on('entry', (header, stream, next) => {
      const chunks: Buffer[] = [];
      stream.on('data', (c: unknown) => chunks.push(c as Buffer));
      stream.on('end', () => {
        if (header.type === 'file' || header.type === 'contiguous-file') {
          out.set(header.name.replace(/^(\.\/|\/)+/, ''), Buffer.concat(chunks));
        }
        next();
      });
      stream.on('error', (e: Error) => reject(e));
    });
    extract.on('finish', () => resolve());
    extract.on('error', (e: Error) => reject(e));
  });
  extract.end(raw);
  await finished;
  return out;
}

async function writeBlob(dir: string, data: Buffer): Promise<string> {
  const digest = sha256(data);
  const p = blobPath(dir, digest);
  await mkdir(join(dir, 'blobs', 'sha256'), { recursive: true });
  await writeFile(p, data);
  return digest;
}

async function exists(p: string): Promise<boolean> {
  try {
    await access(p);
    return true;
  } catch {
    return false;
  }
}

interface IndexJson {
  schemaVersion: 2;
  mediaType?: string;
  manifests: Descriptor[];
}

/** Adds (or replaces, by tag) a descriptor in the layout's index.json, creating the layout if needed. */
async function addToIndex(dir: string, desc: Descriptor, tag: string): Promise<void> {
  await mkdir(join(dir, 'blobs', 'sha256'), { recursive: true });
  await writeFile(join(dir, 'oci-layout'), JSON.stringify({ imageLayoutVersion: '1.0.0' }));
  const indexPath = join(dir, 'index.json');
  let index: IndexJson = { schemaVersion: 2, mediaType: MT_OCI_INDEX, manifests: [] };
  if (await exists(indexPath)) index = JSON.parse(await readFile(indexPath, 'utf8')) as IndexJson;
  index.manifests = index.manifests.filter((m) => m.annotations?.[REF_NAME_ANNOTATION] !== tag);
  index.manifests.push({ ...desc, annotations: { ...(desc.annotations ?? {}), [REF_NAME_ANNOTATION]: tag } });
  await writeFile(indexPath, JSON.stringify(index, null, 2));
}

/** Writes the blobs (layers, config, manifest) of one image; does not touch index.json. */
export async function writeImageBlobs(dir: string, spec: ImageSpec): Promise<WrittenImage> {
  const platform: Platform = spec.platform ?? { architecture: 'amd64', os: 'linux' };
  const layers: WrittenLayer[] = [];
  for (const l of spec.layers) {
    const tarBytes = await makeTar(l.files);
    const gz = gzipSync(tarBytes, { level: 6 });
    const digest = await writeBlob(dir, gz);
    layers.push({ digest, diffId: sha256(tarBytes), size: gz.length, files: l.files });
  }
  const config: Record<string, unknown> = {
    created: FIXED_MTIME.toISOString(),
    architecture: platform.architecture,
    os: platform.os,
    ...(platform.variant !== undefined ? { variant: platform.variant } : {}),
    config: {
      Env: ['PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin'],
      Cmd: ['/bin/sh'],
      ...(spec.labels ? { Labels: spec.labels } : {}),
    },
    rootfs: { type: 'layers', diff_ids: layers.map((l) => l.diffId) },
    history: layers.map((_, i) => ({ created: FIXED_MTIME.toISOString(), created_by: `e2e layer ${i}` })),
  };
  const configBytes = Buffer.from(JSON.stringify(config));
  const configDigest = await writeBlob(dir, configBytes);
  const manifest = {
    schemaVersion: 2,
    mediaType: MT_OCI_MANIFEST,
    config: { mediaType: MT_OCI_CONFIG, digest: configDigest, size: configBytes.length },
    layers: layers.map((l) => ({ mediaType: MT_OCI_LAYER_GZIP, digest: l.digest, size: l.size })),
  };
  const manifestBytes = Buffer.from(JSON.stringify(manifest, null, 2));
  const manifestDigest = await writeBlob(dir, manifestBytes);
  return { manifestDigest, manifestSize: manifestBytes.length, manifestBytes, configDigest, layers, platform };
}

/** Writes a single-platform image into the layout at `dir`, tagged `tag` in index.json. */
export async function writeImageLayout(dir: string, opts: ImageSpec & { tag: string }): Promise<WrittenImage> {
  const img = await writeImageBlobs(dir, opts);
  await addToIndex(dir, { mediaType: MT_OCI_MANIFEST, digest: img.manifestDigest, size: img.manifestSize }, opts.tag);
  return img;
}

export interface IndexPlatformSpec {
  platform: Platform;
  /** defaults to two small layers whose content names the platform */
  layers?: LayerSpec[];
}

/** Writes a multi-platform OCI image index (one distinct image per platform), tagged `tag`. */
export async function writeIndexLayout(
  dir: string,
  opts: { tag: string; platforms: Array<Platform | IndexPlatformSpec> },
): Promise<WrittenIndex> {
  const images: WrittenImage[] = [];
  for (const p of opts.platforms) {
    const spec: IndexPlatformSpec = 'platform' in p ? p : { platform: p };
    const name = `${spec.platform.os}/${spec.platform.architecture}${spec.platform.variant ? '/' + spec.platform.variant : ''}`;
    const layers = spec.layers ?? [
      { files: { 'etc/platform': `${name}\n` } },
      { files: { [`opt/${spec.platform.architecture}/bin/hello`]: `#!/bin/sh\necho hello from ${name} (${opts.tag})\n` } },
    ];
    images.push(await writeImageBlobs(dir, { layers, platform: spec.platform, labels: { platform: name } }));
  }
  const index = {
    schemaVersion: 2,
    mediaType: MT_OCI_INDEX,
    manifests: images.map((img) => ({
      mediaType: MT_OCI_MANIFEST,
      digest: img.manifestDigest,
      size: img.manifestSize,
      platform: img.platform,
    })),
  };
  const indexBytes = Buffer.from(JSON.stringify(index, null, 2));
  const indexDigest = await writeBlob(dir, indexBytes);
  await addToIndex(dir, { mediaType: MT_OCI_INDEX, digest: indexDigest, size: indexBytes.length }, opts.tag);
  return { indexDigest, indexSize: indexBytes.length, indexBytes, images };
}

/* ------------------------------------------------------------------ reading */

export interface ManifestJson {
  schemaVersion: number;
  mediaType?: string;
  config: Descriptor;
  layers: Descriptor[];
}

export interface IndexManifestJson {
  schemaVersion: number;
  mediaType?: string;
  manifests: Descriptor[];
}

export interface ReadImage {
  /** descriptor from index.json for the tag */
  descriptor: Descriptor;
  /** digest of the manifest bytes as stored (recomputed, not trusted from index.json) */
  digest: string;
  mediaType: string;
  raw: Buffer;
  json: unknown;
}

/** Reads a blob and checks that its content matches its digest. */
export async function readBlob(dir: string, digest: string): Promise<Buffer> {
  const data = await readFile(blobPath(dir, digest));
  const actual = sha256(data);
  if (actual !== digest) throw new Error(`blob ${digest} in ${dir} has content digest ${actual}`);
  return data;
}

/** Finds the manifest (or index) tagged `tag` in a layout (or the only one, if tag is omitted). */
export async function readLayoutRef(dir: string, tag?: string): Promise<ReadImage> {
  const indexJson = JSON.parse(await readFile(join(dir, 'index.json'), 'utf8')) as IndexJson;
  const candidates =
    tag === undefined ? indexJson.manifests : indexJson.manifests.filter((m) => m.annotations?.[REF_NAME_ANNOTATION] === tag);
  const desc = candidates[0];
  if (!desc || candidates.length !== 1) {
    throw new Error(
      `expected exactly one manifest for tag ${tag ?? '(any)'} in ${dir}/index.json, found ${candidates.length}: ${JSON.stringify(indexJson)}`,
    );
  }
  const raw = await readBlob(dir, desc.digest);
  const json = JSON.parse(raw.toString('utf8')) as { mediaType?: string };
  return { descriptor: desc, digest: sha256(raw), mediaType: json.mediaType ?? desc.mediaType, raw, json };
}

/** Reads an image manifest from a layout by digest. */
export async function readManifest(dir: string, digest: string): Promise<ManifestJson> {
  return JSON.parse((await readBlob(dir, digest)).toString('utf8')) as ManifestJson;
}

/**
 * Reads a `dir:` transport directory as written by `skopeo copy ... dir:PATH`:
 * `manifest.json` plus one file per blob named by its hex digest.
 */
export async function readDirTransport(dir: string): Promise<{ manifest: ManifestJson; manifestDigest: string; blob: (digest: string) => Promise<Buffer> }> {
  const raw = await readFile(join(dir, 'manifest.json'));
  return {
    manifest: JSON.parse(raw.toString('utf8')) as ManifestJson,
    manifestDigest: sha256(raw),
    blob: async (digest: string) => {
      const hex = digest.split(':')[1] ?? '';
      const data = await readFile(join(dir, hex));
      if (sha256(data) !== digest) throw new Error(`dir blob ${digest} content mismatch`);
      return data;
    },
  };
}
