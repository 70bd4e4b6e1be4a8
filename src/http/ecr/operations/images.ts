import type { ImageFailure, ImageRef } from '../../../services/registry/image-service.js';
import { checkRegistryId, type EcrCall, type EcrHandlers } from '../context.js';
import type { ImageDetail, ImageFailure as EcrImageFailure, ImageIdentifier } from '../generated/ecr-model.js';
import { nextToken, readNextToken } from '../pagination.js';
import { scanFieldsOf } from './scanning.js';

const toRef = (id: ImageIdentifier): ImageRef => ({ ...(id.imageDigest !== undefined ? { digest: id.imageDigest } : {}), ...(id.imageTag !== undefined ? { tag: id.imageTag } : {}) });
const toId = (ref: ImageRef): ImageIdentifier => ({ ...(ref.digest !== undefined ? { imageDigest: ref.digest } : {}), ...(ref.tag !== undefined ? { imageTag: ref.tag } : {}) });
const toFailure = (f: ImageFailure): EcrImageFailure => ({ imageId: toId(f.ref), failureCode: f.code, failureReason: f.reason });

function registry(call: EcrCall, registryId: string | undefined): string {
  checkRegistryId(call, registryId);
  return call.services.account.id;
}

export const imageHandlers: EcrHandlers = {
  async DescribeImages(call, input) {
    const registryId = registry(call, input.registryId);
    const after = await readNextToken(call, 'DescribeImages', input.repositoryName, input.nextToken);
    const page = await call.services.images.describe(input.repositoryName, {
      limit: input.maxResults ?? 100,
      ...(input.imageIds ? { refs: input.imageIds.map(toRef) } : {}),
      ...(input.filter?.tagStatus ? { tagStatus: input.filter.tagStatus } : {}),
      ...(after !== undefined ? { after } : {}),
    });
    const scans = page.images.length > 0 ? await scanFieldsOf(call, page.images[0]!.repositoryId, page.images.map((img) => img.digest)) : new Map();
    const imageDetails: ImageDetail[] = page.images.map((img) => ({
      registryId,
      repositoryName: input.repositoryName,
      imageDigest: img.digest,
      ...(img.tags.length > 0 ? { imageTags: img.tags } : {}),
      imageSizeInBytes: img.sizeBytes,
      imagePushedAt: new Date(img.pushedAt),
      imageManifestMediaType: img.mediaType,
      ...(img.artifactType ? { artifactMediaType: img.artifactType } : {}),
      ...(img.lastPulledAt !== null ? { lastRecordedPullTime: new Date(img.lastPulledAt) } : {}),
      ...(img.subjectDigest ? { subjectManifestDigest: img.subjectDigest } : {}),
      imageStatus: 'ACTIVE',
      ...scans.get(img.digest),
    }));
    return { imageDetails, ...(page.next ? { nextToken: await nextToken(call, 'DescribeImages', input.repositoryName, page.next) } : {}) };
  },

  async ListImages(call, input) {
    registry(call, input.registryId);
    const after = await readNextToken(call, 'ListImages', input.repositoryName, input.nextToken);
    const page = await call.services.images.describe(input.repositoryName, {
      limit: input.maxResults ?? 100,
      ...(input.filter?.tagStatus ? { tagStatus: input.filter.tagStatus } : {}),
      ...(after !== undefined ? { after } : {}),
    });
    const imageIds: ImageIdentifier[] = page.images.flatMap((img) =>
      img.tags.length === 0 ? [{ imageDigest: img.digest }] : img.tags.map((imageTag) => ({ imageDigest: img.digest, imageTag })),
    );
    return { imageIds, ...(page.next ? { nextToken: await nextToken(call, 'ListImages', input.repositoryName, page.next) } : {}) };
  },

  async BatchGetImage(call, input) {
    const registryId = registry(call, input.registryId);
    const r = await call.services.images.batchGet(input.repositoryName, input.imageIds.map(toRef), input.acceptedMediaTypes);
    return {
      images: r.images.map((img) => ({
        registryId,
        repositoryName: input.repositoryName,
        imageId: toId(img.ref),
        imageManifest: img.content.toString('utf8'),
        imageManifestMediaType: img.row.mediaType,
      })),
      failures: r.failures.map(toFailure),
    };
  },

  async BatchDeleteImage(call, input) {
    registry(call, input.registryId);
    const r = await call.services.images.batchDelete(input.repositoryName, input.imageIds.map(toRef));
    return { imageIds: r.deleted.map(toId), failures: r.failures.map(toFailure) };
  },

  async PutImage(call, input) {
    const registryId = registry(call, input.registryId);
    const result = await call.services.manifests.put(input.repositoryName, input.imageTag ?? null, Buffer.from(input.imageManifest, 'utf8'), input.imageManifestMediaType ?? '', {
      refuseUnchanged: true,
      ...(input.imageDigest !== undefined ? { expectedDigest: input.imageDigest } : {}),
    });
    return {
      image: {
        registryId,
        repositoryName: input.repositoryName,
        imageId: { imageDigest: result.digest, ...(input.imageTag !== undefined ? { imageTag: input.imageTag } : {}) },
        imageManifest: input.imageManifest,
        ...(input.imageManifestMediaType ? { imageManifestMediaType: input.imageManifestMediaType } : {}),
      },
    };
  },
};
