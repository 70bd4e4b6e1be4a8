import { previewResultAt, type PreviewResult } from '../../../services/lifecycle/preview.js';
import { checkRegistryId, type EcrHandlers } from '../context.js';
import type { LifecyclePolicyPreviewResult } from '../generated/ecr-model.js';
import { nextToken, readNextToken } from '../pagination.js';

function previewResult(r: PreviewResult): LifecyclePolicyPreviewResult {
  return {
    ...(r.tags.length > 0 ? { imageTags: [...r.tags] } : {}),
    imageDigest: r.digest,
    imagePushedAt: new Date(r.pushedAt),
    action: r.action === 'expire' ? { type: 'EXPIRE' } : { type: 'TRANSITION', targetStorageClass: 'ARCHIVE' },
    appliedRulePriority: r.rulePriority,
    storageClass: 'STANDARD',
  };
}

/** Lifecycle policies and their preview (the scheduled expiry itself runs as a job). */
export const lifecycleHandlers: EcrHandlers = {
  async PutLifecyclePolicy(call, input) {
    checkRegistryId(call, input.registryId);
    await call.services.lifecycle.put(input.repositoryName, input.lifecyclePolicyText);
    return { registryId: call.services.account.id, repositoryName: input.repositoryName, lifecyclePolicyText: input.lifecyclePolicyText };
  },

  async GetLifecyclePolicy(call, input) {
    checkRegistryId(call, input.registryId);
    const p = await call.services.lifecycle.get(input.repositoryName);
    return {
      registryId: call.services.account.id,
      repositoryName: input.repositoryName,
      lifecyclePolicyText: p.text,
      ...(p.lastEvaluatedAt !== null ? { lastEvaluatedAt: new Date(p.lastEvaluatedAt) } : {}),
    };
  },

  async DeleteLifecyclePolicy(call, input) {
    checkRegistryId(call, input.registryId);
    const p = await call.services.lifecycle.delete(input.repositoryName);
    return {
      registryId: call.services.account.id,
      repositoryName: input.repositoryName,
      lifecyclePolicyText: p.text,
      ...(p.lastEvaluatedAt !== null ? { lastEvaluatedAt: new Date(p.lastEvaluatedAt) } : {}),
    };
  },

  async StartLifecyclePolicyPreview(call, input) {
    checkRegistryId(call, input.registryId);
    // The preview is computed before this call answers; a second call for the repository while
    // one is computed in this process is refused (LifecyclePolicyPreviewInProgressException).
    const p = await call.services.lifecycle.preview(input.repositoryName, input.lifecyclePolicyText);
    return { registryId: call.services.account.id, repositoryName: input.repositoryName, lifecyclePolicyText: p.policyText, status: p.status };
  },

  async GetLifecyclePolicyPreview(call, input) {
    checkRegistryId(call, input.registryId);
    const p = await call.services.lifecycle.getPreview(input.repositoryName);
    // Filtered on the stored columns and shaped only for the page (a preview can hold 100,000).
    const r = p.results;
    const keep: ((i: number) => boolean)[] = [];
    const ids = input.imageIds ?? [];
    if (ids.length > 0) keep.push((i) => ids.some((id) => id.imageDigest === r.digest[i] || (id.imageTag !== undefined && r.tags[i]!.includes(id.imageTag))));
    if (input.filter?.tagStatus === 'TAGGED') keep.push((i) => r.tags[i]!.length > 0);
    if (input.filter?.tagStatus === 'UNTAGGED') keep.push((i) => r.tags[i]!.length === 0);
    const matching: number[] = [];
    for (let i = 0; i < r.digest.length; i++) if (keep.every((k) => k(i))) matching.push(i);
    const after = await readNextToken(call, 'GetLifecyclePolicyPreview', `${input.repositoryName}@${p.evaluatedAt}`, input.nextToken);
    const start = after === undefined ? 0 : Number(after);
    const limit = input.maxResults ?? 100;
    const page = matching.slice(start, start + limit).map((i) => previewResult(previewResultAt(r, i)));
    let transitioning = 0;
    for (const a of r.action) if (a === 't') transitioning++;
    return {
      registryId: call.services.account.id,
      repositoryName: input.repositoryName,
      lifecyclePolicyText: p.policyText,
      status: p.status,
      previewResults: page,
      // NOTE: `berthBytesFreed` is an extension member: what expiring these images would free.
      summary: {
        berthBytesFreed: p.bytesFreed,
        expiringImageTotalCount: p.expiringCount,
        ...(transitioning > 0 ? { transitioningImageTotalCounts: [{ targetStorageClass: 'ARCHIVE' as const, imageTotalCount: transitioning }] } : {}),
      },
      ...(start + limit < matching.length ? { nextToken: await nextToken(call, 'GetLifecyclePolicyPreview', `${input.repositoryName}@${p.evaluatedAt}`, String(start + limit)) } : {}),
    };
  },
};
