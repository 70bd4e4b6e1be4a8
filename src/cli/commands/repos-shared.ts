/** The repository table shared by `repos list` and `repos create`. */
import type { Repository } from '@aws-sdk/client-ecr';
import { printTable, timestamp } from './format.js';

export const REPOSITORY_HEADERS = ['NAME', 'URI', 'TAG MUTABILITY', 'SCAN ON PUSH', 'CREATED'] as const;

export function repositoryRow(r: Repository): string[] {
  return [
    r.repositoryName ?? '-',
    r.repositoryUri ?? '-',
    r.imageTagMutability ?? '-',
    r.imageScanningConfiguration?.scanOnPush === undefined ? '-' : r.imageScanningConfiguration.scanOnPush ? 'yes' : 'no',
    timestamp(r.createdAt),
  ];
}

export function printRepositories(repositories: readonly Repository[]): void {
  printTable(REPOSITORY_HEADERS, repositories.map(repositoryRow));
}
