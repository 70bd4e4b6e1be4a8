/**
 * The ECR control plane through @aws-sdk/client-ecr against a real server process:
 * success shapes, and each modelled error surfacing as the SDK's typed exception.
 */
import { createHash, randomBytes } from 'node:crypto';
import {
  BatchCheckLayerAvailabilityCommand,
  BatchDeleteImageCommand,
  BatchGetImageCommand,
  CompleteLayerUploadCommand,
  CreateRepositoryCommand,
  DeleteRepositoryCommand,
  DescribeImagesCommand,
  DescribeRepositoriesCommand,
  ECRClient,
  GetAuthorizationTokenCommand,
  GetDownloadUrlForLayerCommand,
  ImageAlreadyExistsException,
  ImageNotFoundException,
  ImageTagAlreadyExistsException,
  InitiateLayerUploadCommand,
  InvalidLayerPartException,
  InvalidParameterException,
  LayerAlreadyExistsException,
  LayersNotFoundException,
  ListImagesCommand,
  ListTagsForResourceCommand,
  PutImageCommand,
  PutImageTagMutabilityCommand,
  RepositoryAlreadyExistsException,
  RepositoryNotEmptyException,
  RepositoryNotFoundException,
  TagResourceCommand,
  UntagResourceCommand,
  UploadLayerPartCommand,
  UploadNotFoundException,
  paginateDescribeRepositories,
  paginateListImages,
  ECRServiceException,
} from '@aws-sdk/client-ecr';
import { request as httpRequest } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TEST_ROOT_CREDENTIALS, dumpServerLogsOnFailure, startBerth, type RunningServer } from '../support/server.js';

const sha256 = (b: Buffer | string): string => `sha256:${createHash('sha256').update(b).digest('hex')}`;
const OCI_MANIFEST = 'application/vnd.oci.image.manifest.v1+json';

let server: RunningServer;
let ecr: ECRClient;

beforeAll(async () => {
  server = await startBerth({ target: 'berth' });
  ecr = new ECRClient({ endpoint: server.url, region: 'us-east-1', credentials: { ...TEST_ROOT_CREDENTIALS } });
});
afterAll(async () => {
  ecr?.destroy();
  await server?.stop();
});
dumpServerLogsOnFailure(() => server);

async function uploadLayer(repo: string, data: Buffer): Promise<string> {
  const { uploadId } = await ecr.send(new InitiateLayerUploadCommand({ repositoryName: repo }));
  const half = Math.floor(data.length / 2);
  await ecr.send(new UploadLayerPartCommand({ repositoryName: repo, uploadId, partFirstByte: 0, partLastByte: half - 1, layerPartBlob: data.subarray(0, half) }));
  await ecr.send(new UploadLayerPartCommand({ repositoryName: repo, uploadId, partFirstByte: half, partLastByte: data.length - 1, layerPartBlob: data.subarray(half) }));
  const done = await ecr.send(new CompleteLayerUploadCommand({ repositoryName: repo, uploadId, layerDigests: [sha256(data)] }));
  return done.layerDigest!;
}

async function pushImage(repo: string, tag: string): Promise<{ digest: string; manifest: string; layer: string }> {
  const config = Buffer.from(JSON.stringify({ architecture: 'amd64', os: 'linux', rootfs: { type: 'layers', diff_ids: [] }, n: randomBytes(4).toString('hex') }));
  const layerData = randomBytes(2000);
  const configDigest = await uploadLayer(repo, config);
  const layer = await uploadLayer(repo, layerData);
  const manifest = JSON.stringify({
    schemaVersion: 2,
    mediaType: OCI_MANIFEST,
    config: { mediaType: 'application/vnd.oci.image.config.v1+json', digest: configDigest, size: config.length },
    layers: [{ mediaType: 'application/vnd.oci.image.layer.v1.tar+gzip', digest: layer, size: layerData.length }],
  });
  const put = await ecr.send(new PutImageCommand({ repositoryName: repo, imageManifest: manifest, imageManifestMediaType: OCI_MANIFEST, imageTag: tag }));
  return { digest: put.image!.imageId!.imageDigest!, manifest, layer };
}

describe('ECR control plane via @aws-sdk/client-ecr', () => {
  it('creates, describes with pagination, tags and deletes repositories', async () => {
    const created = await ecr.send(
      new CreateRepositoryCommand({ repositoryName: 'sdk/one', tags: [{ Key: 'team', Value: 'platform' }], imageScanningConfiguration: { scanOnPush: true } }),
    );
    const repo = created.repository!;
    expect(repo.repositoryName).toBe('sdk/one');
    expect(repo.repositoryArn).toMatch(/^arn:aws:ecr:us-east-1:\d{12}:repository\/sdk\/one$/);
    expect(repo.repositoryUri).toBe(`${server.host}/sdk/one`);
    expect(repo.createdAt).toBeInstanceOf(Date);
    expect(repo.imageScanningConfiguration?.scanOnPush).toBe(true);
    await expect(ecr.send(new CreateRepositoryCommand({ repositoryName: 'sdk/one' }))).rejects.toBeInstanceOf(RepositoryAlreadyExistsException);

    for (const n of ['sdk/p1', 'sdk/p2', 'sdk/p3', 'sdk/p4', 'sdk/p5']) await ecr.send(new CreateRepositoryCommand({ repositoryName: n }));
    const names: string[] = [];
    let pages = 0;
    for await (const page of paginateDescribeRepositories({ client: ecr, pageSize: 2 }, {})) {
      pages++;
      names.push(...(page.repositories ?? []).map((r) => r.repositoryName!));
    }
    expect(pages).toBeGreaterThanOrEqual(3);
    expect(names.filter((n) => n.startsWith('sdk/'))).toEqual(['sdk/one', 'sdk/p1', 'sdk/p2', 'sdk/p3', 'sdk/p4', 'sdk/p5']);
    await expect(ecr.send(new DescribeRepositoriesCommand({ nextToken: 'forged.token' }))).rejects.toBeInstanceOf(InvalidParameterException);
    await expect(ecr.send(new DescribeRepositoriesCommand({ repositoryNames: ['sdk/none'] }))).rejects.toBeInstanceOf(RepositoryNotFoundException);

    await ecr.send(new TagResourceCommand({ resourceArn: repo.repositoryArn, tags: [{ Key: 'env', Value: 'prod' }] }));
    await ecr.send(new UntagResourceCommand({ resourceArn: repo.repositoryArn, tagKeys: ['team'] }));
    const tags = await ecr.send(new ListTagsForResourceCommand({ resourceArn: repo.repositoryArn }));
    expect(tags.tags).toEqual([{ Key: 'env', Value: 'prod' }]);

    const deleted = await ecr.send(new DeleteRepositoryCommand({ repositoryName: 'sdk/p1' }));
    expect(deleted.repository?.repositoryName).toBe('sdk/p1');
    await expect(ecr.send(new DeleteRepositoryCommand({ repositoryName: 'sdk/p1' }))).rejects.toBeInstanceOf(RepositoryNotFoundException);
  });

  it('validates input against the model and names the member', async () => {
    const err = await ecr.send(new CreateRepositoryCommand({ repositoryName: 'Bad Name' })).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(InvalidParameterException);
    expect((err as Error).message).toContain('repositoryName');
    const err2 = await ecr.send(new DescribeRepositoriesCommand({ maxResults: 5000 })).catch((e: unknown) => e);
    expect(err2).toBeInstanceOf(InvalidParameterException);
    expect((err2 as Error).message).toContain('maxResults');
  });

  it('uploads layers, puts, describes, lists, gets and deletes images', async () => {
    const repo = 'sdk/images';
    await ecr.send(new CreateRepositoryCommand({ repositoryName: repo }));
    const v1 = await pushImage(repo, 'v1');
    const avail = await ecr.send(new BatchCheckLayerAvailabilityCommand({ repositoryName: repo, layerDigests: [v1.layer, sha256('missing')] }));
    expect(avail.layers?.[0]).toMatchObject({ layerDigest: v1.layer, layerAvailability: 'AVAILABLE', layerSize: 2000 });
    expect(avail.failures?.[0]).toMatchObject({ layerDigest: sha256('missing'), failureCode: 'MissingLayerDigest' });

    await expect(ecr.send(new PutImageCommand({ repositoryName: repo, imageManifest: v1.manifest, imageTag: 'v1' }))).rejects.toBeInstanceOf(ImageAlreadyExistsException);
    await ecr.send(new PutImageCommand({ repositoryName: repo, imageManifest: v1.manifest, imageManifestMediaType: OCI_MANIFEST, imageTag: 'latest' }));
    const v2 = await pushImage(repo, 'v2');

    const described = await ecr.send(new DescribeImagesCommand({ repositoryName: repo }));
    const d1 = described.imageDetails!.find((d) => d.imageDigest === v1.digest)!;
    expect(d1.imageTags).toEqual(['latest', 'v1']);
    expect(d1.imageManifestMediaType).toBe(OCI_MANIFEST);
    expect(d1.imageSizeInBytes).toBeGreaterThan(2000);
    expect(d1.imagePushedAt).toBeInstanceOf(Date);
    await expect(ecr.send(new DescribeImagesCommand({ repositoryName: repo, imageIds: [{ imageTag: 'nope' }] }))).rejects.toBeInstanceOf(ImageNotFoundException);

    const ids: string[] = [];
    for await (const page of paginateListImages({ client: ecr, pageSize: 1 }, { repositoryName: repo })) ids.push(...(page.imageIds ?? []).map((i) => `${i.imageTag}`));
    expect(ids.sort()).toEqual(['latest', 'v1', 'v2']);

    const pulledAt = async (): Promise<Date | undefined> =>
      (await ecr.send(new DescribeImagesCommand({ repositoryName: repo, imageIds: [{ imageDigest: v2.digest }] }))).imageDetails?.[0]?.lastRecordedPullTime;
    expect(await pulledAt()).toBeUndefined();
    const beforePull = Date.now();
    const got = await ecr.send(new BatchGetImageCommand({ repositoryName: repo, imageIds: [{ imageTag: 'v2' }, { imageTag: 'absent' }] }));
    expect(got.images?.[0]?.imageManifest).toBe(v2.manifest);
    expect(got.images?.[0]?.imageId?.imageDigest).toBe(v2.digest);
    expect(got.failures?.[0]).toMatchObject({ imageId: { imageTag: 'absent' }, failureCode: 'ImageNotFound' });
    // BatchGetImage is a pull: its time is recorded (in a batch, within a moment), as for a /v2/ GET.
    let recorded = await pulledAt();
    for (let waited = 0; recorded === undefined && waited < 5000; waited += 50) {
      await new Promise((r) => setTimeout(r, 50));
      recorded = await pulledAt();
    }
    expect(recorded?.getTime()).toBeGreaterThanOrEqual(beforePull - 1000);

    const url = await ecr.send(new GetDownloadUrlForLayerCommand({ repositoryName: repo, layerDigest: v1.layer }));
    const blob = Buffer.from(await (await fetch(url.downloadUrl!)).arrayBuffer());
    expect(sha256(blob)).toBe(v1.layer);
    await expect(ecr.send(new GetDownloadUrlForLayerCommand({ repositoryName: repo, layerDigest: sha256('nope') }))).rejects.toBeInstanceOf(LayersNotFoundException);

    const del = await ecr.send(new BatchDeleteImageCommand({ repositoryName: repo, imageIds: [{ imageTag: 'v1' }, { imageDigest: v2.digest }, { imageTag: 'ghost' }] }));
    expect(del.imageIds).toEqual(expect.arrayContaining([{ imageDigest: v1.digest, imageTag: 'v1' }, { imageDigest: v2.digest, imageTag: 'v2' }]));
    expect(del.failures?.[0]).toMatchObject({ failureCode: 'ImageNotFound' });
    const left = await ecr.send(new ListImagesCommand({ repositoryName: repo }));
    expect(left.imageIds).toEqual([{ imageDigest: v1.digest, imageTag: 'latest' }]);

    await expect(ecr.send(new DeleteRepositoryCommand({ repositoryName: repo }))).rejects.toBeInstanceOf(RepositoryNotEmptyException);
    await ecr.send(new DeleteRepositoryCommand({ repositoryName: repo, force: true }));
    await expect(ecr.send(new ListImagesCommand({ repositoryName: repo }))).rejects.toBeInstanceOf(RepositoryNotFoundException);
  });

  it('refuses out-of-order parts, unknown uploads and layers that exist', async () => {
    const repo = 'sdk/layers';
    await ecr.send(new CreateRepositoryCommand({ repositoryName: repo }));
    const { uploadId } = await ecr.send(new InitiateLayerUploadCommand({ repositoryName: repo }));
    await expect(
      ecr.send(new UploadLayerPartCommand({ repositoryName: repo, uploadId, partFirstByte: 10, partLastByte: 19, layerPartBlob: Buffer.alloc(10) })),
    ).rejects.toBeInstanceOf(InvalidLayerPartException);
    await expect(
      ecr.send(new UploadLayerPartCommand({ repositoryName: repo, uploadId: '00000000-0000-4000-8000-000000000000', partFirstByte: 0, partLastByte: 0, layerPartBlob: Buffer.alloc(1) })),
    ).rejects.toBeInstanceOf(UploadNotFoundException);
    const data = randomBytes(100);
    await uploadLayer(repo, data);
    await expect(uploadLayer(repo, data)).rejects.toBeInstanceOf(LayerAlreadyExistsException);
  });

  it('keeps immutable tags immutable on PutImage and /v2/, with exclusion filters', async () => {
    const repo = 'sdk/immutable';
    await ecr.send(new CreateRepositoryCommand({ repositoryName: repo, imageTagMutability: 'IMMUTABLE_WITH_EXCLUSION', imageTagMutabilityExclusionFilters: [{ filterType: 'WILDCARD', filter: 'latest' }] }));
    const a = await pushImage(repo, 'abc123');
    await expect(pushImage(repo, 'abc123')).rejects.toBeInstanceOf(ImageTagAlreadyExistsException);
    const put = await fetch(`${server.url}/v2/${repo}/manifests/abc123`, { method: 'PUT', body: (await pushImage(repo, 'def456')).manifest, headers: { 'content-type': OCI_MANIFEST } });
    expect(put.status).toBe(400);
    expect(((await put.json()) as { errors: { code: string }[] }).errors[0]!.code).toBe('TAG_INVALID');
    await ecr.send(new PutImageCommand({ repositoryName: repo, imageManifest: a.manifest, imageTag: 'latest' }));
    await pushImage(repo, 'latest');
    const r = await ecr.send(new PutImageTagMutabilityCommand({ repositoryName: repo, imageTagMutability: 'MUTABLE' }));
    expect(r.imageTagMutability).toBe('MUTABLE');
    await pushImage(repo, 'abc123');
  });

  it('answers GetAuthorizationToken with a colon-free password that docker clients accept', async () => {
    const t = await ecr.send(new GetAuthorizationTokenCommand({}));
    const data = t.authorizationData![0]!;
    const [user, password] = Buffer.from(data.authorizationToken!, 'base64').toString().split(':');
    expect(user).toBe('AWS');
    expect(password).toMatch(/^[A-Za-z0-9_.-]+$/);
    expect(data.expiresAt!.getTime() - Date.now()).toBeGreaterThan(11 * 3600 * 1000);
    expect(data.proxyEndpoint).toBe(server.url);
  });

  it('refuses unsigned requests and wrong credentials', async () => {
    const unsigned = await fetch(server.url, {
      method: 'POST',
      body: '{}',
      headers: { 'content-type': 'application/x-amz-json-1.1', 'x-amz-target': 'AmazonEC2ContainerRegistry_V20150921.DescribeRepositories' },
    });
    expect(unsigned.status).toBe(403);
    // A body announced over the 32 MiB limit is refused before it is read (the server may close
    // the connection while a client is still sending, so only the announcement is sent here).
    const huge = await new Promise<{ status: number; type: string | undefined }>((resolve, reject) => {
      const { hostname, port } = new URL(server.url);
      const req = httpRequest(
        { hostname, port, method: 'POST', path: '/', headers: { 'content-type': 'application/x-amz-json-1.1', 'content-length': String(33 * 1024 * 1024), 'x-amz-target': 'AmazonEC2ContainerRegistry_V20150921.PutImage' } },
        (res) => {
          res.resume();
          resolve({ status: res.statusCode ?? 0, type: res.headers['x-amzn-errortype'] as string | undefined });
        },
      );
      req.on('error', reject);
      req.write('{');
    });
    expect(huge.status).toBe(413);
    expect(huge.type).toBe('SerializationException');
    expect(unsigned.headers.get('x-amzn-errortype')).toBe('UnrecognizedClientException');
    expect(((await unsigned.json()) as { __type: string }).__type).toBe('UnrecognizedClientException');
    const wrong = new ECRClient({ endpoint: server.url, region: 'us-east-1', credentials: { accessKeyId: TEST_ROOT_CREDENTIALS.accessKeyId, secretAccessKey: 'not-the-secret' } });
    const err = await wrong.send(new DescribeRepositoriesCommand({})).catch((e: unknown) => e);
    expect((err as Error).name).toBe('UnrecognizedClientException');
    expect((err as Error).message).toContain('signature');
    const unknown = new ECRClient({ endpoint: server.url, region: 'us-east-1', credentials: { accessKeyId: 'AKIANOBODY0000000000', secretAccessKey: 'x' } });
    expect(((await unknown.send(new DescribeRepositoriesCommand({})).catch((e: unknown) => e)) as Error).name).toBe('UnrecognizedClientException');
    wrong.destroy();
    unknown.destroy();
  });

  it('generates a root key on first start when none is given, and keeps it across restarts', async () => {
    const { readFile, stat } = await import('node:fs/promises');
    const { join } = await import('node:path');
    const fresh = await startBerth({ target: 'berth', env: { BERTH_ROOT_ACCESS_KEY_ID: undefined, BERTH_ROOT_SECRET_ACCESS_KEY: undefined } });
    try {
      const file = join(fresh.dataDir, 'root-credentials');
      expect((await stat(file)).mode & 0o777).toBe(0o600);
      const text = await readFile(file, 'utf8');
      const accessKeyId = /AWS_ACCESS_KEY_ID=(\S+)/.exec(text)![1]!;
      const secretAccessKey = /AWS_SECRET_ACCESS_KEY=(\S+)/.exec(text)![1]!;
      expect(fresh.logs()).toContain(accessKeyId);
      expect(fresh.logs().split('\n').filter((l) => l.startsWith('{')).join('\n')).not.toContain(secretAccessKey);
      await fresh.restart();
      const c = new ECRClient({ endpoint: fresh.url, region: 'us-east-1', credentials: { accessKeyId, secretAccessKey } });
      await c.send(new CreateRepositoryCommand({ repositoryName: 'generated/key' }));
      c.destroy();
    } finally {
      await fresh.stop();
    }
  });

  it('answers operations Berth does not implement yet with a clear error', async () => {
    const { CreatePullThroughCacheRuleCommand } = await import('@aws-sdk/client-ecr');
    const err = await ecr.send(new CreatePullThroughCacheRuleCommand({ ecrRepositoryPrefix: 'hub', upstreamRegistryUrl: 'registry-1.docker.io' })).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ECRServiceException);
    expect((err as Error).name).toBe('UnsupportedOperationException');
    expect((err as Error).message).toContain('CreatePullThroughCacheRule');
  });
});
