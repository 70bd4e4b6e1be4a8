/** `berth images list REPO [--tagged|--untagged]`: the images of a repository, following pagination. */
import { Command, Option } from 'commander';
import type { DescribeImagesCommandInput, ImageDetail, TagStatus } from '@aws-sdk/client-ecr';
import { pageSizeOption, paginate, runWith, withGlobalOptions } from './client.js';
import { humanSize, listOrDash, printJson, printTable, shortDigest, timestamp } from './format.js';

export const IMAGE_HEADERS = ['DIGEST', 'TAGS', 'SIZE', 'PUSHED', 'LAST PULL', 'SCAN STATUS'] as const;

export function imageRow(d: ImageDetail): string[] {
  return [
    shortDigest(d.imageDigest),
    listOrDash(d.imageTags),
    humanSize(d.imageSizeInBytes),
    timestamp(d.imagePushedAt),
    timestamp(d.lastRecordedPullTime),
    d.imageScanStatus?.status ?? '-',
  ];
}

export function imagesListCommand(): Command {
  const cmd = new Command('list')
    .description('list the images of a repository (digest, tags, size, pushed, last pull, scan status)')
    .argument('<repository>', 'repository name')
    .addOption(new Option('--tagged', 'only images with at least one tag').conflicts('untagged'))
    .addOption(new Option('--untagged', 'only images without tags').conflicts('tagged'))
    .addOption(pageSizeOption());
  withGlobalOptions(cmd);
  return cmd.action(
    runWith(async (session, c) => {
      const [repositoryName] = c.args as [string];
      const opts = c.opts<{ tagged?: boolean; untagged?: boolean; pageSize?: number }>();
      const tagStatus: TagStatus | undefined = opts.tagged ? 'TAGGED' : opts.untagged ? 'UNTAGGED' : undefined;
      const { pages, raw } = await paginate(session, 'imageDetails', (nextToken) => {
        const input: DescribeImagesCommandInput = { repositoryName };
        if (tagStatus !== undefined) input.filter = { tagStatus };
        if (opts.pageSize !== undefined) input.maxResults = opts.pageSize;
        if (nextToken !== undefined) input.nextToken = nextToken;
        return session.ecr.send(new session.sdk.DescribeImagesCommand(input));
      });
      if (session.output === 'json') printJson(raw);
      else printTable(IMAGE_HEADERS, pages.flatMap((p) => p.imageDetails ?? []).map(imageRow));
      return 0;
    }),
  );
}
