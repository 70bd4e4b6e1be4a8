import { BerthError } from '../../core/errors.js';
import type { MetadataTx, RepositoryRow } from '../../metadata/types.js';
import { CreationTemplates, settingsFrom } from '../registry-config/creation-templates.js';

/**
 * The repository a push writes to. A missing repository is created when the registry
 * allows create-on-push (the default, as self-hosted registries do) or, as in ECR, when a
 * CREATE_ON_PUSH creation template matches its name; the matching template supplies the new
 * repository's settings. Otherwise the push fails with REPOSITORY_NOT_FOUND (NAME_UNKNOWN).
 */
export async function pushTarget(tx: Pick<MetadataTx, 'repositories' | 'registry'>, name: string, now: number, createOnPush: boolean): Promise<RepositoryRow> {
  const existing = await tx.repositories.get(name);
  if (existing) return existing;
  const template = await new CreationTemplates(tx.registry, () => now).match(name, 'CREATE_ON_PUSH');
  if (!createOnPush && !template) {
    throw new BerthError('REPOSITORY_NOT_FOUND', `The repository with name '${name}' does not exist in the registry (create it first, or add a CREATE_ON_PUSH creation template)`);
  }
  return tx.repositories.ensure(name, now, settingsFrom(template));
}
