/**
 * `berth images delete REPO REF...`: REF is a tag or a `sha256:` digest. Prints each deleted
 * image and each failure with its reason; exits 1 when anything failed.
 */
import { Command } from 'commander';
import type { ImageFailure, ImageIdentifier } from '@aws-sdk/client-ecr';
import { runWith, withGlobalOptions } from './client.js';
import { printJson, printTable } from './format.js';

/** BatchDeleteImage takes at most 100 image ids per call. */
const BATCH = 100;

/** Tags cannot contain a colon, so anything with one is a digest (the server checks its form). */
export function imageIdOf(ref: string): ImageIdentifier {
  return ref.includes(':') ? { imageDigest: ref } : { imageTag: ref };
}

export function imagesDeleteCommand(): Command {
  const cmd = new Command('delete')
    .description('delete images by tag or digest (deleting one tag of an image that has others only removes that tag)')
    .argument('<repository>', 'repository name')
    .argument('<ref...>', 'tag or sha256: digest');
  withGlobalOptions(cmd);
  return cmd.action(
    runWith(async (session, c) => {
      const [repositoryName, ...given] = c.args as [string, ...string[]];
      const refs = [...new Set(given)]; // the same ref twice would fail the second time
      const deleted: ImageIdentifier[] = [];
      const failures: ImageFailure[] = [];
      const raw: { imageIds: unknown[]; failures: unknown[] } = { imageIds: [], failures: [] };
      for (let i = 0; i < refs.length; i += BATCH) {
        const out = await session.ecr.send(new session.sdk.BatchDeleteImageCommand({ repositoryName, imageIds: refs.slice(i, i + BATCH).map(imageIdOf) }));
        const page = session.takeRaw();
        deleted.push(...(out.imageIds ?? []));
        failures.push(...(out.failures ?? []));
        if (Array.isArray(page['imageIds'])) raw.imageIds.push(...(page['imageIds'] as unknown[]));
        if (Array.isArray(page['failures'])) raw.failures.push(...(page['failures'] as unknown[]));
      }
      if (session.output === 'json') {
        printJson(raw);
      } else {
        printTable(
          ['RESULT', 'TAG', 'DIGEST', 'REASON'],
          [
            ...deleted.map((id) => ['deleted', id.imageTag ?? '-', id.imageDigest ?? '-', '']),
            ...failures.map((f) => [
              'failed',
              f.imageId?.imageTag ?? '-',
              f.imageId?.imageDigest ?? '-',
              [f.failureCode, f.failureReason].filter((s) => s !== undefined && s !== '').join(': ') || 'unknown reason',
            ]),
          ],
        );
      }
      if (failures.length > 0) {
        process.stderr.write(`berth: ${failures.length} of ${refs.length} image reference(s) could not be deleted\n`);
        return 1;
      }
      return 0;
    }),
  );
}
