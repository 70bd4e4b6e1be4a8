import { repositoryArn, parseRepositoryArn } from '../../../core/arn.js';
import type { RepositoryRow, RepositorySettings } from '../../../metadata/types.js';
import { checkRegistryId, type EcrCall, type EcrHandlers } from '../context.js';
import type { ImageTagMutabilityExclusionFilter, Repository, Tag } from '../generated/ecr-model.js';
import { nextToken, readNextToken } from '../pagination.js';

export function repositoryShape(call: EcrCall, row: RepositoryRow): Repository {
  const { id, region } = call.services.account;
  const s = row.settings;
  return {
    repositoryArn: repositoryArn(region, id, row.name),
    registryId: id,
    repositoryName: row.name,
    repositoryUri: `${call.baseUrl.replace(/^https?:\/\//, '')}/${row.name}`,
    createdAt: new Date(row.createdAt),
    imageTagMutability: s.tagMutability,
    ...(s.tagMutabilityExclusions.length > 0 ? { imageTagMutabilityExclusionFilters: exclusionFilters(s.tagMutabilityExclusions) } : {}),
    imageScanningConfiguration: { scanOnPush: s.scanOnPush },
    encryptionConfiguration: { encryptionType: s.encryption.type, ...(s.encryption.kmsKey ? { kmsKey: s.encryption.kmsKey } : {}) },
  };
}

const exclusionFilters = (filters: string[]): ImageTagMutabilityExclusionFilter[] => filters.map((filter) => ({ filterType: 'WILDCARD', filter }));

function tagsOf(tags: Tag[] | undefined): Record<string, string> {
  return Object.fromEntries((tags ?? []).map((t) => [t.Key, t.Value]));
}

export const repositoryHandlers: EcrHandlers = {
  async CreateRepository(call, input) {
    checkRegistryId(call, input.registryId);
    const settings: Partial<RepositorySettings> = {
      resourceTags: tagsOf(input.tags),
      ...(input.imageTagMutability ? { tagMutability: input.imageTagMutability } : {}),
      ...(input.imageTagMutabilityExclusionFilters ? { tagMutabilityExclusions: input.imageTagMutabilityExclusionFilters.map((f) => f.filter) } : {}),
      ...(input.imageScanningConfiguration?.scanOnPush !== undefined ? { scanOnPush: input.imageScanningConfiguration.scanOnPush } : {}),
      ...(input.encryptionConfiguration
        ? { encryption: { type: input.encryptionConfiguration.encryptionType, ...(input.encryptionConfiguration.kmsKey ? { kmsKey: input.encryptionConfiguration.kmsKey } : {}) } }
        : {}),
    };
    const row = await call.services.repositories.create(input.repositoryName, settings);
    return { repository: repositoryShape(call, row) };
  },

  async DescribeRepositories(call, input) {
    checkRegistryId(call, input.registryId);
    const after = await readNextToken(call, 'DescribeRepositories', '', input.nextToken);
    const limit = input.maxResults ?? 100;
    const page = await call.services.repositories.describe({ limit, ...(input.repositoryNames ? { names: input.repositoryNames } : {}), ...(after !== undefined ? { after } : {}) });
    const last = page.rows[page.rows.length - 1];
    // Named repositories were each authorized by the dispatcher; a listing shows only the
    // repositories the caller may describe.
    if (!input.repositoryNames) {
      const visible = new Set(await call.services.access.filterRepositories(call.principal, 'ecr:DescribeRepositories', page.rows.map((r) => r.name)));
      page.rows = page.rows.filter((r) => visible.has(r.name));
    }
    const usage = await call.services.repositories.usage(page.rows);
    return {
      // NOTE: `berthStorage` is an extension member; AWS SDKs ignore members they do not know.
      repositories: page.rows.map((r) => ({ ...repositoryShape(call, r), berthStorage: usage.get(r.name) })),
      ...(page.more && last ? { nextToken: await nextToken(call, 'DescribeRepositories', '', last.name) } : {}),
    };
  },

  async DeleteRepository(call, input) {
    checkRegistryId(call, input.registryId);
    const row = await call.services.repositories.delete(input.repositoryName, input.force ?? false);
    return { repository: repositoryShape(call, row) };
  },

  async TagResource(call, input) {
    const name = parseRepositoryArn(input.resourceArn, call.services.account.region, call.services.account.id);
    await call.services.repositories.tag(name, tagsOf(input.tags));
    return {};
  },

  async UntagResource(call, input) {
    const name = parseRepositoryArn(input.resourceArn, call.services.account.region, call.services.account.id);
    await call.services.repositories.untag(name, input.tagKeys);
    return {};
  },

  async ListTagsForResource(call, input) {
    const name = parseRepositoryArn(input.resourceArn, call.services.account.region, call.services.account.id);
    const row = await call.services.repositories.get(name);
    return { tags: Object.entries(row.settings.resourceTags).map(([Key, Value]) => ({ Key, Value })) };
  },

  async PutImageTagMutability(call, input) {
    checkRegistryId(call, input.registryId);
    const exclusions = input.imageTagMutabilityExclusionFilters?.map((f) => f.filter) ?? [];
    const row = await call.services.repositories.updateSettings(input.repositoryName, (s) => ({ ...s, tagMutability: input.imageTagMutability, tagMutabilityExclusions: exclusions }));
    return {
      registryId: call.services.account.id,
      repositoryName: row.name,
      imageTagMutability: row.settings.tagMutability,
      ...(exclusions.length > 0 ? { imageTagMutabilityExclusionFilters: exclusionFilters(exclusions) } : {}),
    };
  },

  async PutImageScanningConfiguration(call, input) {
    checkRegistryId(call, input.registryId);
    const row = await call.services.repositories.updateSettings(input.repositoryName, (s) => ({ ...s, scanOnPush: input.imageScanningConfiguration.scanOnPush ?? false }));
    return { registryId: call.services.account.id, repositoryName: row.name, imageScanningConfiguration: { scanOnPush: row.settings.scanOnPush } };
  },
};
