/**
 * The layer walker: streams an image's layers in order and runs the extractors on the files they want.
 *
 * Guarantees:
 * - Memory is bounded by the limits, never by the layer: layers are streamed, only wanted files are read, each
 *   sink buffers at most its cap, and what is kept between layers is the extractors' results.
 * - Hostile input never throws out of `walkLayers`: a layer that cannot be opened, decoded or parsed gets
 *   `status: 'failed'` (nothing read) or `'partial'` (entries before the error count) with the error, and the
 *   walk goes on with the next layer. Entries that escape the root or have oversized names are refused and
 *   listed (the layer becomes `partial`); symlinks are never followed, and the ones pointing out of the root are
 *   noted. Only an abort through `signal` ends the walk early (it rejects).
 * - Whiteouts, opaque directories and replacements follow the OCI rules (see file-tree.ts), so a file deleted by
 *   a later layer yields nothing, and a file's results carry the last layer that wrote it.
 * - One extractor failing on one file is recorded and changes nothing else.
 */
import type { Readable } from 'node:stream';
import { decompressLayer, type Compression, type LayerCounters } from './decompress.js';
import { FileTree } from './file-tree.js';
import { normalizeEntryPath, symlinkEscapes, whiteoutOf } from './paths.js';
import { drain, tarEntries, type TarReadState } from './tar-entries.js';
import {
  DEFAULT_WALK_LIMITS,
  type EntryInfo,
  type ExtractResult,
  type Extractor,
  type FileSink,
  type LayerSource,
  type WalkLimits,
} from './types.js';

export type LayerStatus = 'ok' | 'partial' | 'failed';

/** A tar entry that was refused or is worth noting, with why. */
export interface EntryNote {
  path: string;
  reason: string;
}

export interface LayerReport {
  digest: string;
  mediaType?: string;
  compression?: Compression;
  status: LayerStatus;
  /** Why the layer is failed or partial (the first cause). */
  error?: string;
  compressedBytes: number;
  decompressedBytes: number;
  entries: number;
  /** Hostile entries that were skipped (at most `maxRecordedEntries`; `refusedCount` is exact). */
  refused: EntryNote[];
  refusedCount: number;
  /** Links that point out of the image root (not followed; at most `maxRecordedEntries`). */
  notes: EntryNote[];
  noteCount: number;
}

export interface ExtractorError {
  extractor: string;
  path: string;
  layer: string;
  message: string;
}

export interface ExtractorOutput {
  extractor: string;
  result: ExtractResult;
}

/** A file of the final image that produced results, and the layer that last wrote it. */
export interface FileFindings {
  path: string;
  layerDigest: string;
  layerIndex: number;
  outputs: ExtractorOutput[];
}

export interface WalkResult {
  files: FileFindings[];
  layers: LayerReport[];
  /** At most 1,000 are kept; `extractorErrorCount` is exact. */
  extractorErrors: ExtractorError[];
  extractorErrorCount: number;
}

export interface WalkOptions {
  extractors: readonly Extractor[];
  limits?: Partial<WalkLimits>;
  signal?: AbortSignal;
}

const MAX_EXTRACTOR_ERRORS = 1000;

interface Kept {
  layerDigest: string;
  size: number;
  mode: number;
  outputs: ExtractorOutput[];
}

const message = (e: unknown): string => (e instanceof Error ? e.message : String(e));
const hasContent = (r: ExtractResult): boolean => (r.packages?.length ?? 0) > 0 || r.os !== undefined;

/** Walks the layers (lowest first) and returns what the extractors found in the resulting file system. */
export async function walkLayers(layers: readonly LayerSource[], options: WalkOptions): Promise<WalkResult> {
  const limits: WalkLimits = { ...DEFAULT_WALK_LIMITS, ...options.limits };
  const tree = new FileTree<Kept>();
  const result: WalkResult = { files: [], layers: [], extractorErrors: [], extractorErrorCount: 0 };
  const recordError = (e: ExtractorError): void => {
    result.extractorErrorCount++;
    if (result.extractorErrors.length < MAX_EXTRACTOR_ERRORS) result.extractorErrors.push(e);
  };

  for (const [layerIndex, layer] of layers.entries()) {
    options.signal?.throwIfAborted();
    const report: LayerReport = {
      digest: layer.digest,
      ...(layer.mediaType !== undefined ? { mediaType: layer.mediaType } : {}),
      status: 'ok',
      compressedBytes: 0,
      decompressedBytes: 0,
      entries: 0,
      refused: [],
      refusedCount: 0,
      notes: [],
      noteCount: 0,
    };
    result.layers.push(report);
    const walker = new LayerWalk(layerIndex, layer.digest, report, tree, options, limits, recordError);
    await walker.run(layer);
  }

  result.files = tree.records().map((r) => ({
    path: r.path,
    layerDigest: r.value.layerDigest,
    layerIndex: r.layerIndex,
    outputs: r.value.outputs,
  }));
  return result;
}

class LayerWalk {
  private readonly counters: LayerCounters = { compressedBytes: 0, decompressedBytes: 0 };

  constructor(
    private readonly layerIndex: number,
    private readonly digest: string,
    private readonly report: LayerReport,
    private readonly tree: FileTree<Kept>,
    private readonly options: WalkOptions,
    private readonly limits: WalkLimits,
    private readonly recordError: (e: ExtractorError) => void,
  ) {}

  async run(layer: LayerSource): Promise<void> {
    let raw: Readable | undefined;
    const state: TarReadState = { sawEndMarker: false };
    try {
      raw = await layer.open(this.options.signal);
      const entries = tarEntries(decompressLayer(raw, this.limits, this.counters), state);
      for await (const entry of entries) {
        this.options.signal?.throwIfAborted();
        this.report.entries++;
        await this.entry(entry.header, entry.body);
      }
      if (!state.sawEndMarker) this.fail('tar stream ended without its end-of-archive marker (truncated?)');
    } catch (err) {
      if (this.options.signal?.aborted) throw err;
      this.fail(message(err));
    } finally {
      raw?.destroy();
      this.report.compressedBytes = this.counters.compressedBytes;
      this.report.decompressedBytes = this.counters.decompressedBytes;
      if (this.counters.compression) this.report.compression = this.counters.compression;
    }
  }

  private fail(reason: string): void {
    this.report.status = this.report.entries === 0 ? 'failed' : 'partial';
    this.report.error ??= reason;
  }

  private refuse(path: string, reason: string): void {
    this.report.refusedCount++;
    if (this.report.refused.length < this.limits.maxRecordedEntries) this.report.refused.push({ path, reason });
    if (this.report.status === 'ok') this.report.status = 'partial';
    this.report.error ??= `entry refused: ${reason}`;
  }

  private note(path: string, reason: string): void {
    this.report.noteCount++;
    if (this.report.notes.length < this.limits.maxRecordedEntries) this.report.notes.push({ path, reason });
  }

  private async entry(h: { name: string; type?: string | null; size?: number; mode?: number; linkname?: string | null }, body: AsyncIterable<Buffer>): Promise<void> {
    const shown = h.name.length > 200 ? `${h.name.slice(0, 200)}…` : h.name;
    if (Buffer.byteLength(h.name) > this.limits.maxPathBytes) {
      this.refuse(shown, `name longer than ${this.limits.maxPathBytes} bytes`);
      return drain(body);
    }
    const path = normalizeEntryPath(h.name);
    if (path === undefined || path === '/') {
      if (path === undefined) this.refuse(shown, 'path escapes the image root');
      return drain(body);
    }
    const wo = whiteoutOf(path);
    if (wo) {
      if (wo.kind === 'opaque') this.tree.opaque(wo.dir, this.layerIndex);
      else this.tree.whiteout(wo.path, this.layerIndex);
      return drain(body);
    }
    const type = h.type ?? 'file';
    this.tree.overwrite(path, this.layerIndex, type === 'directory');
    const mode = h.mode ?? 0;
    if (type === 'symlink') {
      if (symlinkEscapes(path, h.linkname ?? '')) this.note(path, `symlink to "${h.linkname ?? ''}" leaves the image root (not followed)`);
    } else if (type === 'link') {
      this.hardLink(path, h.linkname ?? '', mode);
    } else if (type === 'file' || type === 'contiguous-file') {
      return this.file({ path, size: h.size ?? 0, mode }, body);
    }
    return drain(body);
  }

  /** A hard link shares its target's content: the target's results are reused for the extractors that want the link's path too. */
  private hardLink(path: string, linkname: string, mode: number): void {
    const target = normalizeEntryPath(linkname);
    if (target === undefined) {
      this.refuse(path, `hard link to "${linkname.slice(0, 200)}" leaves the image root`);
      return;
    }
    const rec = this.tree.get(target);
    if (!rec) return;
    const info: EntryInfo = { path, size: rec.value.size, mode };
    const outputs = rec.value.outputs.filter((o) => this.options.extractors.find((x) => x.name === o.extractor)?.wants(info));
    if (outputs.length > 0) this.tree.set(path, this.layerIndex, { ...rec.value, layerDigest: this.digest, mode, outputs });
  }

  private async file(info: EntryInfo, body: AsyncIterable<Buffer>): Promise<void> {
    const sinks: Array<{ extractor: Extractor; sink: FileSink; open: boolean; failed?: true }> = [];
    for (const extractor of this.options.extractors) {
      try {
        if (extractor.wants(info)) sinks.push({ extractor, sink: extractor.open(info, this.limits), open: true });
      } catch (err) {
        this.extractorFailed(extractor, info.path, err);
      }
    }
    if (sinks.length === 0) return drain(body);
    let active = sinks.length;
    for await (const chunk of body) {
      if (active === 0) continue; // drain the rest
      for (const s of sinks) {
        if (!s.open) continue;
        try {
          if (!s.sink.write(chunk)) {
            s.open = false;
            active--;
          }
        } catch (err) {
          s.open = false;
          active--;
          s.failed = true;
          this.extractorFailed(s.extractor, info.path, err);
        }
      }
    }
    const outputs: ExtractorOutput[] = [];
    for (const s of sinks) {
      if (s.failed) continue;
      try {
        const { errors, ...r } = await s.sink.finish(s.open);
        for (const e of errors ?? []) this.extractorFailed(s.extractor, info.path, new Error(e));
        if (hasContent(r)) outputs.push({ extractor: s.extractor.name, result: r });
      } catch (err) {
        this.extractorFailed(s.extractor, info.path, err);
      }
    }
    if (outputs.length > 0) this.tree.set(info.path, this.layerIndex, { layerDigest: this.digest, size: info.size, mode: info.mode, outputs });
  }

  private extractorFailed(extractor: Extractor, path: string, err: unknown): void {
    this.recordError({ extractor: extractor.name, path, layer: this.digest, message: message(err) });
  }
}
