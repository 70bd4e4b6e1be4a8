/** `berth repos delete NAME [--force]` */
import { Command } from 'commander';
import { runWith, withGlobalOptions } from './client.js';
import { printJson } from './format.js';

export function reposDeleteCommand(): Command {
  const cmd = new Command('delete')
    .description('delete a repository (refused while it holds images, unless --force)')
    .argument('<name>', 'repository name')
    .option('-f, --force', 'delete the repository and every image in it');
  withGlobalOptions(cmd);
  return cmd.action(
    runWith(async (session, c) => {
      const [name] = c.args as [string];
      const { force } = c.opts<{ force?: boolean }>();
      const out = await session.ecr.send(new session.sdk.DeleteRepositoryCommand({ repositoryName: name, force: force ?? false }));
      if (session.output === 'json') printJson(session.takeRaw());
      else process.stdout.write(`deleted repository ${out.repository?.repositoryName ?? name}\n`);
      return 0;
    }),
  );
}
