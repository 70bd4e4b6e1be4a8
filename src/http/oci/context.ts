import type { FastifyReply, FastifyRequest } from 'fastify';
import type { BlobService } from '../../services/registry/blob-service.js';
import type { ManifestService } from '../../services/registry/manifest-service.js';
import type { UploadService } from '../../services/registry/upload-service.js';
import type { AccessService } from '../../services/access/access-service.js';
import type { Authenticator } from '../../services/identity/authenticator.js';
import type { Principal } from '../../services/identity/principal.js';
import type { AuthThrottle } from '../auth-throttle.js';
import type { AuditTrail } from '../../services/audit/audit-trail.js';

export interface OciServices {
  uploads: UploadService;
  blobs: BlobService;
  manifests: ManifestService;
  access: AccessService;
  auth: Authenticator;
  throttle: AuthThrottle;
  audit: AuditTrail;
  /** Which WWW-Authenticate challenge a 401 carries (both schemes are always accepted). */
  challenge: 'basic' | 'bearer';
}

/** What one /v2/ handler gets: the services, the parsed route, and a signal that aborts when the client goes away. */
export interface OciCall {
  services: OciServices;
  req: FastifyRequest;
  reply: FastifyReply;
  /** Who is calling (anonymous when no credentials were sent). */
  principal: Principal;
  name: string;
  reference: string;
  query: URLSearchParams;
  signal: AbortSignal;
}

/** `Range` header value for an upload of `offset` bytes (Distribution sends `0-0` for an empty upload). */
export function uploadRange(offset: number): string {
  return `0-${Math.max(0, offset - 1)}`;
}
