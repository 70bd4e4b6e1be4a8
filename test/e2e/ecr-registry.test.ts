/**
 * Registry-level ECR operations through @aws-sdk/client-ecr: creation templates and
 * create-on-push, account settings, scanning configuration, DescribeRegistry and
 * ListImageReferrers; and a registry with create-on-push turned off.
 */
import { createHash } from 'node:crypto';
import {
  BatchGetRepositoryScanningConfigurationCommand,
  CreateRepositoryCommand,
  CreateRepositoryCreationTemplateCommand,
  DeleteRepositoryCreationTemplateCommand,
  DescribeRegistryCommand,
  DescribeRepositoriesCommand,
  DescribeRepositoryCreationTemplatesCommand,
  ECRClient,
  GetAccountSettingCommand,
  GetRegistryScanningConfigurationCommand,
  InvalidParameterException,
  ListImageReferrersCommand,
  ListTagsForResourceCommand,
  PutAccountSettingCommand,
  PutRegistryScanningConfigurationCommand,
  TemplateAlreadyExistsException,
  TemplateNotFoundException,
  UpdateRepositoryCreationTemplateCommand,
} from '@aws-sdk/client-ecr';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TEST_ROOT_CREDENTIALS, dumpServerLogsOnFailure, startBerth, type RunningServer } from '../support/server.js';

const sha256 = (b: Buffer | string): string => `sha256:${createHash('sha256').update(b).digest('hex')}`;
const OCI_MANIFEST = 'application/vnd.oci.image.manifest.v1+json';

async function pushBlob(url: string, repo: string, data: string): Promise<Response> {
  return fetch(`${url}/v2/${repo}/blobs/uploads/?digest=${sha256(data)}`, { method: 'POST', body: data, headers: { 'content-type': 'application/octet-stream' } });
}

async function pushManifest(url: string, repo: string, tag: string, extra: Record<string, unknown> = {}): Promise<{ status: number; digest: string; body: string }> {
  const config = '{"architecture":"amd64","os":"linux"}';
  const layer = `layer of ${repo}:${tag}`;
  await pushBlob(url, repo, config);
  await pushBlob(url, repo, layer);
  const body = JSON.stringify({
    schemaVersion: 2,
    mediaType: OCI_MANIFEST,
    config: { mediaType: 'application/vnd.oci.image.config.v1+json', digest: sha256(config), size: config.length },
    layers: [{ mediaType: 'application/vnd.oci.image.layer.v1.tar', digest: sha256(layer), size: layer.length }],
    ...extra,
  });
  const r = await fetch(`${url}/v2/${repo}/manifests/${tag}`, { method: 'PUT', body, headers: { 'content-type': OCI_MANIFEST } });
  return { status: r.status, digest: sha256(body), body };
}

function client(server: RunningServer): ECRClient {
  return new ECRClient({ endpoint: server.url, region: 'us-east-1', credentials: { ...TEST_ROOT_CREDENTIALS } });
}

describe('registry-level ECR operations', () => {
  let server: RunningServer;
  let ecr: ECRClient;
  beforeAll(async () => {
    server = await startBerth({ target: 'berth' });
    ecr = client(server);
  });
  afterAll(async () => {
    ecr?.destroy();
    await server?.stop();
  });
  dumpServerLogsOnFailure(() => server);

  it('applies the longest matching CREATE_ON_PUSH template to a repository a push creates', async () => {
    await ecr.send(new CreateRepositoryCreationTemplateCommand({ prefix: 'ROOT', appliedFor: ['CREATE_ON_PUSH'], resourceTags: [{ Key: 'from', Value: 'root' }] }));
    await ecr.send(
      new CreateRepositoryCreationTemplateCommand({
        prefix: 'prod',
        appliedFor: ['CREATE_ON_PUSH'],
        imageTagMutability: 'IMMUTABLE',
        resourceTags: [{ Key: 'from', Value: 'prod' }],
        description: 'production images',
      }),
    );
    await expect(ecr.send(new CreateRepositoryCreationTemplateCommand({ prefix: 'prod', appliedFor: ['CREATE_ON_PUSH'] }))).rejects.toBeInstanceOf(TemplateAlreadyExistsException);
    expect((await pushManifest(server.url, 'prod/api', 'v1')).status).toBe(201);
    expect((await pushManifest(server.url, 'dev/api', 'v1')).status).toBe(201);
    const [prod] = (await ecr.send(new DescribeRepositoriesCommand({ repositoryNames: ['prod/api'] }))).repositories!;
    expect(prod!.imageTagMutability).toBe('IMMUTABLE');
    expect((await ecr.send(new ListTagsForResourceCommand({ resourceArn: prod!.repositoryArn }))).tags).toEqual([{ Key: 'from', Value: 'prod' }]);
    const [dev] = (await ecr.send(new DescribeRepositoriesCommand({ repositoryNames: ['dev/api'] }))).repositories!;
    expect(dev!.imageTagMutability).toBe('MUTABLE');
    expect((await ecr.send(new ListTagsForResourceCommand({ resourceArn: dev!.repositoryArn }))).tags).toEqual([{ Key: 'from', Value: 'root' }]);
    expect((await pushManifest(server.url, 'prod/api', 'v1', { annotations: { changed: 'yes' } })).status).toBe(400);

    const updated = await ecr.send(new UpdateRepositoryCreationTemplateCommand({ prefix: 'prod', imageTagMutability: 'MUTABLE' }));
    expect(updated.repositoryCreationTemplate?.imageTagMutability).toBe('MUTABLE');
    expect(updated.repositoryCreationTemplate?.description).toBe('production images');
    const listed = await ecr.send(new DescribeRepositoryCreationTemplatesCommand({}));
    expect(listed.repositoryCreationTemplates?.map((t) => t.prefix)).toEqual(['ROOT', 'prod']);
    await ecr.send(new DeleteRepositoryCreationTemplateCommand({ prefix: 'prod' }));
    await expect(ecr.send(new DeleteRepositoryCreationTemplateCommand({ prefix: 'prod' }))).rejects.toBeInstanceOf(TemplateNotFoundException);
  });

  it('keeps account settings and the registry scanning configuration', async () => {
    expect((await ecr.send(new GetAccountSettingCommand({ name: 'BASIC_SCAN_TYPE_VERSION' }))).value).toBe('AWS_NATIVE');
    await ecr.send(new PutAccountSettingCommand({ name: 'BASIC_SCAN_TYPE_VERSION', value: 'CLAIR' }));
    expect((await ecr.send(new GetAccountSettingCommand({ name: 'BASIC_SCAN_TYPE_VERSION' }))).value).toBe('CLAIR');
    await expect(ecr.send(new PutAccountSettingCommand({ name: 'NOT_A_SETTING', value: 'x' }))).rejects.toBeInstanceOf(InvalidParameterException);

    expect((await ecr.send(new GetRegistryScanningConfigurationCommand({}))).scanningConfiguration).toEqual({ scanType: 'BASIC', rules: [] });
    await ecr.send(
      new PutRegistryScanningConfigurationCommand({
        scanType: 'ENHANCED',
        rules: [{ scanFrequency: 'CONTINUOUS_SCAN', repositoryFilters: [{ filter: 'prod/*', filterType: 'WILDCARD' }] }],
      }),
    );
    await ecr.send(new CreateRepositoryCommand({ repositoryName: 'scan/manual' }));
    await ecr.send(new CreateRepositoryCommand({ repositoryName: 'scan/onpush', imageScanningConfiguration: { scanOnPush: true } }));
    const r = await ecr.send(new BatchGetRepositoryScanningConfigurationCommand({ repositoryNames: ['prod/api', 'scan/manual', 'scan/onpush', 'scan/missing'] }));
    const byName = Object.fromEntries(r.scanningConfigurations!.map((c) => [c.repositoryName, c.scanFrequency]));
    expect(byName).toEqual({ 'prod/api': 'CONTINUOUS_SCAN', 'scan/manual': 'MANUAL', 'scan/onpush': 'SCAN_ON_PUSH' });
    expect(r.failures).toEqual([{ repositoryName: 'scan/missing', failureCode: 'REPOSITORY_NOT_FOUND', failureReason: 'REPOSITORY_NOT_FOUND' }]);
    const reg = await ecr.send(new DescribeRegistryCommand({}));
    expect(reg.registryId).toMatch(/^\d{12}$/);
  });

  it('validates, stores and deletes repository and registry policies', async () => {
    const {
      SetRepositoryPolicyCommand,
      GetRepositoryPolicyCommand,
      DeleteRepositoryPolicyCommand,
      PutRegistryPolicyCommand,
      GetRegistryPolicyCommand,
      DeleteRegistryPolicyCommand,
      RepositoryPolicyNotFoundException,
      RegistryPolicyNotFoundException,
    } = await import('@aws-sdk/client-ecr');
    await ecr.send(new CreateRepositoryCommand({ repositoryName: 'pol/app' }));
    const policy = JSON.stringify({
      Version: '2012-10-17',
      Statement: [{ Sid: 'pull', Effect: 'Allow', Principal: { AWS: 'arn:aws:iam::111122223333:root' }, Action: ['ecr:BatchGetImage', 'ecr:GetDownloadUrlForLayer'] }],
    });
    await expect(ecr.send(new GetRepositoryPolicyCommand({ repositoryName: 'pol/app' }))).rejects.toBeInstanceOf(RepositoryPolicyNotFoundException);
    await ecr.send(new SetRepositoryPolicyCommand({ repositoryName: 'pol/app', policyText: policy }));
    expect((await ecr.send(new GetRepositoryPolicyCommand({ repositoryName: 'pol/app' }))).policyText).toBe(policy);
    const bad = await ecr
      .send(new SetRepositoryPolicyCommand({ repositoryName: 'pol/app', policyText: JSON.stringify({ Version: '2012-10-17', Statement: [{ Effect: 'Maybe', Principal: '*', Action: 'ecr:*' }] }) }))
      .catch((e: unknown) => e);
    expect(bad).toBeInstanceOf(InvalidParameterException);
    expect((bad as Error).message).toContain('Statement[0].Effect');
    expect((await ecr.send(new DeleteRepositoryPolicyCommand({ repositoryName: 'pol/app' }))).policyText).toBe(policy);
    await expect(ecr.send(new DeleteRepositoryPolicyCommand({ repositoryName: 'pol/app' }))).rejects.toBeInstanceOf(RepositoryPolicyNotFoundException);

    await expect(ecr.send(new GetRegistryPolicyCommand({}))).rejects.toBeInstanceOf(RegistryPolicyNotFoundException);
    const regPolicy = JSON.stringify({
      Version: '2012-10-17',
      Statement: [{ Sid: 'replicate', Effect: 'Allow', Principal: { AWS: 'arn:aws:iam::111122223333:root' }, Action: ['ecr:CreateRepository', 'ecr:ReplicateImage'], Resource: '*' }],
    });
    await ecr.send(new PutRegistryPolicyCommand({ policyText: regPolicy }));
    expect((await ecr.send(new GetRegistryPolicyCommand({}))).policyText).toBe(regPolicy);
    await ecr.send(new DeleteRegistryPolicyCommand({}));
    await expect(ecr.send(new DeleteRegistryPolicyCommand({}))).rejects.toBeInstanceOf(RegistryPolicyNotFoundException);
  });

  it('lists image referrers with artifact type filters', async () => {
    const subject = await pushManifest(server.url, 'refs/app', 'v1');
    await pushBlob(server.url, 'refs/app', '{}');
    const empty = { mediaType: 'application/vnd.oci.empty.v1+json', digest: sha256('{}'), size: 2 };
    const referrer = (artifactType: string): string =>
      JSON.stringify({ schemaVersion: 2, mediaType: OCI_MANIFEST, artifactType, config: empty, layers: [], subject: { mediaType: OCI_MANIFEST, digest: subject.digest, size: subject.body.length } });
    for (const t of ['application/vnd.example.sig', 'application/spdx+json']) {
      const body = referrer(t);
      const r = await fetch(`${server.url}/v2/refs/app/manifests/${sha256(body)}`, { method: 'PUT', body, headers: { 'content-type': OCI_MANIFEST } });
      expect(r.status).toBe(201);
    }
    const all = await ecr.send(new ListImageReferrersCommand({ repositoryName: 'refs/app', subjectId: { imageDigest: subject.digest } }));
    expect(all.referrers?.map((r) => r.artifactType).sort()).toEqual(['application/spdx+json', 'application/vnd.example.sig']);
    const sboms = await ecr.send(new ListImageReferrersCommand({ repositoryName: 'refs/app', subjectId: { imageDigest: subject.digest }, filter: { artifactTypes: ['application/spdx+json'] } }));
    expect(sboms.referrers).toHaveLength(1);
    expect(sboms.referrers?.[0]?.artifactStatus).toBe('ACTIVE');
  });
});

describe('a registry with create-on-push turned off', () => {
  let server: RunningServer;
  let ecr: ECRClient;
  beforeAll(async () => {
    server = await startBerth({ target: 'berth', env: { BERTH_REGISTRY__CREATE_ON_PUSH: 'false' } });
    ecr = client(server);
  });
  afterAll(async () => {
    ecr?.destroy();
    await server?.stop();
  });

  it('refuses a push to a missing repository with NAME_UNKNOWN unless a CREATE_ON_PUSH template matches', async () => {
    const r = await pushBlob(server.url, 'nope/app', 'data');
    expect(r.status).toBe(404);
    expect(((await r.json()) as { errors: { code: string }[] }).errors[0]!.code).toBe('NAME_UNKNOWN');
    await ecr.send(new CreateRepositoryCommand({ repositoryName: 'made/app' }));
    expect((await pushManifest(server.url, 'made/app', 'v1')).status).toBe(201);
    await ecr.send(new CreateRepositoryCreationTemplateCommand({ prefix: 'auto', appliedFor: ['CREATE_ON_PUSH'] }));
    expect((await pushManifest(server.url, 'auto/app', 'v1')).status).toBe(201);
    expect((await pushManifest(server.url, 'autox/app', 'v1')).status).toBe(404);
  });
});
