/** `berth usage`: storage and estimated monthly cost per repository (DescribeRepositories' `berthStorage`). */
import { Command } from 'commander';
import { paginate, runWith, withGlobalOptions } from './client.js';
import { humanSize, printJson, printTable } from './format.js';

interface RawRepository {
  repositoryName: string;
  berthStorage?: { bytes: number; sharedBytes: number; monthlyCostUsd: number };
}

export function usageCommand(): Command {
  const cmd = new Command('usage').description('storage per repository: bytes stored, bytes shared with other repositories, estimated monthly cost');
  withGlobalOptions(cmd);
  return cmd.action(
    runWith(async (session) => {
      const { raw } = await paginate(session, 'repositories', (nextToken) =>
        session.ecr.send(new session.sdk.DescribeRepositoriesCommand({ maxResults: 1000, ...(nextToken !== undefined ? { nextToken } : {}) })),
      );
      const repos = (raw.repositories ?? []) as RawRepository[];
      if (session.output === 'json') {
        printJson(repos.map((r) => ({ repositoryName: r.repositoryName, ...(r.berthStorage ?? {}) })));
        return 0;
      }
      const rows = repos.map((r) => {
        const u = r.berthStorage ?? { bytes: 0, sharedBytes: 0, monthlyCostUsd: 0 };
        return [r.repositoryName, humanSize(u.bytes), humanSize(u.sharedBytes), `$${u.monthlyCostUsd.toFixed(4)}`];
      });
      const total = repos.reduce((n, r) => n + (r.berthStorage?.monthlyCostUsd ?? 0), 0);
      printTable(['REPOSITORY', 'STORED', 'SHARED', 'MONTHLY COST'], rows);
      process.stdout.write(`\n${repos.length} repositories, estimated $${total.toFixed(4)} per month (shared bytes are stored once but counted in each repository)\n`);
      return 0;
    }),
  );
}
