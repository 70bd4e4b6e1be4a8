import type { FastifyRequest } from 'fastify';
import { BerthError } from '../../core/errors.js';
import { parseChunkRange } from '../../core/range.js';
import type { ChunkOptions } from '../../services/registry/upload-service.js';

/** Query parameters of the raw URL (Fastify's parsed query is not used for /v2/). */
export function queryOf(req: FastifyRequest): URLSearchParams {
  const q = req.raw.url?.indexOf('?') ?? -1;
  return new URLSearchParams(q >= 0 ? (req.raw.url ?? '').slice(q + 1) : '');
}

/** `n` of a paginated list: absent, or a non-negative integer. */
export function pageSize(query: URLSearchParams): number | undefined {
  const n = query.get('n');
  if (n === null || n === '') return undefined;
  if (!/^\d{1,9}$/.test(n)) throw new BerthError('INVALID_PARAMETER', `n must be a non-negative integer, got "${n.slice(0, 20)}"`);
  return Number(n);
}

export function contentLength(req: FastifyRequest): number | undefined {
  const v = req.headers['content-length'];
  if (v === undefined) return undefined;
  if (!/^\d+$/.test(v)) throw new BerthError('UPLOAD_INVALID', 'invalid Content-Length');
  return Number(v);
}

/** True when the request carries a body (a non-zero length, or chunked transfer encoding). */
export function hasBody(req: FastifyRequest): boolean {
  const len = contentLength(req);
  return (len !== undefined && len > 0) || (len === undefined && req.headers['transfer-encoding'] !== undefined);
}

export function chunkOptions(req: FastifyRequest, signal: AbortSignal): ChunkOptions {
  const o: ChunkOptions = { signal };
  const len = contentLength(req);
  if (len !== undefined) o.length = len;
  const range = req.headers['content-range'];
  if (typeof range === 'string' && range !== '') o.range = parseChunkRange(range);
  return o;
}

export function mediaTypeOf(req: FastifyRequest): string {
  return (req.headers['content-type'] ?? '').split(';')[0]!.trim().toLowerCase();
}
