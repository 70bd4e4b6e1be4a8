/**
 * Image scanning as the APIs see it: scan on push (a durable `scan` job enqueued after the
 * manifest is committed), StartImageScan, findings and summaries per repository image,
 * SBOMs, and the re-match of every indexed image when the vulnerability database changes
 * (a `scan-rematch` job, enqueued when a check finds the database ahead of the stored matches).
 *
 * Scan status per image and repository (ECR's imageScanStatus): PENDING when the job is
 * queued, IN_PROGRESS while it runs (its description shows how much of the layers was read),
 * then COMPLETE, FAILED or UNSUPPORTED_IMAGE (see indexer.ts for what each means). A job that
 * fails for another reason (database down) is retried with backoff and marked FAILED when it
 * runs out of attempts.
 */
import { randomUUID } from 'node:crypto';
import { BerthError } from '../../core/errors.js';
import { parseDigest } from '../../core/digest.js';
import { isValidTag, validateRepositoryName } from '../../core/names.js';
import type { Severity } from '../../core/vuln/severity.js';
import type { JobRow } from '../../metadata/jobs-types.js';
import type { ImageScanRow, ScanStatus } from '../../metadata/scans-types.js';
import type { MetadataStore, RepositoryRow } from '../../metadata/types.js';
import type { RegistryConfig } from '../registry-config/registry-config.js';
import { describeFindings, pageOf, type FindingDetail } from './findings.js';
import { ScanIndexer, type StoredInventory } from './indexer.js';
import { Rematcher } from './rematch.js';
import { SBOM_MEDIA_TYPES, toCycloneDx, toSpdx, type SbomFormat } from './sbom.js';
import { isImageConfig, resolveTargets } from './targets.js';
import { scanFrequency, scansOnPush } from './triggers.js';

export const SCAN_JOB = 'scan';
export const REMATCH_JOB = 'scan-rematch';

export interface ImageRef {
  digest?: string;
  tag?: string;
}

export interface ScanSummary {
  status: ScanStatus;
  description: string | null;
  completedAt: number | null;
  sourceUpdatedAt: number | null;
  counts?: Partial<Record<Severity, number>>;
}

export interface FindingsPage {
  digest: string;
  summary: ScanSummary;
  /** Absent while the scan has no results (PENDING, IN_PROGRESS, UNSUPPORTED_IMAGE). */
  findings?: FindingDetail[];
  indexedAt?: number;
  next?: string;
}

export interface ScanServiceOptions {
  now: () => number;
  log: { info(o: object, m: string): void; warn(o: object, m: string): void; error(o: object, m: string): void };
  /** StartImageScan on an image whose scan completed less than this long ago is LIMIT_EXCEEDED. */
  rescanIntervalMs: number;
  tool: { name: string; version: string };
}

const PROGRESS_EVERY_MS = 1000;
const PRUNE_EVERY_MS = 3_600_000;
const RESULTS: readonly ScanStatus[] = ['COMPLETE', 'FAILED'];

const mb = (n: number): string => `${(n / 1e6).toFixed(1)} MB`;

export class ScanService {
  readonly indexer: ScanIndexer;
  readonly rematcher: Rematcher;
  /** Scans running on this node, for progress updates. */
  private readonly active = new Map<string, { row: ImageScanRow; lastWrite: number }>();
  private lastPrune = 0;

  constructor(
    private readonly meta: MetadataStore,
    private readonly registryConfig: Pick<RegistryConfig, 'scanning'>,
    blobs: ConstructorParameters<typeof ScanIndexer>[1],
    private readonly o: ScanServiceOptions,
  ) {
    this.indexer = new ScanIndexer(meta, blobs, { now: o.now, onProgress: (r, d, done, total) => this.progress(r, d, done, total) });
    this.rematcher = new Rematcher(meta, { now: o.now, log: o.log });
  }

  /**
   * The manifest-push hook, called after the push committed: enqueues a scan when the
   * repository's configuration says so. Never throws (a push never fails because of scanning).
   */
  async afterPush(e: { repository: RepositoryRow; digest: string; inserted: boolean; kind: 'image' | 'index'; artifactType: string | null }): Promise<void> {
    // Artifacts (signatures, SBOMs, charts: a config that is not an image config) are not scanned.
    if (!e.inserted || (e.kind === 'image' && !isImageConfig(e.artifactType))) return;
    try {
      // The registry rules are read only when the repository's own flag does not already decide.
      const frequency = e.repository.settings.scanOnPush ? 'SCAN_ON_PUSH' : scanFrequency(e.repository.name, e.repository.settings, await this.registryConfig.scanning());
      if (!scansOnPush(frequency)) return;
      const now = this.o.now();
      await this.meta.tx(async (tx) => {
        await tx.scans.putStatus({ repositoryId: e.repository.id, digest: e.digest, status: 'PENDING', description: null, trigger: 'push', requestedAt: now, startedAt: null, completedAt: null });
        await tx.jobs.enqueue({ kind: SCAN_JOB, key: `scan:${e.repository.name}@${e.digest}`, payload: { repositoryId: e.repository.id, repository: e.repository.name, digest: e.digest } }, now);
      });
    } catch (err) {
      this.o.log.error({ err, repository: e.repository.name, digest: e.digest }, 'could not enqueue the scan of a pushed image');
    }
  }

  /** StartImageScan: queues a scan unless one is queued or running, or one completed within the rescan interval. */
  async start(repository: string, ref: ImageRef): Promise<{ digest: string; tag?: string; status: ScanStatus; description: string | null }> {
    const { repo, digest, content } = await this.resolve(repository, ref);
    const targets = await resolveTargets(digest, content, async (d) => (await this.meta.manifests.get(repo.id, d))?.content ?? null);
    if ('unsupported' in targets) throw new BerthError('UNSUPPORTED', `The image is not supported for scanning: ${targets.unsupported}`);
    const current = (await this.meta.scans.statuses(repo.id, [digest])).get(digest);
    const tag = ref.tag !== undefined ? { tag: ref.tag } : {};
    if (current && (current.status === 'PENDING' || current.status === 'IN_PROGRESS')) return { digest, ...tag, status: current.status, description: current.description };
    const now = this.o.now();
    if (current?.status === 'COMPLETE' && current.completedAt !== null && now - current.completedAt < this.o.rescanIntervalMs) {
      throw new BerthError('LIMIT_EXCEEDED', `The scan quota per image has been exceeded: ${digest} was scanned at ${new Date(current.completedAt).toISOString()}; wait and try again.`);
    }
    const row: ImageScanRow = { repositoryId: repo.id, digest, status: 'PENDING', description: null, trigger: 'manual', requestedAt: now, startedAt: null, completedAt: null };
    await this.meta.tx(async (tx) => {
      await tx.scans.putStatus(row);
      await tx.jobs.enqueue({ kind: SCAN_JOB, key: `scan:${repository}@${digest}`, payload: { repositoryId: repo.id, repository, digest } }, now);
    });
    return { digest, ...tag, status: 'PENDING', description: null };
  }

  /** DescribeImageScanFindings: the status, and once there are results, one page of findings. */
  async findings(repository: string, ref: ImageRef, page: { after?: string; limit: number }): Promise<FindingsPage> {
    const { repo, digest } = await this.resolve(repository, ref);
    // Counted below from the findings this answer pages through, so not counted here.
    const summary = (await this.summaries(repo.id, [digest], { counts: false })).get(digest);
    if (!summary) {
      throw new BerthError('SCAN_NOT_FOUND', `Image scan does not exist for the image with '{imageDigest:'${digest}', imageTag:'${ref.tag ?? 'null'}'}' in the repository with name '${repository}'`);
    }
    if (!RESULTS.includes(summary.status)) return { digest, summary };
    const stored = await this.meta.scans.getInventory(digest);
    if (!stored) return { digest, summary };
    const inventory = stored.inventory as StoredInventory;
    const all = await this.meta.scans.findings(digest);
    const { rows, next } = pageOf(all, page.after, page.limit);
    const findings = await describeFindings(this.meta.vulndb, rows, inventory.packages);
    // The counts of the findings this answer pages through (the summary was read before them,
    // and a re-match committed in between made the two disagree: 85 counted, 231 listed).
    const counts: Partial<Record<Severity, number>> = {};
    for (const f of all) counts[f.severity] = (counts[f.severity] ?? 0) + 1;
    return { digest, summary: { ...summary, counts }, findings, indexedAt: stored.indexedAt, ...(next !== undefined ? { next } : {}) };
  }

  /** Scan summaries of images of one repository (DescribeImages). */
  async summaries(repositoryId: number, digests: readonly string[], o: { counts?: boolean } = {}): Promise<Map<string, ScanSummary>> {
    const statuses = await this.meta.scans.statuses(repositoryId, digests);
    const done = [...statuses.values()].filter((s) => RESULTS.includes(s.status)).map((s) => s.digest);
    const [inventories, rematch] = done.length > 0 ? await Promise.all([this.meta.scans.summaries(done, o), this.meta.scans.rematchState()]) : [new Map(), null];
    const out = new Map<string, ScanSummary>();
    for (const s of statuses.values()) {
      const inv = inventories.get(s.digest);
      // A re-match after the image was indexed brought its matches up to that database state.
      const rematched = rematch?.at != null && inv && rematch.at >= inv.indexedAt ? rematch.sourceUpdatedAt : null;
      const source = Math.max(inv?.sourceUpdatedAt ?? 0, rematched ?? 0);
      out.set(s.digest, {
        status: s.status,
        description: s.description,
        completedAt: s.completedAt,
        sourceUpdatedAt: source > 0 ? source : null,
        ...(inv ? { counts: inv.counts } : {}),
      });
    }
    return out;
  }

  /** The image's inventory as an SBOM document (the image must have been scanned). */
  async sbom(repository: string, ref: ImageRef, format: SbomFormat, registry?: string): Promise<{ digest: string; mediaType: string; document: Record<string, unknown> }> {
    const { repo, digest } = await this.resolve(repository, ref);
    const status = (await this.meta.scans.statuses(repo.id, [digest])).get(digest);
    const stored = status && RESULTS.includes(status.status) ? await this.meta.scans.getInventory(digest) : null;
    if (!stored) throw new BerthError('SCAN_NOT_FOUND', `image ${digest} in ${repository} has not been scanned yet; start a scan first (berth scan, or StartImageScan)`);
    const input = {
      repository,
      digest,
      tags: await this.meta.tags.of(repo.id, digest),
      ...(registry ? { registry } : {}),
      inventory: stored.inventory as StoredInventory,
      tool: this.o.tool,
      created: new Date(this.o.now()),
      uuid: randomUUID(),
    };
    return { digest, mediaType: SBOM_MEDIA_TYPES[format], document: format === 'spdx' ? toSpdx(input) : toCycloneDx(input) };
  }

  /** The `scan` job: indexes the image and records the outcome. */
  async runScanJob(job: JobRow, signal: AbortSignal): Promise<void> {
    const p = job.payload as { repositoryId: number; repository: string; digest: string };
    const key = `${p.repositoryId}@${p.digest}`;
    const before = (await this.meta.scans.statuses(p.repositoryId, [p.digest])).get(p.digest);
    if (!(await this.meta.manifests.get(p.repositoryId, p.digest))) return; // deleted since: nothing to scan
    const started = this.o.now();
    const row: ImageScanRow = {
      repositoryId: p.repositoryId,
      digest: p.digest,
      status: 'IN_PROGRESS',
      description: 'Reading the image',
      trigger: before?.trigger ?? 'push',
      requestedAt: before?.requestedAt ?? started,
      startedAt: started,
      completedAt: null,
    };
    await this.meta.scans.putStatus(row);
    this.active.set(key, { row, lastWrite: started });
    try {
      const out = await this.indexer.index(p.repositoryId, p.digest, signal);
      await this.meta.scans.putStatus({ ...row, status: out.status, description: out.description, completedAt: this.o.now() });
      this.o.log.info({ repository: p.repository, digest: p.digest, status: out.status, ms: this.o.now() - started }, 'image scanned');
    } catch (err) {
      if (signal.aborted || !(await this.meta.manifests.get(p.repositoryId, p.digest).catch(() => null))) throw err;
      const last = job.attempts >= job.maxAttempts;
      const message = err instanceof Error ? err.message : String(err);
      await this.meta.scans
        .putStatus({ ...row, status: last ? 'FAILED' : 'PENDING', description: last ? `The scan failed: ${message}` : `Retrying after an error: ${message}`, completedAt: last ? this.o.now() : null })
        .catch(() => undefined);
      throw err;
    } finally {
      this.active.delete(key);
    }
  }

  /** The `scan-rematch` job. */
  async runRematchJob(_job: JobRow, signal: AbortSignal): Promise<void> {
    await this.rematcher.run(signal);
    if (this.o.now() - this.lastPrune >= PRUNE_EVERY_MS) {
      this.lastPrune = this.o.now();
      const pruned = await this.meta.tx((tx) => tx.scans.pruneOrphans());
      if (pruned.inventories > 0) this.o.log.info({ pruned }, 'removed the scan data of deleted images');
    }
  }

  /** Enqueues a re-match when the database is ahead of some stored matches (cheap; every node may call it). */
  async checkRematch(): Promise<boolean> {
    if (!(await this.rematcher.due())) return false;
    await this.enqueueRematch();
    return true;
  }

  async enqueueRematch(): Promise<void> {
    await this.meta.jobs.enqueue({ kind: REMATCH_JOB, key: REMATCH_JOB, maxAttempts: 10 }, this.o.now());
  }

  private progress(repositoryId: number, digest: string, done: number, total: number): void {
    const a = this.active.get(`${repositoryId}@${digest}`);
    const now = this.o.now();
    if (!a || (now - a.lastWrite < PROGRESS_EVERY_MS && done < total)) return;
    a.lastWrite = now;
    const pct = total > 0 ? Math.min(100, Math.floor((done / total) * 100)) : 100;
    const row = { ...a.row, description: `Reading layers: ${pct}% (${mb(done)} of ${mb(total)})` };
    this.meta.scans.transitionStatus(row, ['IN_PROGRESS']).catch(() => undefined);
  }

  private async resolve(repository: string, ref: ImageRef): Promise<{ repo: RepositoryRow; digest: string; content: Buffer }> {
    validateRepositoryName(repository);
    const repo = await this.meta.repositories.get(repository);
    if (!repo) throw new BerthError('REPOSITORY_NOT_FOUND', `The repository with name '${repository}' does not exist in the registry`);
    const notFound = (): BerthError =>
      new BerthError('MANIFEST_NOT_FOUND', `The image with imageId {imageDigest:'${ref.digest ?? 'null'}', imageTag:'${ref.tag ?? 'null'}'} does not exist within the repository with name '${repository}'`);
    if (ref.digest === undefined && ref.tag === undefined) throw new BerthError('INVALID_PARAMETER', 'imageId needs an imageDigest or an imageTag');
    let digest = ref.digest;
    if (digest !== undefined) parseDigest(digest);
    if (ref.tag !== undefined) {
      if (!isValidTag(ref.tag)) throw new BerthError('INVALID_PARAMETER', `invalid image tag '${ref.tag}'`);
      const tagged = await this.meta.tags.digestOf(repo.id, ref.tag);
      if (tagged === null || (digest !== undefined && digest !== tagged)) throw notFound();
      digest = tagged;
    }
    const row = await this.meta.manifests.get(repo.id, digest!);
    if (!row) throw notFound();
    return { repo, digest: row.digest, content: row.content };
  }
}
