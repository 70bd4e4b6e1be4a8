import { sendBlobBody } from './send-file.js';
import type { OciCall } from './context.js';

/** GET, HEAD and DELETE of /v2/<name>/blobs/<digest>. */
export async function blob(call: OciCall): Promise<void> {
  // NOTE: call.signal only where a body moves: each one is an AbortController, whose creation
  // alone leaves ~400 bytes for V8 to promote (Node.js 20), and a push HEADs every blob.
  const { services, name, reference: digest, req, reply } = call;
  if (req.method === 'DELETE') {
    await services.blobs.delete(name, digest);
    return reply.code(202).header('Content-Length', '0').send();
  }
  reply.header('Docker-Content-Digest', digest).header('Accept-Ranges', 'bytes').header('Content-Type', 'application/octet-stream');
  reply.header('ETag', `"${digest}"`).header('Cache-Control', 'max-age=31536000');
  if (req.method === 'HEAD') {
    const info = await services.blobs.stat(name, digest);
    return reply.code(200).header('Content-Length', String(info.size)).send();
  }
  const read = await services.blobs.open(name, digest, req.headers.range, call.signal);
  if (read.range) {
    reply
      .code(206)
      .header('Content-Range', `bytes ${read.range.start}-${read.range.end}/${read.size}`)
      .header('Content-Length', String(read.range.end - read.range.start + 1));
  } else {
    reply.code(200).header('Content-Length', String(read.size));
  }
  return sendBlobBody(reply, read.body);
}
