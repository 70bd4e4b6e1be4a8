/** `berth repos create NAME [--immutable] [--scan-on-push] [--tag KEY=VALUE ...]` */
import { Command, InvalidArgumentError } from 'commander';
import type { Tag } from '@aws-sdk/client-ecr';
import { runWith, withGlobalOptions } from './client.js';
import { printJson } from './format.js';
import { printRepositories } from './repos-shared.js';

function collectTag(value: string, previous: Tag[]): Tag[] {
  const eq = value.indexOf('=');
  if (eq <= 0) throw new InvalidArgumentError('expected KEY=VALUE');
  return [...previous, { Key: value.slice(0, eq), Value: value.slice(eq + 1) }];
}

export function reposCreateCommand(): Command {
  const cmd = new Command('create')
    .description('create a repository')
    .argument('<name>', 'repository name, e.g. team/app')
    .option('--immutable', 'tags cannot be moved to another image once pushed (IMMUTABLE)')
    .option('--scan-on-push', 'scan images when they are pushed')
    .option('--tag <key=value>', 'resource tag (repeatable)', collectTag, [] as Tag[]);
  withGlobalOptions(cmd);
  return cmd.action(
    runWith(async (session, c) => {
      const [name] = c.args as [string];
      const opts = c.opts<{ immutable?: boolean; scanOnPush?: boolean; tag: Tag[] }>();
      const out = await session.ecr.send(
        new session.sdk.CreateRepositoryCommand({
          repositoryName: name,
          imageTagMutability: opts.immutable ? 'IMMUTABLE' : 'MUTABLE',
          imageScanningConfiguration: { scanOnPush: opts.scanOnPush ?? false },
          ...(opts.tag.length > 0 ? { tags: opts.tag } : {}),
        }),
      );
      if (session.output === 'json') printJson(session.takeRaw());
      else printRepositories(out.repository ? [out.repository] : []);
      return 0;
    }),
  );
}
