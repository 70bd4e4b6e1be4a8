/**
 * The contract between the layer walker and the extractors.
 *
 * The walker streams each layer once. For every regular file it asks each
 * extractor whether it wants the file (from the path, mode and size in the tar
 * header only); the file's bytes are read only when someone does, and each
 * wanting extractor gets them through its own {@link FileSink}. Everything an
 * extractor returns is attached to the file, so a later layer that deletes or
 * replaces the file removes it again.
 */
import type { Readable } from 'node:stream';

/** One layer of an image, in manifest order (lowest first). */
export interface LayerSource {
  digest: string;
  /** The manifest's media type; informational only, compression is detected from the bytes. */
  mediaType?: string;
  /** Opens the layer's bytes as stored in the blob store (compressed). Called once. */
  open(signal?: AbortSignal): Promise<Readable>;
}

/** What an extractor sees of a regular file before deciding to read it. */
export interface EntryInfo {
  /** Normalized absolute path inside the image (`/var/lib/dpkg/status`). */
  path: string;
  /** Size in bytes, from the tar header. */
  size: number;
  /** Permission bits from the tar header (`0o755`). */
  mode: number;
}

/** How a package of an OS package manager is tied to the distribution (the ecosystem comes from os-release). */
export type OsPackageManager = 'dpkg' | 'apk' | 'rpm';

/** A package as an extractor reports it, before the inventory adds the layer, OS ecosystem and purl. */
export interface ExtractedPackage {
  /** OSV ecosystem for language packages (`npm`, `PyPI`, `Go`, `crates.io`, `Maven`, `RubyGems`). */
  ecosystem?: string;
  /** For OS packages: the manager; the inventory derives the ecosystem (`Debian:12`) from os-release. */
  osManager?: OsPackageManager;
  name: string;
  version: string;
  sourceName?: string;
  sourceVersion?: string;
  /** Package URL; left out by OS extractors (it needs the distribution) and filled in by the inventory. */
  purl?: string;
  arch?: string;
  /** Where inside the file the package was found, when the file is an archive (`BOOT-INF/lib/a.jar`). */
  innerPath?: string;
  /**
   * The directory the package is (or would be) installed in, for ecosystems where a lockfile and the installed
   * copy describe the same package (`/app/node_modules/lodash`): the installed copy wins, see `inventory.ts`.
   */
  installPath?: string;
  /** True when the package comes from a lockfile rather than from installed metadata. */
  fromLockfile?: boolean;
  /** Development-only dependency according to its lockfile. */
  dev?: boolean;
}

/** The OS release as read from os-release. */
export interface OsRelease {
  id: string;
  versionId?: string;
  version?: string;
  versionCodename?: string;
  name?: string;
  prettyName?: string;
  idLike?: string[];
}

/** What one extractor found in one file. */
export interface ExtractResult {
  packages?: ExtractedPackage[];
  os?: OsRelease;
  /** Problems with part of the file that did not stop the rest from being read (recorded as extractor errors). */
  errors?: string[];
}

/**
 * Receives one file's bytes in order. `write` returns false once the sink needs no more bytes
 * (the walker then stops feeding it); `finish` is called once, after the last byte it accepted or when the file
 * ended, with `complete` telling whether it saw the whole file.
 */
export interface FileSink {
  write(chunk: Buffer): boolean;
  finish(complete: boolean): Promise<ExtractResult> | ExtractResult;
}

export interface Extractor {
  /** Short stable name, used in error records (`dpkg`, `npm`). */
  readonly name: string;
  /** Whether to read this regular file; must be cheap and decide from the header only. */
  wants(entry: EntryInfo): boolean;
  /** A sink for one wanted file. May throw to refuse the file (recorded as this extractor's error). */
  open(entry: EntryInfo, limits: ExtractorLimits): FileSink;
}

/** Caps the walker passes to every extractor. */
export interface ExtractorLimits {
  /** Largest file an extractor buffers whole (manifests, lockfiles, databases). */
  maxFileBytes: number;
  /** Largest archive (jar/war/ear) buffered to read its central directory. */
  maxArchiveBytes: number;
}

/** Limits of one walk; every one bounds memory or time against hostile layers. */
export interface WalkLimits extends ExtractorLimits {
  /** Decompressed bytes per layer; past it the layer is abandoned as a decompression bomb. */
  maxLayerBytes: number;
  /** Decompressed/compressed ratio per layer, checked once `ratioCheckAfterBytes` are decompressed. */
  maxRatio: number;
  ratioCheckAfterBytes: number;
  /** zstd window (the decoder allocates it up front); 128 MiB is zstd's own default limit. */
  maxZstdWindowBytes: number;
  /** Longest accepted entry path (after PAX/GNU long names); longer entries are refused. */
  maxPathBytes: number;
  /** Refused/noted entries kept per layer (their count is always exact). */
  maxRecordedEntries: number;
}

export const DEFAULT_WALK_LIMITS: WalkLimits = {
  maxFileBytes: 8 * 1024 * 1024,
  maxArchiveBytes: 64 * 1024 * 1024,
  maxLayerBytes: 16 * 1024 * 1024 * 1024,
  maxRatio: 250,
  ratioCheckAfterBytes: 64 * 1024 * 1024,
  maxZstdWindowBytes: 128 * 1024 * 1024,
  maxPathBytes: 4096,
  maxRecordedEntries: 100,
};
