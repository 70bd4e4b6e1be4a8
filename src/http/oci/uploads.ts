import { chunkOptions, contentLength, hasBody } from './request.js';
import { uploadRange, type OciCall } from './context.js';
import { offerSocketReads } from '../socket-reads.js';

function blobLocation(name: string, digest: string): string {
  return `/v2/${name}/blobs/${digest}`;
}

function sessionHeaders(call: OciCall, id: string, offset: number, state?: string): void {
  call.reply
    .header('Location', `/v2/${call.name}/blobs/uploads/${id}${state ? `?_state=${encodeURIComponent(state)}` : ''}`)
    .header('Range', uploadRange(offset))
    .header('Docker-Upload-UUID', id)
    .header('Content-Length', '0');
}

/** POST /v2/<name>/blobs/uploads/ : mount, monolithic upload, or a new session. */
export async function startUpload(call: OciCall): Promise<void> {
  const { services, name, query, req, reply } = call;
  const mount = query.get('mount');
  if (mount !== null) {
    const from = query.get('from');
    // The source must be readable by the caller (a mount is a read of `from` and a write here).
    const canRead = (repository: string): Promise<boolean> =>
      services.access.allows(call.principal, 'ecr:GetDownloadUrlForLayer', { repository, sourceIp: req.ip });
    const mounted = await services.uploads.mount(name, mount, from ?? undefined, canRead);
    if (mounted) {
      reply.code(201).header('Location', blobLocation(name, mounted.digest)).header('Docker-Content-Digest', mounted.digest).header('Content-Length', '0');
      return reply.send();
    }
  }
  const digest = query.get('digest');
  if (digest !== null) {
    const len = contentLength(req);
    const blob = await services.uploads.monolithic(name, digest, offerSocketReads(req.raw, len), { signal: call.signal, ...(len === undefined ? {} : { length: len }) });
    reply.code(201).header('Location', blobLocation(name, blob.digest)).header('Docker-Content-Digest', blob.digest).header('Content-Length', '0');
    return reply.send();
  }
  const session = await services.uploads.start(name, { lazy: true });
  sessionHeaders(call, session.id, 0, session.state);
  reply.header('OCI-Chunk-Min-Length', '0');
  return reply.code(202).send();
}

/** GET, PATCH, PUT and DELETE of /v2/<name>/blobs/uploads/<id>. */
export async function uploadSession(call: OciCall): Promise<void> {
  const { services, name, reference: id, req, reply, query } = call;
  // A session that has stored nothing yet has no row; its signed state is in the URL (see UploadService.start).
  const state = query.get('_state') ?? undefined;
  const withState = state === undefined ? {} : { state };
  switch (req.method) {
    case 'GET': {
      const s = await services.uploads.status(name, id, state);
      sessionHeaders(call, id, s.offset, s.offset === 0 ? state : undefined);
      return reply.code(204).send();
    }
    case 'PATCH': {
      const s = await services.uploads.append(name, id, offerSocketReads(req.raw, contentLength(req)), { ...chunkOptions(req, call.signal), ...withState });
      sessionHeaders(call, id, s.offset);
      return reply.code(202).send();
    }
    case 'PUT': {
      const digest = query.get('digest') ?? '';
      const body = hasBody(req) ? offerSocketReads(req.raw, contentLength(req)) : null;
      const blob = await services.uploads.complete(name, id, digest, body, { ...chunkOptions(req, call.signal), ...withState });
      reply.code(201).header('Location', blobLocation(name, blob.digest)).header('Docker-Content-Digest', blob.digest).header('Content-Length', '0');
      return reply.send();
    }
    default: {
      await services.uploads.cancel(name, id, state);
      return reply.code(204).send();
    }
  }
}
