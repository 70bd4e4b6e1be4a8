/**
 * IAM and STS on the registry's port, in the AWS query protocol: `POST /` with a form body
 * (`Action=...&Version=...`), no X-Amz-Target, signed with SigV4 for `iam` or `sts` (except
 * AssumeRoleWithWebIdentity, which carries its own proof). Errors are rendered with the
 * error codes the model declares for the operation; every call is audited.
 */
import { createHash } from 'node:crypto';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { isBerthError, type BerthError } from '../../core/errors.js';
import { verifySigV4 } from '../../core/sigv4.js';
import type { AccessService } from '../../services/access/access-service.js';
import type { AuditTrail } from '../../services/audit/audit-trail.js';
import type { Authenticator } from '../../services/identity/authenticator.js';
import type { IdentityService } from '../../services/identity/identity-service.js';
import type { Principal } from '../../services/identity/principal.js';
import type { StsService } from '../../services/identity/sts-service.js';
import type { AuthThrottle } from '../auth-throttle.js';
import { decodeInput, encodeError, encodeOutput } from './codec.js';
import { QUERY_SERVICES, type QueryService } from './generated/query-model.js';
import { IAM_HANDLERS, iamResource } from './iam-operations.js';
import { STS_HANDLERS } from './sts-operations.js';

export interface QueryServices {
  auth: Authenticator;
  access: AccessService;
  iam: IdentityService;
  sts: StsService;
  audit: AuditTrail;
  throttle: AuthThrottle;
  accountId: string;
  now: () => number;
}

/** Domain codes → the model's error shapes that can carry them, most specific first; then a fallback code and status. */
const ERRORS: Partial<Record<BerthError['code'], { shapes: string[]; fallback: [string, number] }>> = {
  ENTITY_NOT_FOUND: { shapes: ['NoSuchEntityException'], fallback: ['NoSuchEntity', 404] },
  ENTITY_EXISTS: { shapes: ['EntityAlreadyExistsException'], fallback: ['EntityAlreadyExists', 409] },
  DELETE_CONFLICT: { shapes: ['DeleteConflictException'], fallback: ['DeleteConflict', 409] },
  LIMIT_EXCEEDED: { shapes: ['LimitExceededException'], fallback: ['LimitExceeded', 409] },
  ACCESS_DENIED: { shapes: [], fallback: ['AccessDenied', 403] },
  UNAUTHENTICATED: { shapes: [], fallback: ['InvalidClientTokenId', 403] },
  EXPIRED_TOKEN: { shapes: ['ExpiredTokenException'], fallback: ['ExpiredToken', 403] },
  INVALID_IDENTITY_TOKEN: { shapes: ['InvalidIdentityTokenException'], fallback: ['InvalidIdentityToken', 400] },
};

class QueryError extends Error {
  constructor(
    readonly code: string,
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

function serviceOf(action: string): 'iam' | 'sts' | null {
  if (action in QUERY_SERVICES.sts.operations) return 'sts';
  if (action in QUERY_SERVICES.iam.operations) return 'iam';
  return null;
}

export function queryApi(s: QueryServices) {
  return async function handle(req: FastifyRequest, reply: FastifyReply): Promise<FastifyReply> {
    const body = Buffer.isBuffer(req.body) ? req.body : Buffer.alloc(0);
    const params = new URLSearchParams(body.toString('utf8'));
    const action = params.get('Action') ?? '';
    const which = serviceOf(action);
    const service: QueryService = QUERY_SERVICES[which ?? 'iam'];
    req.operation = `${which ?? 'query'}.${action || 'unknown'}`;
    let principal: Principal | null = null;
    let input: Record<string, unknown> | undefined;
    const audit = (errorCode?: string, errorMessage?: string): void =>
      s.audit.record({
        source: which ?? 'iam',
        eventName: action || 'unknown',
        principal,
        sourceIp: req.ip,
        ...(typeof req.headers['user-agent'] === 'string' ? { userAgent: req.headers['user-agent'] } : {}),
        requestId: req.id,
        ...(input ? { params: input } : {}),
        ...(errorCode ? { errorCode, ...(errorMessage ? { errorMessage } : {}) } : {}),
        readOnly: /^(Get|List)/.test(action),
      });
    try {
      if (!which) throw new QueryError('InvalidAction', 400, `Berth does not support the action ${action.slice(0, 100) || '(none)'}`);
      const op = service.operations[action]!;
      if (!op.unsigned) {
        const who = await verifySigV4(
          {
            method: req.method,
            path: (req.raw.url ?? '/').split('?')[0] ?? '/',
            query: (req.raw.url ?? '').split('?')[1] ?? '',
            headers: req.headers,
            bodySha256: createHash('sha256').update(body).digest('hex'),
          },
          { services: [which], secretOf: (id) => s.auth.secretOf(id), now: s.now() },
        ).catch(async (err: unknown) => {
          await s.throttle.delayFailure(req.ip);
          throw err;
        });
        principal = await s.auth.principalOfKey(who.accessKeyId, who.sessionToken, { service: which, region: who.region });
      }
      input = op.input ? decodeInput(service, op.input, params) : {};
      let output: Record<string, unknown>;
      if (which === 'iam') {
        // A key's last use is the business of the user who owns it: authorize on that user.
        const owner = action === 'GetAccessKeyLastUsed' ? { UserName: (await s.iam.accessKeyLastUsed(input.AccessKeyId as string)).userName } : {};
        await s.access.authorize(principal!, `iam:${action}`, { resource: iamResource(s.accountId, principal!, action, { ...input, ...owner }), sourceIp: req.ip });
        output = await IAM_HANDLERS[action]!({ iam: s.iam, principal: principal!, accountId: s.accountId }, input);
      } else {
        output = await STS_HANDLERS[action]!({ sts: s.sts, principal, sourceIp: req.ip }, input);
      }
      audit();
      return await reply.code(200).header('Content-Type', 'text/xml').send(encodeOutput(service, action, output, req.id));
    } catch (err) {
      const [code, status, message] = describe(err, service, action, req);
      audit(code, message);
      return reply.code(status).header('Content-Type', 'text/xml').send(encodeError(service, code, message, status < 500, req.id));
    }
  };
}

function describe(err: unknown, service: QueryService, action: string, req: FastifyRequest): [string, number, string] {
  if (err instanceof QueryError) return [err.code, err.status, err.message];
  if (isBerthError(err) && err.code !== 'INTERNAL') {
    const declared = service.operations[action]?.errors ?? [];
    if (err.code === 'INVALID_PARAMETER') {
      // Constraint failures of the model are ValidationError, as AWS answers them.
      if ((err.detail as { modelValidation?: boolean } | undefined)?.modelValidation === true) return ['ValidationError', 400, err.message];
      const malformed = (err.detail as { malformedPolicy?: boolean } | undefined)?.malformedPolicy === true;
      const shape = (malformed ? ['MalformedPolicyDocumentException', 'InvalidInputException'] : ['InvalidInputException']).find((n) => declared.includes(n));
      const e = shape ? service.shapes[shape]?.error : undefined;
      return e ? [e.code, e.status, err.message] : ['ValidationError', 400, err.message];
    }
    const spec = ERRORS[err.code];
    if (spec) {
      const shape = spec.shapes.find((n) => declared.includes(n));
      const e = shape ? service.shapes[shape]?.error : undefined;
      return e ? [e.code, e.status, err.message] : [spec.fallback[0], spec.fallback[1], err.message];
    }
    return ['ValidationError', 400, err.message];
  }
  req.log.error({ err }, 'IAM/STS request failed');
  return [service === QUERY_SERVICES.iam ? 'ServiceFailure' : 'InternalFailure', 500, 'internal error; see the server log for this request id'];
}
