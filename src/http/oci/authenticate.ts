/**
 * Who is calling /v2/: `Authorization: Basic base64("AWS:" + password)` with the password of
 * GetAuthorizationToken (what `docker/podman/skopeo login` send after `aws ecr
 * get-login-password`), or `Authorization: Bearer <token>` from the token endpoint of the
 * Docker token flow. No header: anonymous, who gets only what a policy grants to "*".
 * A header that is present but not valid is UNAUTHENTICATED; the reason is not told.
 */
import type { FastifyRequest } from 'fastify';
import { BerthError } from '../../core/errors.js';
import type { Authenticator } from '../../services/identity/authenticator.js';
import type { Principal } from '../../services/identity/principal.js';

const invalid = (): BerthError => new BerthError('UNAUTHENTICATED', 'authentication required');

export async function principalOfRequest(req: FastifyRequest, auth: Authenticator, anonymous: Principal): Promise<Principal> {
  const header = req.headers.authorization;
  if (header === undefined || header === '') return anonymous;
  const space = header.indexOf(' ');
  const scheme = space < 0 ? header : header.slice(0, space);
  const value = space < 0 ? '' : header.slice(space + 1).trim();
  if (/^basic$/i.test(scheme)) {
    const decoded = Buffer.from(value, 'base64').toString('utf8');
    const colon = decoded.indexOf(':');
    if (colon < 0 || decoded.slice(0, colon) !== 'AWS') throw invalid();
    return auth.principalOfLoginToken(decoded.slice(colon + 1), 'login');
  }
  if (/^bearer$/i.test(scheme)) {
    if (value.startsWith('anon.')) return anonymousBearer(value, auth, anonymous);
    return auth.principalOfLoginToken(value, 'bearer');
  }
  throw invalid();
}

async function anonymousBearer(value: string, auth: Authenticator, anonymous: Principal): Promise<Principal> {
  if (!(await auth.isAnonymousBearer(value.slice(5)))) throw invalid();
  return anonymous;
}

export interface ChallengeOptions {
  scheme: 'basic' | 'bearer';
  /** `http://host` as the client addressed us. */
  base: string;
  /** `repository:<name>:pull,push` for repository routes. */
  scope?: string;
}

/** The WWW-Authenticate value of a 401. */
export function challenge(o: ChallengeOptions): string {
  if (o.scheme === 'basic') return `Basic realm="${o.base}/",service="berth"`;
  return `Bearer realm="${o.base}/berth/token",service="berth"${o.scope ? `,scope="${o.scope}"` : ''}`;
}
