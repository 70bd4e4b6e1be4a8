/**
 * Imports OSV records into the vulnerability database: from a directory, a zip or an
 * HTTP(S) URL of a zip (see sources.ts). Each record is validated by core/vuln's
 * `parseOsvRecord`; an invalid one is counted and reported with its file and reason,
 * and the import goes on. Records are written in batches, one transaction each, so a
 * large feed neither holds one long write lock nor pays one commit per record; a stored
 * record is replaced only by one with a newer `modified`.
 *
 * `update(sources)` is the scheduled form: each URL is fetched conditionally (ETag /
 * Last-Modified remembered in the registry settings), and one failing source does not
 * stop the others.
 */
import { mkdtemp, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseOsvRecord, type OsvRecord } from '../../core/vuln/osv-schema.js';
import type { MetadataStore } from '../../metadata/types.js';
import { directoryRecords, download, fileRecords, looksLikeZip, zipRecords, type RawRecord } from './sources.js';

export interface ImportSummary {
  source: string;
  /** Records read (valid or not). */
  records: number;
  imported: number;
  updated: number;
  /** Valid records whose stored copy is as new. */
  unchanged: number;
  invalid: number;
  /** Valid records that are withdrawn (counted in imported/updated/unchanged too; they never match). */
  withdrawn: number;
  /** The generation before the import; what it changed carries generations above it. */
  fromGeneration: number;
  /** The generation after the import's last change (`fromGeneration` when nothing changed). */
  generation: number;
  /** The first invalid records (at most 100), with the reason. */
  invalidRecords: { file: string; id?: string; reason: string }[];
  /** A conditional download found the source unchanged; nothing was read. */
  notModified?: boolean;
  durationMs: number;
}

export interface ImporterOptions {
  now?: () => number;
  /** Records per transaction; default 500. */
  batchSize?: number;
  /** Largest single record file or zip entry; default 32 MiB. */
  maxRecordBytes?: number;
  /** Largest download; default 4 GiB. */
  maxDownloadBytes?: number;
}

const MAX_REPORTED_INVALID = 100;
const SOURCE_STATE_PREFIX = 'vulndb/source/';

export class VulnDbImporter {
  private readonly now: () => number;
  private readonly batchSize: number;
  private readonly maxRecordBytes: number;
  private readonly maxDownloadBytes: number;

  constructor(
    private readonly meta: MetadataStore,
    o: ImporterOptions = {},
  ) {
    this.now = o.now ?? (() => Date.now());
    this.batchSize = o.batchSize ?? 500;
    this.maxRecordBytes = o.maxRecordBytes ?? 32 * 1024 * 1024;
    this.maxDownloadBytes = o.maxDownloadBytes ?? 4 * 1024 ** 3;
  }

  /** Imports a directory, a zip, a single record file, or an http(s) URL of a zip. */
  async import(source: string, o: { signal?: AbortSignal; conditional?: boolean } = {}): Promise<ImportSummary> {
    if (/^https?:\/\//i.test(source)) return this.importUrl(source, o);
    const info = await stat(source);
    if (info.isDirectory()) return this.importRecords(source, directoryRecords(source, this.maxRecordBytes), o.signal);
    if (await looksLikeZip(source)) return this.importRecords(source, zipRecords(source, this.maxRecordBytes), o.signal);
    return this.importRecords(source, fileRecords(source, this.maxRecordBytes), o.signal);
  }

  /**
   * The scheduled update: imports every source in turn (URLs conditionally). Returns one
   * result per source; throws only when every source failed.
   */
  async update(sources: readonly string[], o: { signal?: AbortSignal } = {}): Promise<({ source: string } & ({ summary: ImportSummary } | { error: string }))[]> {
    const results: ({ source: string } & ({ summary: ImportSummary } | { error: string }))[] = [];
    for (const source of sources) {
      try {
        results.push({ source, summary: await this.import(source, { ...o, conditional: true }) });
      } catch (err) {
        results.push({ source, error: (err as Error).message });
      }
    }
    if (results.length > 0 && results.every((r) => 'error' in r)) {
      throw new Error(`every vulnerability source failed: ${results.map((r) => `${r.source}: ${'error' in r ? r.error : ''}`).join('; ')}`);
    }
    return results;
  }

  private async importUrl(url: string, o: { signal?: AbortSignal; conditional?: boolean }): Promise<ImportSummary> {
    const stateKey = `${SOURCE_STATE_PREFIX}${url}`;
    const previous = o.conditional ? parseState(await this.meta.registry.get(stateKey)) : {};
    const dir = await mkdtemp(join(tmpdir(), 'berth-vulndb-'));
    try {
      const file = join(dir, 'download.zip');
      const started = this.now();
      const got = await download(url, file, { maxBytes: this.maxDownloadBytes, ...previous, ...(o.signal ? { signal: o.signal } : {}) });
      if (got.notModified) {
        const generation = (await this.meta.vulndb.status()).generation;
        const summary: ImportSummary = { ...emptySummary(url, generation), notModified: true, durationMs: this.now() - started };
        await this.meta.vulndb.recordImport({ source: url, startedAt: started, finishedAt: this.now(), fromGeneration: generation, toGeneration: generation, summary });
        return summary;
      }
      if (!(await looksLikeZip(file))) throw new Error(`GET ${url}: the response is not a zip file`);
      const summary = await this.importRecords(url, zipRecords(file, this.maxRecordBytes), o.signal);
      // Remembered only after a complete import, so a failed one is fetched again in full.
      if (got.etag || got.lastModified) {
        await this.meta.registry.put(stateKey, JSON.stringify({ ...(got.etag ? { etag: got.etag } : {}), ...(got.lastModified ? { lastModified: got.lastModified } : {}) }));
      }
      return summary;
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  }

  private async importRecords(source: string, raw: AsyncIterable<RawRecord>, signal?: AbortSignal): Promise<ImportSummary> {
    const started = this.now();
    const fromGeneration = (await this.meta.vulndb.status()).generation;
    const s = emptySummary(source, fromGeneration);
    const invalid = (file: string, reason: string, id?: string): void => {
      s.invalid++;
      if (s.invalidRecords.length < MAX_REPORTED_INVALID) s.invalidRecords.push(id === undefined ? { file, reason } : { file, id, reason });
    };
    let batch: OsvRecord[] = [];
    const flush = async (): Promise<void> => {
      if (batch.length === 0) return;
      const records = batch;
      batch = [];
      const { outcomes, generation } = await this.meta.tx((tx) => tx.vulndb.upsert(records, this.now()));
      for (const o of outcomes) s[o]++;
      s.generation = Math.max(s.generation, generation);
    };
    for await (const r of raw) {
      signal?.throwIfAborted();
      s.records++;
      if ('error' in r) {
        invalid(r.name, r.error);
        continue;
      }
      let json: unknown;
      try {
        json = JSON.parse(r.data.toString('utf8').replace(/^\uFEFF/, ''));
      } catch (err) {
        invalid(r.name, `not JSON: ${(err as Error).message}`);
        continue;
      }
      try {
        const rec = parseOsvRecord(json);
        if (rec.withdrawn !== undefined) s.withdrawn++;
        batch.push(rec);
      } catch (err) {
        const id = (json as { id?: unknown } | null)?.id;
        invalid(r.name, (err as Error).message, typeof id === 'string' ? id : undefined);
        continue;
      }
      if (batch.length >= this.batchSize) await flush();
    }
    await flush();
    s.durationMs = this.now() - started;
    await this.meta.vulndb.recordImport({ source, startedAt: started, finishedAt: this.now(), fromGeneration, toGeneration: s.generation, summary: s });
    return s;
  }
}

function emptySummary(source: string, generation: number): ImportSummary {
  return { source, records: 0, imported: 0, updated: 0, unchanged: 0, invalid: 0, withdrawn: 0, fromGeneration: generation, generation, invalidRecords: [], durationMs: 0 };
}

function parseState(v: string | null): { etag?: string; lastModified?: string } {
  if (!v) return {};
  try {
    const o = JSON.parse(v) as { etag?: unknown; lastModified?: unknown };
    return { ...(typeof o.etag === 'string' ? { etag: o.etag } : {}), ...(typeof o.lastModified === 'string' ? { lastModified: o.lastModified } : {}) };
  } catch {
    return {};
  }
}
