import { Readable } from 'node:stream';
import { BerthError } from '../../../core/errors.js';
import { checkRegistryId, type EcrHandlers } from '../context.js';

/** The part size ECR clients are told to use (UploadLayerPart accepts up to 20 MiB). */
const PART_SIZE = 10 * 1024 * 1024;
export const DOWNLOAD_URL_TTL_MS = 10 * 60 * 1000;

export const layerHandlers: EcrHandlers = {
  async BatchCheckLayerAvailability(call, input) {
    checkRegistryId(call, input.registryId);
    const r = await call.services.images.layerAvailability(input.repositoryName, input.layerDigests);
    return {
      layers: r.layers.map((l) => ({ layerDigest: l.digest, layerAvailability: 'AVAILABLE', layerSize: l.size, mediaType: 'application/octet-stream' })),
      failures: r.failures.map((f) => ({ layerDigest: f.digest, failureCode: f.code, failureReason: f.reason })),
    };
  },

  async InitiateLayerUpload(call, input) {
    checkRegistryId(call, input.registryId);
    const s = await call.services.uploads.start(input.repositoryName);
    return { uploadId: s.id, partSize: PART_SIZE };
  },

  async UploadLayerPart(call, input) {
    checkRegistryId(call, input.registryId);
    const data = Buffer.from(input.layerPartBlob, 'base64');
    if (input.partLastByte - input.partFirstByte + 1 !== data.length) {
      throw new BerthError('UPLOAD_INVALID', `the part holds ${data.length} bytes but partFirstByte..partLastByte covers ${input.partLastByte - input.partFirstByte + 1}`);
    }
    const s = await call.services.uploads.append(input.repositoryName, input.uploadId, Readable.from([data]), {
      range: { start: input.partFirstByte, end: input.partLastByte },
      length: data.length,
    });
    return { registryId: call.services.account.id, repositoryName: input.repositoryName, uploadId: input.uploadId, lastByteReceived: s.offset - 1 };
  },

  async CompleteLayerUpload(call, input) {
    checkRegistryId(call, input.registryId);
    if (input.layerDigests.length !== 1) throw new BerthError('INVALID_PARAMETER', 'exactly one layer digest is expected');
    const blob = await call.services.uploads.complete(input.repositoryName, input.uploadId, input.layerDigests[0]!, null, { refuseExisting: true });
    return { registryId: call.services.account.id, repositoryName: input.repositoryName, uploadId: input.uploadId, layerDigest: blob.digest };
  },

  async GetDownloadUrlForLayer(call, input) {
    checkRegistryId(call, input.registryId);
    await call.services.blobs.stat(input.repositoryName, input.layerDigest);
    const token = await call.services.tokens.sign('download', { r: input.repositoryName, d: input.layerDigest }, DOWNLOAD_URL_TTL_MS);
    return { downloadUrl: `${call.baseUrl}/berth/download/${token}`, layerDigest: input.layerDigest };
  },

  async GetAuthorizationToken(call, input) {
    for (const id of input.registryIds ?? []) checkRegistryId(call, id);
    const ttl = 12 * 3600 * 1000;
    const { token: password, expiresAt } = await call.services.auth.loginToken(call.principal, ttl);
    return {
      authorizationData: [
        {
          authorizationToken: Buffer.from(`AWS:${password}`).toString('base64'),
          expiresAt: new Date(expiresAt),
          proxyEndpoint: call.baseUrl,
        },
      ],
    };
  },
};
