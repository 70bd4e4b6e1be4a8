/**
 * Lifecycle policies on repositories: store (validated), read, delete, and preview. The
 * preview runs the same pure evaluator (src/core/lifecycle) that the scheduled expiry will
 * run, over every image of the repository, and keeps the result for GetLifecyclePolicyPreview.
 */
import { randomUUID } from 'node:crypto';
// Resolves after the I/O callbacks already due (other requests) have run.
import { setImmediate as nextTurn } from 'node:timers/promises';
import { BerthError } from '../../core/errors.js';
import { decideLifecycleImages, evaluateLifecyclePolicy, parseLifecyclePolicy, type LifecycleImage, type LifecyclePolicy } from '../../core/lifecycle/index.js';
import type { MetadataStore } from '../../metadata/types.js';
import type { ImageService } from '../registry/image-service.js';
import type { RepositoryService } from '../repositories/repository-service.js';
import { decodePreview, encodePreview, previewResultsOf, type LifecyclePreview } from './preview.js';

export type { LifecyclePreview, PreviewResult, PreviewResults } from './preview.js';

/** Decoded previews kept per process (each about as large as its stored text). */
const DECODED_PREVIEWS_KEPT = 4;
/**
 * How long one node holds a repository's preview lease: a node that dies mid-preview frees it
 * after this (a preview of 100,000 images takes seconds).
 */
const PREVIEW_LEASE_MS = 10 * 60_000;

export class LifecycleService {
  private readonly decoded = new Map<string, { stamp: string; preview: LifecyclePreview }>();
  /** Repositories whose preview this process is computing (ECR: one in flight per repository). */
  private readonly previewing = new Set<string>();

  constructor(
    private readonly meta: MetadataStore,
    private readonly repositories: RepositoryService,
    private readonly images: ImageService,
    private readonly now: () => number,
  ) {}

  async put(repository: string, text: string): Promise<void> {
    refuseTransitions(parseLifecyclePolicy(text));
    await this.repositories.updateSettings(repository, (s) => ({ ...s, lifecyclePolicyText: text }));
  }

  async get(repository: string): Promise<{ text: string; lastEvaluatedAt: number | null }> {
    const row = await this.repositories.get(repository);
    if (row.settings.lifecyclePolicyText === undefined) throw notFound(repository);
    const last = await this.meta.registry.get(`lifecycle-evaluated/${repository}`);
    return { text: row.settings.lifecyclePolicyText, lastEvaluatedAt: last === null ? null : Number(last) };
  }

  async delete(repository: string): Promise<{ text: string; lastEvaluatedAt: number | null }> {
    const current = await this.get(repository);
    await this.repositories.updateSettings(repository, (s) => {
      const { lifecyclePolicyText: _drop, ...rest } = s;
      return rest;
    });
    return current;
  }

  /**
   * Evaluates `text` (or the stored policy) over the repository now, and keeps the result. One
   * at a time per repository, on every node: the preview yields while it runs (see below), and a
   * second request meanwhile is refused, as ECR refuses one while a preview is in progress.
   */
  async preview(repository: string, text?: string): Promise<LifecyclePreview> {
    // Checked and marked before any await, so two calls cannot both pass.
    if (this.previewing.has(repository)) throw previewInProgress(repository);
    this.previewing.add(repository);
    try {
      // Across processes and nodes: a lease in the schedules table, taken by compare-and-set
      // (claimDue moves its expiry on for exactly one caller) and given back by making it due.
      const lease = `lifecycle-preview:${repository}`;
      await this.meta.schedules.ensure(lease, PREVIEW_LEASE_MS, 0);
      if (!(await this.meta.schedules.claimDue(lease, this.now()))) throw previewInProgress(repository);
      try {
        return await this.computePreview(repository, text);
      } finally {
        await this.meta.schedules.trigger(lease);
      }
    } finally {
      this.previewing.delete(repository);
    }
  }

  private async computePreview(repository: string, text: string | undefined): Promise<LifecyclePreview> {
    const policyText = text ?? (await this.get(repository)).text;
    const policy = parseLifecyclePolicy(policyText);
    refuseTransitions(policy);
    const repo = await this.repositories.get(repository);
    // One snapshot for reading, deciding and counting: the freed bytes are those of exactly
    // the images decided on, however the repository changes meanwhile.
    const preview = await this.meta.snapshot(async (view): Promise<LifecyclePreview> => {
      const images: LifecycleImage[] = (await view.manifests.inventory(repo.id)).manifests;
      const now = this.now();
      // Each step runs whole on the event loop's thread (0.05-0.15 s at 100,000 images):
      // other requests are answered between them.
      const decided = decideLifecycleImages(policy, images, now);
      await nextTurn();
      const { results, expiring } = previewResultsOf(decided);
      await nextTurn();
      return {
        policyText,
        status: 'COMPLETE',
        evaluatedAt: now,
        results,
        // What summarizeLifecycleDecisions counts as expiring, without its per-image size table.
        expiringCount: expiring.length,
        bytesFreed: await view.manifests.exclusiveBytes(repo.id, expiring),
      };
    });
    // The stamp names this result: GetLifecyclePolicyPreview pages reuse its decoded form while the stamp is unchanged.
    const stamp = `${preview.evaluatedAt}-${randomUUID()}`;
    await nextTurn();
    const encoded = encodePreview(preview);
    await nextTurn();
    await this.meta.tx(async (tx) => {
      await tx.registry.put(`lifecycle-preview/${repository}`, encoded);
      await tx.registry.put(`lifecycle-preview-stamp/${repository}`, stamp);
    });
    this.remember(repository, stamp, preview);
    return preview;
  }

  /**
   * Applies the stored policy now: expires what the evaluator decides (indexes before their
   * children, so nothing is refused for being referenced), records each expiry in the audit
   * log and the evaluation time. Returns the digests expired.
   */
  async apply(repository: string, actor = 'lifecycle'): Promise<{ expired: string[]; bytes: number }> {
    const { text } = await this.get(repository);
    const policy = parseLifecyclePolicy(text);
    const images = await this.inventory(repository);
    const now = this.now();
    const byDigest = new Map(images.map((i) => [i.digest, i]));
    const decisions = new Map(evaluateLifecyclePolicy(policy, images, now).filter((d) => d.action === 'expire').map((d) => [d.digest, d]));
    // Many expiries per transaction, each with its audit event (the tags it had when it went).
    const { deleted } = await this.images.expire(repository, [...decisions.keys()], (digest, tags) => {
      const d = decisions.get(digest)!;
      return { at: this.now(), actor, action: 'lifecycle.expire', repository, detail: { digest, tags, rulePriority: d.rulePriority, ...(d.via ? { via: d.via } : {}) } };
    });
    await this.meta.registry.put(`lifecycle-evaluated/${repository}`, String(now));
    return { expired: deleted.map((d) => d.digest), bytes: deleted.reduce((n, d) => n + (byDigest.get(d.digest)?.sizeBytes ?? 0), 0) };
  }

  /** Applies every repository's lifecycle policy (the scheduled run). */
  async applyAll(): Promise<{ repositories: number; expired: number }> {
    let last: string | undefined;
    let repositories = 0;
    let expired = 0;
    for (;;) {
      const page = await this.meta.repositories.listRows({ limit: 500, ...(last !== undefined ? { last } : {}) });
      for (const row of page) {
        if (row.settings.lifecyclePolicyText === undefined) continue;
        repositories++;
        expired += (await this.apply(row.name)).expired.length;
      }
      if (page.length < 500) return { repositories, expired };
      last = page[page.length - 1]!.name;
    }
  }

  async getPreview(repository: string): Promise<LifecyclePreview> {
    await this.repositories.get(repository);
    // A preview of 100,000 images is about 10 MB stored; reading and parsing it took 0.6-0.9 s
    // per page. The stamp (a few bytes) tells whether the decoded copy here is still the latest,
    // whichever node made it.
    const stamp = await this.meta.registry.get(`lifecycle-preview-stamp/${repository}`);
    const cached = this.decoded.get(repository);
    if (stamp !== null && cached?.stamp === stamp) return cached.preview;
    const v = await this.meta.registry.get(`lifecycle-preview/${repository}`);
    if (!v) throw new BerthError('LIFECYCLE_PREVIEW_NOT_FOUND', `There is no lifecycle policy preview for the repository with name '${repository}'`);
    const preview = decodePreview(v);
    if (stamp !== null) this.remember(repository, stamp, preview);
    return preview;
  }

  /** Keeps the decoded previews of the last few repositories. */
  private remember(repository: string, stamp: string, preview: LifecyclePreview): void {
    this.decoded.delete(repository);
    this.decoded.set(repository, { stamp, preview });
    if (this.decoded.size > DECODED_PREVIEWS_KEPT) this.decoded.delete(this.decoded.keys().next().value as string);
  }

  /** Every image of the repository as the evaluator sees it (read from one snapshot). */
  async inventory(repository: string): Promise<LifecycleImage[]> {
    const repo = await this.repositories.get(repository);
    // Inventory manifests are lifecycle images as they are (no copy of 100,000 objects).
    return this.meta.snapshot(async (view) => (await view.manifests.inventory(repo.id)).manifests);
  }
}


/** The archive storage class is not implemented, so transition rules are refused up front. */
function refuseTransitions(policy: LifecyclePolicy): void {
  const rule = policy.rules.find((r) => r.action.type === 'transition' || r.selection.storageClass === 'archive');
  if (rule) {
    throw new BerthError(
      'INVALID_PARAMETER',
      `Invalid parameter at 'LifecyclePolicyText' failed to satisfy constraint: 'rule ${rule.rulePriority}: Berth does not implement the archive storage class; use expire rules'`,
    );
  }
}

function notFound(repository: string): BerthError {
  return new BerthError('LIFECYCLE_POLICY_NOT_FOUND', `Lifecycle policy does not exist for the repository with name '${repository}'`);
}

function previewInProgress(repository: string): BerthError {
  return new BerthError('LIFECYCLE_PREVIEW_IN_PROGRESS', `The previous lifecycle policy preview request has not completed for the repository with name '${repository}'. Please try again later.`);
}
