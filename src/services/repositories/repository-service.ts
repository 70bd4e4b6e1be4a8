/**
 * Repositories as ECR sees them: explicit creation with settings, description,
 * deletion (refusing a non-empty one without force), resource tags, tag mutability and
 * scan-on-push. Pushes create missing repositories through `ensureForPush` when the
 * registry allows it (CREATE_ON_PUSH, on by default).
 */
import { BerthError } from '../../core/errors.js';
import { validateRepositoryName } from '../../core/names.js';
import { parsePolicy } from '../../core/iam/index.js';
import {
  DEFAULT_REPOSITORY_SETTINGS,
  type MetadataStore,
  type RepositoryRow,
  type RepositorySettings,
} from '../../metadata/types.js';

export const MAX_RESOURCE_TAGS = 50;
const GB = 2 ** 30;

export interface RepositoryUsage {
  /** Bytes of the blobs linked to the repository. */
  bytes: number;
  /** The part of `bytes` in blobs other repositories link too (stored once, counted in each). */
  sharedBytes: number;
  /** bytes / GB × price, in USD per month. */
  monthlyCostUsd: number;
}

export class RepositoryService {
  constructor(
    private readonly meta: MetadataStore,
    private readonly now: () => number,
    private readonly pricePerGbMonthUsd = 0.1,
  ) {}

  /** Storage and estimated monthly cost of each of `rows`. */
  async usage(rows: RepositoryRow[]): Promise<Map<string, RepositoryUsage>> {
    const raw = await this.meta.blobs.usage(rows.map((r) => r.id));
    return new Map(
      rows.map((r) => {
        const u = raw.get(r.id) ?? { bytes: 0, sharedBytes: 0 };
        return [r.name, { ...u, monthlyCostUsd: Math.round((u.bytes / GB) * this.pricePerGbMonthUsd * 1e6) / 1e6 }];
      }),
    );
  }

  async create(name: string, settings: Partial<RepositorySettings>): Promise<RepositoryRow> {
    validateRepositoryName(name);
    const full: RepositorySettings = { ...DEFAULT_REPOSITORY_SETTINGS, ...settings };
    checkTags(full.resourceTags);
    const { created, row } = await this.meta.repositories.create(name, full, this.now());
    if (!created) {
      throw new BerthError('REPOSITORY_EXISTS', `The repository with name '${name}' already exists in the registry`);
    }
    return row;
  }

  async get(name: string): Promise<RepositoryRow> {
    validateRepositoryName(name);
    const row = await this.meta.repositories.get(name);
    if (!row) throw new BerthError('REPOSITORY_NOT_FOUND', `The repository with name '${name}' does not exist in the registry`);
    return row;
  }

  /** A page of repositories in name order, or exactly the named ones (each must exist). */
  async describe(o: { names?: string[]; after?: string; limit: number }): Promise<{ rows: RepositoryRow[]; more: boolean }> {
    if (o.names && o.names.length > 0) {
      const rows = [];
      for (const n of o.names) rows.push(await this.get(n));
      return { rows, more: false };
    }
    const rows = await this.meta.repositories.listRows({ limit: o.limit + 1, ...(o.after !== undefined ? { last: o.after } : {}) });
    return { rows: rows.slice(0, o.limit), more: rows.length > o.limit };
  }

  async delete(name: string, force: boolean): Promise<RepositoryRow> {
    return this.meta.tx(async (tx) => {
      validateRepositoryName(name);
      const row = await tx.repositories.get(name);
      if (!row) throw new BerthError('REPOSITORY_NOT_FOUND', `The repository with name '${name}' does not exist in the registry`);
      if (!force && (await tx.manifests.count(row.id)) > 0) {
        throw new BerthError('REPOSITORY_NOT_EMPTY', `The repository with name '${name}' cannot be deleted because it still contains images`);
      }
      await tx.repositories.delete(row.id);
      return row;
    });
  }

  async updateSettings(name: string, change: (s: RepositorySettings) => RepositorySettings): Promise<RepositoryRow> {
    return this.meta.tx(async (tx) => {
      validateRepositoryName(name);
      const row = await tx.repositories.get(name);
      if (!row) throw new BerthError('REPOSITORY_NOT_FOUND', `The repository with name '${name}' does not exist in the registry`);
      const settings = change(row.settings);
      checkTags(settings.resourceTags);
      await tx.repositories.updateSettings(row.id, settings);
      return { ...row, settings };
    });
  }

  /** Sets the repository policy after validating it with the IAM grammar. */
  async setPolicy(name: string, text: string): Promise<void> {
    parsePolicy(text, 'resource');
    await this.updateSettings(name, (s) => ({ ...s, policyText: text }));
  }

  async getPolicy(name: string): Promise<string> {
    const row = await this.get(name);
    if (row.settings.policyText === undefined) throw policyNotFound(name);
    return row.settings.policyText;
  }

  /** Removes the repository policy and returns it. */
  async deletePolicy(name: string): Promise<string> {
    let removed = '';
    await this.updateSettings(name, (s) => {
      if (s.policyText === undefined) throw policyNotFound(name);
      removed = s.policyText;
      const { policyText: _drop, ...rest } = s;
      return rest;
    });
    return removed;
  }

  async tag(name: string, tags: Record<string, string>): Promise<void> {
    await this.updateSettings(name, (s) => ({ ...s, resourceTags: { ...s.resourceTags, ...tags } }));
  }

  async untag(name: string, keys: string[]): Promise<void> {
    await this.updateSettings(name, (s) => ({
      ...s,
      resourceTags: Object.fromEntries(Object.entries(s.resourceTags).filter(([k]) => !keys.includes(k))),
    }));
  }
}

function policyNotFound(repository: string): BerthError {
  return new BerthError('POLICY_NOT_FOUND', `Repository policy does not exist for the repository with name '${repository}'`);
}

function checkTags(tags: Record<string, string>): void {
  if (Object.keys(tags).length > MAX_RESOURCE_TAGS) {
    throw new BerthError('LIMIT_EXCEEDED', `a repository can have at most ${MAX_RESOURCE_TAGS} tags`);
  }
  for (const k of Object.keys(tags)) {
    if (k.startsWith('aws:')) throw new BerthError('INVALID_PARAMETER', `tag keys may not start with 'aws:' ('${k}')`);
  }
}
