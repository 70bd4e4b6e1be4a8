import { BerthError } from './errors.js';

export function repositoryArn(region: string, accountId: string, name: string): string {
  return `arn:aws:ecr:${region}:${accountId}:repository/${name}`;
}

/** The repository name of an ECR repository ARN in this registry's account and region. */
export function parseRepositoryArn(arn: string, region: string, accountId: string): string {
  const m = /^arn:aws:ecr:([a-z0-9-]+):(\d{12}):repository\/(.+)$/.exec(arn);
  if (!m || m[1] !== region || m[2] !== accountId) {
    throw new BerthError('INVALID_PARAMETER', `Invalid parameter at 'resourceArn' failed to satisfy constraint: 'must be a repository ARN of account ${accountId} in ${region}'`);
  }
  return m[3]!;
}
