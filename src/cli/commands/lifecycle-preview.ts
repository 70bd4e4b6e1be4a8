/** `berth lifecycle preview REPO [--policy FILE]`: what a lifecycle policy would expire, by which rule, and what it frees. */
import { readFileSync } from 'node:fs';
import { Command } from 'commander';
import { paginate, runWith, usageError, withGlobalOptions } from './client.js';
import { humanSize, listOrDash, printJson, printTable, shortDigest, timestamp } from './format.js';

export function lifecyclePreviewCommand(): Command {
  const cmd = new Command('preview')
    .description('preview the stored lifecycle policy of REPO, or a draft with --policy')
    .argument('<repository>', 'repository name')
    .option('-p, --policy <file>', 'a draft policy (JSON) to preview instead of the stored one');
  withGlobalOptions(cmd);
  return cmd.action(
    runWith(async (session, c) => {
      const [repositoryName] = c.args as [string];
      const { policy } = c.opts<{ policy?: string }>();
      let text: string | undefined;
      if (policy !== undefined) {
        try {
          text = readFileSync(policy, 'utf8');
        } catch (err) {
          usageError(c, `cannot read ${policy}: ${(err as Error).message}`);
        }
      }
      await session.ecr.send(new session.sdk.StartLifecyclePolicyPreviewCommand({ repositoryName, ...(text !== undefined ? { lifecyclePolicyText: text } : {}) }));
      session.takeRaw();
      const { pages, raw } = await paginate(session, 'previewResults', (nextToken) =>
        session.ecr.send(new session.sdk.GetLifecyclePolicyPreviewCommand({ repositoryName, maxResults: 100, ...(nextToken !== undefined ? { nextToken } : {}) })),
      );
      if (session.output === 'json') {
        printJson(raw);
        return 0;
      }
      const results = pages.flatMap((p) => p.previewResults ?? []);
      printTable(
        ['DIGEST', 'TAGS', 'PUSHED', 'RULE', 'ACTION'],
        results.map((r) => [shortDigest(r.imageDigest), listOrDash(r.imageTags), timestamp(r.imagePushedAt), String(r.appliedRulePriority ?? '-'), r.action?.type ?? '-']),
      );
      const freed = (raw.summary as { berthBytesFreed?: number } | undefined)?.berthBytesFreed;
      process.stdout.write(`\n${results.length} image(s) would expire, freeing ${freed === undefined ? 'an unknown amount' : humanSize(freed)}\n`);
      return 0;
    }),
  );
}
