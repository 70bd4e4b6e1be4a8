import { mediaTypeOf } from './request.js';
import { readSmallBody } from '../../services/registry/streams.js';
import type { OciCall } from './context.js';

/** GET, HEAD, PUT and DELETE of /v2/<name>/manifests/<reference>. */
export async function manifest(call: OciCall): Promise<void> {
  const { services, name, reference, req, reply } = call;
  switch (req.method) {
    case 'PUT': {
      const max = services.manifests.maxBytes;
      const body = await readSmallBody(req.raw, max);
      const result = await services.manifests.put(name, reference, body, mediaTypeOf(req));
      reply.code(201).header('Location', `/v2/${name}/manifests/${result.digest}`).header('Docker-Content-Digest', result.digest);
      if (result.subject) reply.header('OCI-Subject', result.subject);
      return reply.header('Content-Length', '0').send();
    }
    case 'DELETE': {
      await services.manifests.delete(name, reference);
      return reply.code(202).header('Content-Length', '0').send();
    }
    default: {
      const m = await services.manifests.get(name, reference, { pull: req.method === 'GET' });
      reply
        .code(200)
        .header('Content-Type', m.mediaType)
        .header('Docker-Content-Digest', m.digest)
        .header('ETag', `"${m.digest}"`)
        .header('Content-Length', String(m.size));
      return req.method === 'HEAD' ? reply.send() : reply.send(m.content);
    }
  }
}
