import type { FastifyInstance } from 'fastify';
import { isBerthError } from '../../core/errors.js';
import type { EcrServices } from './context.js';

/**
 * GET /berth/download/<token>: serves a layer named by a GetDownloadUrlForLayer URL. The
 * token is signed and expires, so the URL works without credentials for a short time.
 */
export function downloadRoute(app: FastifyInstance, services: EcrServices): void {
  app.get<{ Params: { token: string } }>('/berth/download/:token', async (req, reply) => {
    req.operation = 'ecr.download';
    try {
      const t = await services.tokens.verify<{ r: string; d: string }>('download', req.params.token);
      const read = await services.blobs.open(t.r, t.d, req.headers.range);
      reply.header('Content-Type', 'application/octet-stream').header('Docker-Content-Digest', t.d).header('Accept-Ranges', 'bytes');
      if (read.range) {
        reply.code(206).header('Content-Range', `bytes ${read.range.start}-${read.range.end}/${read.size}`).header('Content-Length', String(read.range.end - read.range.start + 1));
      } else {
        reply.code(200).header('Content-Length', String(read.size));
      }
      return await reply.send(read.body);
    } catch (err) {
      if (isBerthError(err) && err.code !== 'INTERNAL') {
        const status = err.code === 'INVALID_TOKEN' ? 403 : err.code === 'RANGE_NOT_SATISFIABLE' ? 416 : 404;
        return reply.code(status).send({ message: err.message });
      }
      throw err;
    }
  });
}
