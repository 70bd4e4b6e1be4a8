import { BerthError } from '../../core/errors.js';
import type { RepositoryRow, RepositoryStore } from '../../metadata/types.js';

/**
 * The repository a push writes to. A missing repository is created when the registry
 * allows create-on-push (the default, as self-hosted registries do); otherwise the push
 * fails with REPOSITORY_NOT_FOUND (NAME_UNKNOWN on /v2/), as in ECR.
 */
export async function pushTarget(repos: RepositoryStore, name: string, now: number, createOnPush: boolean): Promise<RepositoryRow> {
  if (createOnPush) return repos.ensure(name, now);
  const repo = await repos.get(name);
  if (!repo) throw new BerthError('REPOSITORY_NOT_FOUND', `The repository with name '${name}' does not exist in the registry (create it first; create-on-push is off)`);
  return repo;
}
