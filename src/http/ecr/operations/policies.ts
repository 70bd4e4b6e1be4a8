import { BerthError } from '../../../core/errors.js';
import { parsePolicy } from '../../../core/iam/index.js';
import { checkRegistryId, type EcrHandlers } from '../context.js';

const REGISTRY_POLICY_KEY = 'registry-policy';

/** Repository and registry policies: validated with the IAM grammar at write time, stored as given. */
export const policyHandlers: EcrHandlers = {
  async SetRepositoryPolicy(call, input) {
    checkRegistryId(call, input.registryId);
    parsePolicy(input.policyText, 'resource');
    await call.services.repositories.updateSettings(input.repositoryName, (s) => ({ ...s, policyText: input.policyText }));
    return { registryId: call.services.account.id, repositoryName: input.repositoryName, policyText: input.policyText };
  },

  async GetRepositoryPolicy(call, input) {
    checkRegistryId(call, input.registryId);
    const row = await call.services.repositories.get(input.repositoryName);
    if (row.settings.policyText === undefined) throw policyNotFound(input.repositoryName);
    return { registryId: call.services.account.id, repositoryName: row.name, policyText: row.settings.policyText };
  },

  async DeleteRepositoryPolicy(call, input) {
    checkRegistryId(call, input.registryId);
    let removed: string | undefined;
    await call.services.repositories.updateSettings(input.repositoryName, (s) => {
      if (s.policyText === undefined) throw policyNotFound(input.repositoryName);
      removed = s.policyText;
      const { policyText: _drop, ...rest } = s;
      return rest;
    });
    return { registryId: call.services.account.id, repositoryName: input.repositoryName, ...(removed !== undefined ? { policyText: removed } : {}) };
  },

  async PutRegistryPolicy(call, input) {
    parsePolicy(input.policyText, 'resource');
    await call.services.registrySettings.put(REGISTRY_POLICY_KEY, input.policyText);
    return { registryId: call.services.account.id, policyText: input.policyText };
  },

  async GetRegistryPolicy(call) {
    const text = await call.services.registrySettings.get(REGISTRY_POLICY_KEY);
    if (text === null) throw registryPolicyNotFound(call.services.account.id);
    return { registryId: call.services.account.id, policyText: text };
  },

  async DeleteRegistryPolicy(call) {
    const text = await call.services.registrySettings.get(REGISTRY_POLICY_KEY);
    if (text === null || !(await call.services.registrySettings.delete(REGISTRY_POLICY_KEY))) throw registryPolicyNotFound(call.services.account.id);
    return { registryId: call.services.account.id, policyText: text };
  },
};

function policyNotFound(repository: string): BerthError {
  return new BerthError('POLICY_NOT_FOUND', `Repository policy does not exist for the repository with name '${repository}'`);
}

function registryPolicyNotFound(registryId: string): BerthError {
  return new BerthError('REGISTRY_POLICY_NOT_FOUND', `Registry policy does not exist in the registry with id '${registryId}'`);
}
