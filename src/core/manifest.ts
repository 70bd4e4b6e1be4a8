import { BerthError } from './errors.js';
import { parseDigest } from './digest.js';
import { MANIFEST_KINDS, MediaType, SCHEMA1_MEDIA_TYPES, isNonDistributable, type ManifestKind } from './media-types.js';

export interface Descriptor {
  mediaType: string;
  digest: string;
  size: number;
  artifactType?: string;
  annotations?: Record<string, string>;
  platform?: unknown;
}

/** What the registry needs to know about a manifest, parsed and validated. */
export interface ParsedManifest {
  mediaType: string;
  kind: ManifestKind;
  /** Blobs the repository must hold (config and distributable layers). */
  blobs: Descriptor[];
  /** Child manifests the repository must hold (index entries). */
  manifests: Descriptor[];
  subject?: Descriptor;
  /** `artifactType`, or the config media type of an image manifest (as the referrers API reports it). */
  artifactType?: string;
  annotations?: Record<string, string>;
}

export const MAX_MANIFEST_BYTES = 4 * 1024 * 1024;

const GENERIC_CONTENT_TYPES = new Set(['', 'application/json', 'application/octet-stream', 'text/plain']);

/**
 * Parses and validates a manifest body. `contentType` is the request's Content-Type
 * (parameters stripped). The body's own `mediaType`, when present, must agree with it.
 * Schema 1 is refused as UNSUPPORTED; every structural problem is MANIFEST_INVALID.
 */
export function parseManifest(body: Uint8Array, contentType: string): ParsedManifest {
  let doc: unknown;
  try {
    doc = JSON.parse(Buffer.from(body.buffer, body.byteOffset, body.byteLength).toString('utf8'));
  } catch (err) {
    throw new BerthError('MANIFEST_INVALID', `manifest is not valid JSON: ${(err as Error).message}`);
  }
  if (!isObject(doc)) throw new BerthError('MANIFEST_INVALID', 'manifest must be a JSON object');

  const declared = typeof doc.mediaType === 'string' ? doc.mediaType : undefined;
  if (SCHEMA1_MEDIA_TYPES.has(contentType) || (declared && SCHEMA1_MEDIA_TYPES.has(declared)) || doc.schemaVersion === 1) {
    throw new BerthError('UNSUPPORTED', 'Docker schema 1 manifests are not supported; push schema 2 or OCI');
  }
  if (doc.schemaVersion !== 2) throw new BerthError('MANIFEST_INVALID', 'schemaVersion must be 2');
  if (doc.mediaType !== undefined && typeof doc.mediaType !== 'string') {
    throw new BerthError('MANIFEST_INVALID', 'mediaType must be a string');
  }

  const headerType = GENERIC_CONTENT_TYPES.has(contentType) ? undefined : contentType;
  if (headerType && declared && headerType !== declared) {
    throw new BerthError('MANIFEST_INVALID', `Content-Type "${headerType}" does not match the manifest's mediaType "${declared}"`);
  }
  const mediaType = headerType ?? declared ?? guessMediaType(doc);
  const kind = MANIFEST_KINDS[mediaType];
  if (!kind) throw new BerthError('MANIFEST_INVALID', `unsupported manifest media type "${mediaType.slice(0, 200)}"`);

  const result: ParsedManifest = kind === 'image' ? parseImage(doc, mediaType) : parseIndex(doc, mediaType);
  if (doc.subject !== undefined) result.subject = descriptor(doc.subject, 'subject');
  if (doc.annotations !== undefined) result.annotations = stringMap(doc.annotations, 'annotations');
  if (doc.artifactType !== undefined) {
    if (typeof doc.artifactType !== 'string') throw new BerthError('MANIFEST_INVALID', 'artifactType must be a string');
    result.artifactType = doc.artifactType;
  }
  return result;
}

function parseImage(doc: Record<string, unknown>, mediaType: string): ParsedManifest {
  if (doc.manifests !== undefined) throw new BerthError('MANIFEST_INVALID', 'an image manifest has no "manifests"');
  const config = descriptor(doc.config, 'config');
  if (!Array.isArray(doc.layers)) throw new BerthError('MANIFEST_INVALID', 'layers must be an array');
  const layers = doc.layers.map((l, i) => descriptor(l, `layers[${i}]`));
  if (mediaType === MediaType.DockerManifest && layers.length === 0) {
    throw new BerthError('MANIFEST_INVALID', 'a Docker image manifest needs at least one layer');
  }
  const blobs = [config, ...layers.filter((l) => !isNonDistributable(l.mediaType))];
  const parsed: ParsedManifest = { mediaType, kind: 'image', blobs, manifests: [] };
  if (config.mediaType !== MediaType.OciEmpty || doc.artifactType === undefined) parsed.artifactType = config.mediaType;
  return parsed;
}

function parseIndex(doc: Record<string, unknown>, mediaType: string): ParsedManifest {
  if (!Array.isArray(doc.manifests)) throw new BerthError('MANIFEST_INVALID', 'manifests must be an array');
  const manifests = doc.manifests.map((m, i) => descriptor(m, `manifests[${i}]`));
  return { mediaType, kind: 'index', blobs: [], manifests };
}

function guessMediaType(doc: Record<string, unknown>): string {
  if (Array.isArray(doc.manifests)) return MediaType.OciIndex;
  if (doc.config !== undefined) return MediaType.OciManifest;
  throw new BerthError('MANIFEST_INVALID', 'cannot tell the manifest type: set Content-Type or mediaType');
}

function descriptor(value: unknown, where: string): Descriptor {
  if (!isObject(value)) throw new BerthError('MANIFEST_INVALID', `${where} must be a descriptor object`);
  const { mediaType, digest, size } = value;
  if (typeof mediaType !== 'string' || mediaType.length === 0) {
    throw new BerthError('MANIFEST_INVALID', `${where}.mediaType must be a non-empty string`);
  }
  if (typeof digest !== 'string') throw new BerthError('MANIFEST_INVALID', `${where}.digest must be a string`);
  try {
    parseDigest(digest);
  } catch (err) {
    throw new BerthError('MANIFEST_INVALID', `${where}.digest: ${(err as Error).message}`);
  }
  if (typeof size !== 'number' || !Number.isSafeInteger(size) || size < 0) {
    throw new BerthError('MANIFEST_INVALID', `${where}.size must be a non-negative integer`);
  }
  const d: Descriptor = { mediaType, digest, size };
  if (typeof value.artifactType === 'string') d.artifactType = value.artifactType;
  if (value.annotations !== undefined) d.annotations = stringMap(value.annotations, `${where}.annotations`);
  if (value.platform !== undefined) d.platform = value.platform;
  return d;
}

function stringMap(value: unknown, where: string): Record<string, string> {
  if (!isObject(value) || !Object.values(value).every((v) => typeof v === 'string')) {
    throw new BerthError('MANIFEST_INVALID', `${where} must map strings to strings`);
  }
  return value as Record<string, string>;
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}
