/** `berth repos list`: every repository, following pagination. */
import { Command } from 'commander';
import { pageSizeOption, paginate, runWith, withGlobalOptions } from './client.js';
import { printJson } from './format.js';
import { printRepositories } from './repos-shared.js';

export function reposListCommand(): Command {
  const cmd = new Command('list').description('list repositories (name, URI, tag mutability, scan on push, created)').addOption(pageSizeOption());
  withGlobalOptions(cmd);
  return cmd.action(
    runWith(async (session, c) => {
      const { pageSize } = c.opts<{ pageSize?: number }>();
      const { pages, raw } = await paginate(session, 'repositories', (nextToken) =>
        session.ecr.send(
          new session.sdk.DescribeRepositoriesCommand({
            ...(pageSize !== undefined ? { maxResults: pageSize } : {}),
            ...(nextToken !== undefined ? { nextToken } : {}),
          }),
        ),
      );
      if (session.output === 'json') printJson(raw);
      else printRepositories(pages.flatMap((p) => p.repositories ?? []));
      return 0;
    }),
  );
}
