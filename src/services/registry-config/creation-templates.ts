/**
 * Repository creation templates (ECR's CreateRepositoryCreationTemplate family): settings a
 * new repository gets when it is created by a push (CREATE_ON_PUSH), a replication or a
 * pull-through cache. The template whose prefix is the longest match of the repository name
 * wins; the prefix `ROOT` matches every repository. Stored one key per template.
 */
import { BerthError } from '../../core/errors.js';
import { DEFAULT_REPOSITORY_SETTINGS, type RegistrySettingsStore, type RepositorySettings } from '../../metadata/types.js';

export type TemplateUse = 'CREATE_ON_PUSH' | 'REPLICATION' | 'PULL_THROUGH_CACHE';

export interface CreationTemplate {
  prefix: string;
  description?: string;
  appliedFor: TemplateUse[];
  settings: Omit<RepositorySettings, 'scanOnPush'>;
  customRoleArn?: string;
  createdAt: number;
  updatedAt: number;
}

const KEY = 'creation-template/';
export const MAX_TEMPLATES = 100;

export class CreationTemplates {
  constructor(
    private readonly store: RegistrySettingsStore,
    private readonly now: () => number,
  ) {}

  async list(prefixes?: string[]): Promise<CreationTemplate[]> {
    const all = (await this.store.list(KEY)).map((e) => JSON.parse(e.value) as CreationTemplate);
    return prefixes && prefixes.length > 0 ? all.filter((t) => prefixes.includes(t.prefix)) : all;
  }

  async get(prefix: string): Promise<CreationTemplate> {
    const v = await this.store.get(KEY + prefix);
    if (!v) throw new BerthError('TEMPLATE_NOT_FOUND', `The creation template with prefix '${prefix}' does not exist`);
    return JSON.parse(v) as CreationTemplate;
  }

  async create(t: Omit<CreationTemplate, 'createdAt' | 'updatedAt'>): Promise<CreationTemplate> {
    if ((await this.store.list(KEY)).length >= MAX_TEMPLATES) throw new BerthError('LIMIT_EXCEEDED', `at most ${MAX_TEMPLATES} creation templates`);
    const now = this.now();
    const full: CreationTemplate = { ...t, createdAt: now, updatedAt: now };
    const stored = await this.store.putIfAbsent(KEY + t.prefix, JSON.stringify(full));
    if (stored !== JSON.stringify(full)) throw new BerthError('TEMPLATE_EXISTS', `A creation template with prefix '${t.prefix}' already exists`);
    return full;
  }

  async update(prefix: string, change: (t: CreationTemplate) => CreationTemplate): Promise<CreationTemplate> {
    const next = { ...change(await this.get(prefix)), prefix, updatedAt: this.now() };
    await this.store.put(KEY + prefix, JSON.stringify(next));
    return next;
  }

  async delete(prefix: string): Promise<CreationTemplate> {
    const t = await this.get(prefix);
    await this.store.delete(KEY + prefix);
    return t;
  }

  /** The template that applies to a new repository `name` created for `use`, if any. */
  async match(name: string, use: TemplateUse): Promise<CreationTemplate | null> {
    let best: CreationTemplate | null = null;
    for (const t of await this.list()) {
      if (!t.appliedFor.includes(use)) continue;
      const matches = t.prefix === 'ROOT' || name === t.prefix || name.startsWith(t.prefix.endsWith('/') ? t.prefix : `${t.prefix}/`);
      if (!matches) continue;
      const rank = t.prefix === 'ROOT' ? 0 : t.prefix.length;
      const bestRank = best === null ? -1 : best.prefix === 'ROOT' ? 0 : best.prefix.length;
      if (rank > bestRank) best = t;
    }
    return best;
  }
}

/** The settings a repository created from `template` starts with. */
export function settingsFrom(template: CreationTemplate | null): RepositorySettings {
  return template ? { ...DEFAULT_REPOSITORY_SETTINGS, ...template.settings } : { ...DEFAULT_REPOSITORY_SETTINGS };
}
