/**
 * The token endpoint of the Docker token flow (`GET /berth/token?service=&scope=`), the
 * realm a `Bearer` challenge names. With Basic `AWS:<password>` it returns a bearer token
 * for that principal; without credentials, an anonymous token (which gets only what a
 * policy grants to "*"). The requested scope is not baked into the token: every /v2/ call
 * is still authorized against the policies at the time of the call, which is at least as
 * strict and takes policy changes into account at once.
 */
import type { FastifyInstance } from 'fastify';
import { isBerthError } from '../../core/errors.js';
import type { OciServices } from './context.js';
import { principalOfRequest } from './authenticate.js';

const TOKEN_TTL_MS = 15 * 60 * 1000;

export function tokenRoute(app: FastifyInstance, services: OciServices): void {
  app.get('/berth/token', async (req, reply) => {
    const anonymous = services.access.anonymous();
    try {
      const principal = await principalOfRequest(req, services.auth, anonymous);
      const { token, expiresAt } =
        principal.kind === 'anonymous' ? await services.auth.anonymousBearer(TOKEN_TTL_MS) : await services.auth.loginToken(principal, TOKEN_TTL_MS, 'bearer');
      const issuedAt = new Date().toISOString();
      return await reply
        .code(200)
        .header('Content-Type', 'application/json')
        .header('Cache-Control', 'no-store')
        .send(JSON.stringify({ token, access_token: token, expires_in: Math.max(1, Math.floor((expiresAt - Date.now()) / 1000)), issued_at: issuedAt }));
    } catch (err) {
      if (!isBerthError(err, 'UNAUTHENTICATED') && !isBerthError(err, 'EXPIRED_TOKEN')) throw err;
      await services.throttle.delayFailure(req.ip);
      return reply
        .code(401)
        .header('Content-Type', 'application/json')
        .send(JSON.stringify({ errors: [{ code: 'UNAUTHORIZED', message: 'authentication required' }] }));
    }
  });
}
