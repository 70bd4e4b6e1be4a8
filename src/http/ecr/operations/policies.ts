import { checkRegistryId, type EcrHandlers } from '../context.js';

/** Repository and registry policies: validated with the IAM grammar at write time, stored as given. */
export const policyHandlers: EcrHandlers = {
  async SetRepositoryPolicy(call, input) {
    checkRegistryId(call, input.registryId);
    await call.services.repositories.setPolicy(input.repositoryName, input.policyText);
    return { registryId: call.services.account.id, repositoryName: input.repositoryName, policyText: input.policyText };
  },

  async GetRepositoryPolicy(call, input) {
    checkRegistryId(call, input.registryId);
    return { registryId: call.services.account.id, repositoryName: input.repositoryName, policyText: await call.services.repositories.getPolicy(input.repositoryName) };
  },

  async DeleteRepositoryPolicy(call, input) {
    checkRegistryId(call, input.registryId);
    return { registryId: call.services.account.id, repositoryName: input.repositoryName, policyText: await call.services.repositories.deletePolicy(input.repositoryName) };
  },

  async PutRegistryPolicy(call, input) {
    await call.services.registryConfig.putPolicy(input.policyText);
    return { registryId: call.services.account.id, policyText: input.policyText };
  },

  async GetRegistryPolicy(call) {
    return { registryId: call.services.account.id, policyText: await call.services.registryConfig.getPolicy() };
  },

  async DeleteRegistryPolicy(call) {
    return { registryId: call.services.account.id, policyText: await call.services.registryConfig.deletePolicy() };
  },
};

