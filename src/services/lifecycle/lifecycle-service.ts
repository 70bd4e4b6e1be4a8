/**
 * Lifecycle policies on repositories: store (validated), read, delete, and preview. The
 * preview runs the same pure evaluator (src/core/lifecycle) that the scheduled expiry will
 * run, over every image of the repository, and keeps the result for GetLifecyclePolicyPreview.
 */
import { BerthError } from '../../core/errors.js';
import { MediaType } from '../../core/media-types.js';
import { evaluateLifecyclePolicy, parseLifecyclePolicy, summarizeLifecycleDecisions, type LifecycleDecision, type LifecycleImage } from '../../core/lifecycle/index.js';
import type { MetadataStore } from '../../metadata/types.js';
import type { ImageService } from '../registry/image-service.js';
import type { RepositoryService } from '../repositories/repository-service.js';

export interface PreviewResult {
  digest: string;
  tags: string[];
  pushedAt: number;
  rulePriority: number;
  action: 'expire' | 'transition';
  sizeBytes: number;
}

export interface LifecyclePreview {
  policyText: string;
  status: 'COMPLETE';
  evaluatedAt: number;
  results: PreviewResult[];
  expiringCount: number;
  bytesFreed: number;
}

export class LifecycleService {
  constructor(
    private readonly meta: MetadataStore,
    private readonly repositories: RepositoryService,
    private readonly images: ImageService,
    private readonly now: () => number,
  ) {}

  async put(repository: string, text: string): Promise<void> {
    parseLifecyclePolicy(text);
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

  /** Evaluates `text` (or the stored policy) over the repository now, and keeps the result. */
  async preview(repository: string, text?: string): Promise<LifecyclePreview> {
    const policyText = text ?? (await this.get(repository)).text;
    const policy = parseLifecyclePolicy(policyText);
    const images = await this.inventory(repository);
    const now = this.now();
    const decisions: LifecycleDecision[] = evaluateLifecyclePolicy(policy, images, now);
    const byDigest = new Map(images.map((i) => [i.digest, i]));
    const summary = summarizeLifecycleDecisions(decisions, images);
    const preview: LifecyclePreview = {
      policyText,
      status: 'COMPLETE',
      evaluatedAt: now,
      results: decisions.map((d) => {
        const img = byDigest.get(d.digest)!;
        return { digest: d.digest, tags: [...img.tags], pushedAt: img.pushedAt, rulePriority: d.rulePriority, action: d.action, sizeBytes: img.sizeBytes };
      }),
      expiringCount: summary.expiringImageCount,
      bytesFreed: summary.bytesFreed,
    };
    await this.meta.registry.put(`lifecycle-preview/${repository}`, JSON.stringify(preview));
    return preview;
  }

  async getPreview(repository: string): Promise<LifecyclePreview> {
    await this.repositories.get(repository);
    const v = await this.meta.registry.get(`lifecycle-preview/${repository}`);
    if (!v) throw new BerthError('LIFECYCLE_PREVIEW_NOT_FOUND', `There is no lifecycle policy preview for the repository with name '${repository}'`);
    return JSON.parse(v) as LifecyclePreview;
  }

  /** Every image of the repository as the evaluator sees it. */
  async inventory(repository: string): Promise<LifecycleImage[]> {
    const repo = await this.repositories.get(repository);
    const parents = new Map<string, string[]>();
    for (const link of await this.meta.manifests.childLinks(repo.id)) parents.set(link.child, [...(parents.get(link.child) ?? []), link.parent]);
    const out: LifecycleImage[] = [];
    let after: string | undefined;
    for (;;) {
      const page = await this.images.describe(repository, { limit: 1000, ...(after !== undefined ? { after } : {}) });
      for (const img of page.images) {
        out.push({
          digest: img.digest,
          tags: img.tags,
          pushedAt: img.pushedAt,
          lastPulledAt: img.lastPulledAt,
          sizeBytes: img.sizeBytes,
          isIndex: img.mediaType === MediaType.OciIndex || img.mediaType === MediaType.DockerManifestList,
          referrerOf: img.subjectDigest,
          childOf: parents.get(img.digest) ?? [],
        });
      }
      if (!page.next) return out;
      after = page.next;
    }
  }
}

function notFound(repository: string): BerthError {
  return new BerthError('LIFECYCLE_POLICY_NOT_FOUND', `Lifecycle policy does not exist for the repository with name '${repository}'`);
}
