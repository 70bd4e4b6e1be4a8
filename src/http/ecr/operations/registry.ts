import { repositoryArn } from '../../../core/arn.js';
import { wildcardToRegExp } from '../../../core/tag-mutability.js';
import type { CreationTemplate, TemplateUse } from '../../../services/registry-config/creation-templates.js';
import { checkRegistryId, type EcrCall, type EcrHandlers } from '../context.js';
import type { RegistryScanningConfiguration, RepositoryCreationTemplate, Tag } from '../generated/ecr-model.js';

type ScanFrequency = 'SCAN_ON_PUSH' | 'CONTINUOUS_SCAN' | 'MANUAL';
import { nextToken, readNextToken } from '../pagination.js';


function templateShape(t: CreationTemplate): RepositoryCreationTemplate {
  const s = t.settings;
  return {
    prefix: t.prefix,
    ...(t.description !== undefined ? { description: t.description } : {}),
    encryptionConfiguration: { encryptionType: s.encryption.type, ...(s.encryption.kmsKey ? { kmsKey: s.encryption.kmsKey } : {}) },
    resourceTags: Object.entries(s.resourceTags).map(([Key, Value]) => ({ Key, Value })),
    imageTagMutability: s.tagMutability,
    ...(s.tagMutabilityExclusions.length > 0 ? { imageTagMutabilityExclusionFilters: s.tagMutabilityExclusions.map((filter) => ({ filterType: 'WILDCARD' as const, filter })) } : {}),
    ...(s.policyText !== undefined ? { repositoryPolicy: s.policyText } : {}),
    ...(s.lifecyclePolicyText !== undefined ? { lifecyclePolicy: s.lifecyclePolicyText } : {}),
    appliedFor: t.appliedFor,
    ...(t.customRoleArn !== undefined ? { customRoleArn: t.customRoleArn } : {}),
    createdAt: new Date(t.createdAt),
    updatedAt: new Date(t.updatedAt),
  };
}

interface TemplateInput {
  description?: string;
  encryptionConfiguration?: { encryptionType: 'AES256' | 'KMS' | 'KMS_DSSE'; kmsKey?: string };
  resourceTags?: Tag[];
  imageTagMutability?: 'MUTABLE' | 'IMMUTABLE' | 'IMMUTABLE_WITH_EXCLUSION' | 'MUTABLE_WITH_EXCLUSION';
  imageTagMutabilityExclusionFilters?: { filter: string }[];
  repositoryPolicy?: string;
  lifecyclePolicy?: string;
  appliedFor?: TemplateUse[];
  customRoleArn?: string;
}

function applyTemplateInput(t: Omit<CreationTemplate, 'createdAt' | 'updatedAt'>, input: TemplateInput): Omit<CreationTemplate, 'createdAt' | 'updatedAt'> {
  const s = { ...t.settings };
  if (input.encryptionConfiguration) s.encryption = { type: input.encryptionConfiguration.encryptionType, ...(input.encryptionConfiguration.kmsKey ? { kmsKey: input.encryptionConfiguration.kmsKey } : {}) };
  if (input.resourceTags) s.resourceTags = Object.fromEntries(input.resourceTags.map((x) => [x.Key, x.Value]));
  if (input.imageTagMutability) s.tagMutability = input.imageTagMutability;
  if (input.imageTagMutabilityExclusionFilters) s.tagMutabilityExclusions = input.imageTagMutabilityExclusionFilters.map((f) => f.filter);
  if (input.repositoryPolicy !== undefined) s.policyText = input.repositoryPolicy;
  if (input.lifecyclePolicy !== undefined) s.lifecyclePolicyText = input.lifecyclePolicy;
  return {
    ...t,
    settings: s,
    ...(input.description !== undefined ? { description: input.description } : {}),
    ...(input.appliedFor ? { appliedFor: input.appliedFor } : {}),
    ...(input.customRoleArn !== undefined ? { customRoleArn: input.customRoleArn } : {}),
  };
}

async function scanningConfig(call: EcrCall): Promise<RegistryScanningConfiguration> {
  return call.services.registryConfig.scanning();
}

export const registryHandlers: EcrHandlers = {
  async DescribeRegistry(call) {
    return { registryId: call.services.account.id, replicationConfiguration: { rules: [] } };
  },

  async PutAccountSetting(call, input) {
    await call.services.registryConfig.putAccountSetting(input.name, input.value);
    return { name: input.name, value: input.value };
  },

  async GetAccountSetting(call, input) {
    return { name: input.name, value: await call.services.registryConfig.getAccountSetting(input.name) };
  },

  async CreateRepositoryCreationTemplate(call, input) {
    const base = { prefix: input.prefix, appliedFor: input.appliedFor, settings: { tagMutability: 'MUTABLE' as const, tagMutabilityExclusions: [], encryption: { type: 'AES256' as const }, resourceTags: {} } };
    const t = await call.services.templates.create(applyTemplateInput(base, input));
    return { registryId: call.services.account.id, repositoryCreationTemplate: templateShape(t) };
  },

  async DescribeRepositoryCreationTemplates(call, input) {
    const all = await call.services.templates.list(input.prefixes);
    if (input.prefixes) for (const p of input.prefixes) if (!all.some((t) => t.prefix === p)) await call.services.templates.get(p);
    const after = await readNextToken(call, 'DescribeRepositoryCreationTemplates', '', input.nextToken);
    const rest = after === undefined ? all : all.filter((t) => t.prefix > after);
    const limit = input.maxResults ?? 100;
    const page = rest.slice(0, limit);
    return {
      registryId: call.services.account.id,
      repositoryCreationTemplates: page.map(templateShape),
      ...(rest.length > limit ? { nextToken: await nextToken(call, 'DescribeRepositoryCreationTemplates', '', page[page.length - 1]!.prefix) } : {}),
    };
  },

  async UpdateRepositoryCreationTemplate(call, input) {
    const t = await call.services.templates.update(input.prefix, (cur) => ({ ...cur, ...applyTemplateInput(cur, input) }));
    return { registryId: call.services.account.id, repositoryCreationTemplate: templateShape(t) };
  },

  async DeleteRepositoryCreationTemplate(call, input) {
    const t = await call.services.templates.delete(input.prefix);
    return { registryId: call.services.account.id, repositoryCreationTemplate: templateShape(t) };
  },

  async PutRegistryScanningConfiguration(call, input) {
    const config = { scanType: input.scanType ?? 'BASIC', rules: (input.rules ?? []).map((r) => ({ scanFrequency: r.scanFrequency, repositoryFilters: r.repositoryFilters.map((f) => ({ filter: f.filter, filterType: 'WILDCARD' as const })) })) };
    await call.services.registryConfig.putScanning(config);
    return { registryScanningConfiguration: config };
  },

  async GetRegistryScanningConfiguration(call) {
    return { registryId: call.services.account.id, scanningConfiguration: await scanningConfig(call) };
  },

  async BatchGetRepositoryScanningConfiguration(call, input) {
    const config = await scanningConfig(call);
    const scanningConfigurations = [];
    const failures = [];
    for (const name of input.repositoryNames) {
      const row = await call.services.repositories.get(name).catch(() => null);
      if (!row) {
        failures.push({ repositoryName: name, failureCode: 'REPOSITORY_NOT_FOUND' as const, failureReason: 'REPOSITORY_NOT_FOUND' });
        continue;
      }
      let frequency: ScanFrequency = row.settings.scanOnPush ? 'SCAN_ON_PUSH' : 'MANUAL';
      let applied: { filter: string; filterType: 'WILDCARD' }[] = [];
      for (const rule of config.rules ?? []) {
        const hit = rule.repositoryFilters.filter((f) => wildcardToRegExp(f.filter).test(name));
        if (hit.length === 0) continue;
        if (rule.scanFrequency === 'CONTINUOUS_SCAN' || frequency === 'MANUAL') {
          frequency = rule.scanFrequency;
          applied = hit.map((f) => ({ filter: f.filter, filterType: 'WILDCARD' as const }));
        }
      }
      scanningConfigurations.push({
        repositoryArn: repositoryArn(call.services.account.region, call.services.account.id, name),
        repositoryName: name,
        scanOnPush: row.settings.scanOnPush || frequency !== 'MANUAL',
        scanFrequency: frequency,
        appliedScanFilters: applied,
      });
    }
    return { scanningConfigurations, failures };
  },

  async ListImageReferrers(call, input) {
    checkRegistryId(call, input.registryId);
    const after = await readNextToken(call, 'ListImageReferrers', `${input.repositoryName}@${input.subjectId.imageDigest}`, input.nextToken);
    const page = await call.services.images.referrers(input.repositoryName, input.subjectId.imageDigest, {
      limit: input.maxResults ?? 50,
      ...(input.filter?.artifactTypes ? { artifactTypes: input.filter.artifactTypes } : {}),
      ...(after !== undefined ? { after } : {}),
    });
    return {
      referrers: page.rows.map((r) => ({
        digest: r.digest,
        mediaType: r.mediaType,
        size: r.size,
        ...(r.artifactType ? { artifactType: r.artifactType } : {}),
        ...(r.annotations ? { annotations: r.annotations } : {}),
        artifactStatus: 'ACTIVE' as const,
      })),
      ...(page.next ? { nextToken: await nextToken(call, 'ListImageReferrers', `${input.repositoryName}@${input.subjectId.imageDigest}`, page.next) } : {}),
    };
  },
};
