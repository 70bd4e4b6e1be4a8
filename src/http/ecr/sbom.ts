import type { FastifyInstance } from 'fastify';
import { BerthError, isBerthError } from '../../core/errors.js';
import type { Principal } from '../../services/identity/principal.js';
import type { SbomFormat } from '../../services/scanning/sbom.js';
import { principalOfRequest } from '../oci/authenticate.js';
import type { EcrServices } from './context.js';
import { ECR_ERRORS, statusOf } from './errors.js';

/**
 * GET /berth/sbom?repositoryName=&imageTag=|imageDigest=&format=cyclonedx|spdx: a Berth
 * extension (ECR has no SBOM call) that returns the scanned image's inventory as an SBOM. It
 * takes the registry login docker uses (`Authorization: Basic AWS:<GetAuthorizationToken
 * password>`, or a bearer token) and is authorized as `ecr:DescribeImageScanFindings` on the
 * repository, so whoever may read the findings may read the SBOM. Errors are ECR-shaped.
 */
export function sbomRoute(app: FastifyInstance, services: EcrServices): void {
  app.get<{ Querystring: Record<string, string | undefined> }>('/berth/sbom', async (req, reply) => {
    req.operation = 'berth.sbom';
    let principal: Principal = services.access.anonymous();
    const q = req.query;
    const repository = q.repositoryName ?? '';
    try {
      principal = await principalOfRequest(req, services.auth, principal).catch(async (err: unknown) => {
        await services.throttle.delayFailure(req.ip);
        throw err;
      });
      if (principal.kind === 'anonymous') throw new BerthError('UNAUTHENTICATED', 'authentication required: send the registry login (Basic AWS:<password>)');
      const format = (q.format ?? 'cyclonedx') as SbomFormat;
      if (format !== 'cyclonedx' && format !== 'spdx') throw new BerthError('INVALID_PARAMETER', `format must be cyclonedx or spdx, not '${format}'`);
      if (!repository) throw new BerthError('INVALID_PARAMETER', 'repositoryName is required');
      await services.access.authorize(principal, 'ecr:DescribeImageScanFindings', { repository, sourceIp: req.ip });
      const ref = { ...(q.imageDigest ? { digest: q.imageDigest } : {}), ...(q.imageTag ? { tag: q.imageTag } : {}) };
      const out = await services.scanning.sbom(repository, ref, format, req.headers.host);
      services.audit.record({ source: 'ecr', eventName: 'GetImageSbom', principal, sourceIp: req.ip, requestId: req.id, params: { repositoryName: repository, ...ref, format }, readOnly: true });
      return await reply.code(200).header('Content-Type', out.mediaType).header('Docker-Content-Digest', out.digest).send(JSON.stringify(out.document));
    } catch (err) {
      if (!isBerthError(err) || err.code === 'INTERNAL') throw err;
      const type = ECR_ERRORS[err.code][0];
      services.audit.record({ source: 'ecr', eventName: 'GetImageSbom', principal, sourceIp: req.ip, requestId: req.id, params: { repositoryName: repository }, errorCode: type, errorMessage: err.message, readOnly: true });
      const status = err.code === 'UNAUTHENTICATED' ? 401 : ['REPOSITORY_NOT_FOUND', 'MANIFEST_NOT_FOUND', 'SCAN_NOT_FOUND'].includes(err.code) ? 404 : statusOf(type);
      return reply.code(status).header('x-amzn-ErrorType', type).send({ __type: type, message: err.message });
    }
  });
}
