/**
 * Debian's `aws` CLI (v2) against a real server: the repository and image workflow a CI
 * pipeline scripts, with skopeo logging in through get-login-password and pushing; exit
 * codes and printed errors are checked. Also the commit-hash pipeline on an IMMUTABLE
 * repository.
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { makeTempDir, removeDir, run, which } from '../support/clients.js';
import { writeImageLayout } from '../support/oci-layout.js';
import { TEST_ROOT_CREDENTIALS, dumpServerLogsOnFailure, startBerth, type RunningServer } from '../support/server.js';
import { Skopeo } from '../support/tools.js';

// awscli v2 is /usr/bin/aws; an older v1 may shadow it in PATH.
const AWS = existsSync('/usr/bin/aws') ? '/usr/bin/aws' : which('aws');
const reason = !AWS ? 'the aws CLI is not installed' : !which('skopeo') ? 'skopeo is not on PATH' : undefined;

describe.skipIf(reason !== undefined)(`aws CLI workflow${reason ? ` (skipped: ${reason})` : ''}`, () => {
  let server: RunningServer;
  let tmp: string;
  let skopeo: Skopeo;
  const env = (): NodeJS.ProcessEnv => ({
    ...process.env,
    AWS_ACCESS_KEY_ID: TEST_ROOT_CREDENTIALS.accessKeyId,
    AWS_SECRET_ACCESS_KEY: TEST_ROOT_CREDENTIALS.secretAccessKey,
    AWS_DEFAULT_REGION: 'us-east-1',
    AWS_PAGER: '',
    AWS_CONFIG_FILE: join(tmp, 'aws-config'),
    AWS_SHARED_CREDENTIALS_FILE: join(tmp, 'aws-credentials'),
  });
  const aws = (...args: string[]) => run(AWS!, ['--endpoint-url', server.url, '--output', 'json', ...args], { env: env(), timeoutMs: 60_000 });
  const awsJson = async <T>(...args: string[]): Promise<T> => {
    const r = await aws(...args);
    expect(r.code, r.stderr).toBe(0);
    return JSON.parse(r.stdout) as T;
  };

  beforeAll(async () => {
    // Lifecycle policies are applied every second here, so the test can watch a run expire images.
    server = await startBerth({ target: 'berth', env: { BERTH_LIFECYCLE__INTERVAL_SECONDS: '1', BERTH_SCHEDULER__TICK_SECONDS: '0.2' } });
    tmp = await makeTempDir('berth-awscli-');
    skopeo = await Skopeo.create(tmp);
    await writeImageLayout(join(tmp, 'one'), { tag: 'v1', layers: [{ files: { 'app.txt': 'build one' } }] });
    await writeImageLayout(join(tmp, 'two'), { tag: 'v1', layers: [{ files: { 'app.txt': 'build two' } }] });
  });
  afterAll(async () => {
    await server?.stop();
    await removeDir(tmp);
  });
  dumpServerLogsOnFailure(() => server);

  it('creates a repository, logs in, pushes, describes, retags and deletes', async () => {
    const created = await awsJson<{ repository: { repositoryUri: string } }>('ecr', 'create-repository', '--repository-name', 'cli/app');
    expect(created.repository.repositoryUri).toBe(`${server.host}/cli/app`);
    const dup = await aws('ecr', 'create-repository', '--repository-name', 'cli/app');
    expect(dup.code).toBe(254);
    expect(dup.stderr).toContain('RepositoryAlreadyExistsException');

    const pw = await aws('ecr', 'get-login-password');
    expect(pw.code).toBe(0);
    const password = pw.stdout.trim();
    expect(password).not.toContain(':');
    const login = await skopeo.run(['login', '--tls-verify=false', '--authfile', join(tmp, 'auth.json'), '--username', 'AWS', '--password-stdin', server.host], { input: password });
    expect(login.code, login.stderr).toBe(0);

    await skopeo.copy(`oci:${join(tmp, 'one')}:v1`, `docker://${server.host}/cli/app:v1`);
    await skopeo.copy(`oci:${join(tmp, 'two')}:v1`, `docker://${server.host}/cli/app:v2`);

    const described = await awsJson<{ imageDetails: { imageTags: string[]; imageDigest: string; imageSizeInBytes: number }[] }>('ecr', 'describe-images', '--repository-name', 'cli/app');
    expect(described.imageDetails.map((d) => d.imageTags).flat().sort()).toEqual(['v1', 'v2']);
    expect(described.imageDetails.every((d) => d.imageSizeInBytes > 0)).toBe(true);
    const listed = await awsJson<{ imageIds: { imageTag: string }[] }>('ecr', 'list-images', '--repository-name', 'cli/app');
    expect(listed.imageIds.map((i) => i.imageTag).sort()).toEqual(['v1', 'v2']);

    const got = await awsJson<{ images: { imageManifest: string; imageManifestMediaType: string }[] }>(
      'ecr', 'batch-get-image', '--repository-name', 'cli/app', '--image-ids', 'imageTag=v1',
    );
    const manifest = got.images[0]!.imageManifest;
    const put = await awsJson<{ image: { imageId: { imageTag: string } } }>(
      'ecr', 'put-image', '--repository-name', 'cli/app', '--image-tag', 'stable', '--image-manifest', manifest, '--image-manifest-media-type', got.images[0]!.imageManifestMediaType,
    );
    expect(put.image.imageId.imageTag).toBe('stable');
    const inspected = await skopeo.inspect(`docker://${server.host}/cli/app:stable`);
    const v1 = await skopeo.inspect(`docker://${server.host}/cli/app:v1`);
    expect(inspected.Digest).toBe(v1.Digest);

    const del = await awsJson<{ imageIds: { imageTag: string }[]; failures: unknown[] }>('ecr', 'batch-delete-image', '--repository-name', 'cli/app', '--image-ids', 'imageTag=v2', 'imageTag=missing');
    expect(del.imageIds.map((i) => i.imageTag)).toEqual(['v2']);
    expect(del.failures).toHaveLength(1);

    const notEmpty = await aws('ecr', 'delete-repository', '--repository-name', 'cli/app');
    expect(notEmpty.code).toBe(254);
    expect(notEmpty.stderr).toContain('RepositoryNotEmptyException');
    await awsJson('ecr', 'delete-repository', '--repository-name', 'cli/app', '--force');
    const gone = await aws('ecr', 'describe-images', '--repository-name', 'cli/app');
    expect(gone.code).toBe(254);
    expect(gone.stderr).toContain('RepositoryNotFoundException');
  });

  it('previews a lifecycle policy with the CLI', async () => {
    await awsJson('ecr', 'create-repository', '--repository-name', 'cli/lifecycle');
    for (const tag of ['build-1', 'build-2', 'build-3']) {
      await skopeo.copy(`oci:${join(tmp, tag === 'build-2' ? 'two' : 'one')}:v1`, `docker://${server.host}/cli/lifecycle:${tag}`);
    }
    await skopeo.copy(`oci:${join(tmp, 'two')}:v1`, `docker://${server.host}/cli/lifecycle:release-1`);
    const policy = JSON.stringify({
      rules: [
        { rulePriority: 1, description: 'keep releases', selection: { tagStatus: 'tagged', tagPrefixList: ['release'], countType: 'imageCountMoreThan', countNumber: 10 }, action: { type: 'expire' } },
        { rulePriority: 2, description: 'keep one build', selection: { tagStatus: 'tagged', tagPrefixList: ['build'], countType: 'imageCountMoreThan', countNumber: 1 }, action: { type: 'expire' } },
      ],
    });
    const invalid = JSON.stringify({ rules: [{ rulePriority: 1, description: 'zero is not a count', selection: { tagStatus: 'any', countType: 'imageCountMoreThan', countNumber: 0 }, action: { type: 'expire' } }] });
    const bad = await aws('ecr', 'put-lifecycle-policy', '--repository-name', 'cli/lifecycle', '--lifecycle-policy-text', invalid);
    expect(bad.code).toBe(254);
    expect(bad.stderr).toContain('InvalidParameterException');
    expect(bad.stderr).toContain('countNumber');
    // Preview the draft first: once the policy is stored, the scheduled run (every second here) applies it.
    const started = await awsJson<{ status: string }>('ecr', 'start-lifecycle-policy-preview', '--repository-name', 'cli/lifecycle', '--lifecycle-policy-text', policy);
    expect(started.status).toBe('COMPLETE');
    const preview = await awsJson<{ previewResults: { imageTags: string[]; appliedRulePriority: number; action: { type: string } }[]; summary: { expiringImageTotalCount: number } }>(
      'ecr', 'get-lifecycle-policy-preview', '--repository-name', 'cli/lifecycle',
    );
    // "one" holds build-1 and build-3 (one image), "two" holds build-2 and release-1: the release
    // rule shields "two", so the build rule keeps one image and nothing else is left to expire.
    expect(preview.summary.expiringImageTotalCount).toBe(preview.previewResults.length);
    expect(preview.previewResults.every((r) => r.appliedRulePriority === 2 && r.action.type === 'EXPIRE')).toBe(true);
    expect(preview.previewResults.flatMap((r) => r.imageTags)).not.toContain('release-1');

    await awsJson('ecr', 'put-lifecycle-policy', '--repository-name', 'cli/lifecycle', '--lifecycle-policy-text', policy);
    const got = await awsJson<{ lifecyclePolicyText: string }>('ecr', 'get-lifecycle-policy', '--repository-name', 'cli/lifecycle');
    expect(JSON.parse(got.lifecyclePolicyText)).toEqual(JSON.parse(policy));

    // The scheduled run applies the stored policy: what the preview listed is gone, the rest stays.
    const expiring = preview.previewResults.map((r) => r.imageTags).flat();
    expect(expiring.sort()).toEqual(['build-1', 'build-3']);
    let tags: string[] = [];
    for (let i = 0; i < 40; i++) {
      await new Promise((r) => setTimeout(r, 250));
      const listed = await awsJson<{ imageIds: { imageTag?: string }[] }>('ecr', 'list-images', '--repository-name', 'cli/lifecycle');
      tags = listed.imageIds.flatMap((id) => (id.imageTag ? [id.imageTag] : []));
      if (expiring.every((t) => !tags.includes(t))) break;
    }
    for (const t of expiring) expect(tags).not.toContain(t);
    expect(tags).toContain('release-1');
    expect(tags.filter((t) => t.startsWith('build-')).length).toBeGreaterThanOrEqual(1);
    const evaluated = await awsJson<{ lastEvaluatedAt?: number }>('ecr', 'get-lifecycle-policy', '--repository-name', 'cli/lifecycle');
    expect(evaluated.lastEvaluatedAt).toBeDefined();
  });

  it('keeps a commit-hash tag in an IMMUTABLE repository from moving', async () => {
    await awsJson('ecr', 'create-repository', '--repository-name', 'cli/pipeline', '--image-tag-mutability', 'IMMUTABLE');
    const commit1 = '3f9c2a1';
    await skopeo.copy(`oci:${join(tmp, 'one')}:v1`, `docker://${server.host}/cli/pipeline:${commit1}`);
    const moved = await skopeo.run(['copy', '--dest-tls-verify=false', `oci:${join(tmp, 'two')}:v1`, `docker://${server.host}/cli/pipeline:${commit1}`]);
    expect(moved.code).not.toBe(0);
    expect(moved.stderr).toMatch(/immutable/i);
    const still = await skopeo.inspect(`docker://${server.host}/cli/pipeline:${commit1}`);
    const one = await skopeo.inspect(`oci:${join(tmp, 'one')}:v1`);
    expect(still.Layers).toEqual(one.Layers);
    await skopeo.copy(`oci:${join(tmp, 'two')}:v1`, `docker://${server.host}/cli/pipeline:8e7d6c5`);
    const tags = await skopeo.listTags(`docker://${server.host}/cli/pipeline`);
    expect(tags.Tags).toEqual([commit1, '8e7d6c5']);
  });
});
