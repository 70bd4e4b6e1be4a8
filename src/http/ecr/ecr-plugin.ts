/**
 * The ECR control plane: `POST /` with `X-Amz-Target: AmazonEC2ContainerRegistry_V20150921.<Op>`
 * and a JSON 1.1 body, on the same port as /v2/. The dispatcher checks the target against
 * the generated operation table, validates the input against the model, authorizes the
 * call as `ecr:<Op>` through the one access service, runs the handler, and renders errors
 * as `{"__type","message"}` plus `x-amzn-ErrorType`, using only error names the model
 * lists for that operation.
 */
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { BerthError, isBerthError } from '../../core/errors.js';
import type { EcrCall, EcrHandler, EcrServices } from './context.js';
import { ECR_ERRORS, PROTOCOL_ERRORS, statusOf } from './errors.js';
import { ECR_TARGET_PREFIX, OPERATIONS, type EcrOperationName } from './generated/ecr-model.js';
import { ECR_HANDLERS } from './operations/index.js';
import { readInput, writeOutput } from './shapes.js';
import { downloadRoute } from './download.js';
import { sbomRoute } from './sbom.js';
import { createHash } from 'node:crypto';
import { verifySigV4 } from '../../core/sigv4.js';
import type { Principal } from '../../services/identity/principal.js';
import { parseRepositoryArn } from '../../core/arn.js';
import { encodeError } from '../query/codec.js';
import { QUERY_SERVICES } from '../query/generated/query-model.js';

function sha256Hex(body: unknown): string {
  return createHash('sha256').update(Buffer.isBuffer(body) ? body : Buffer.alloc(0)).digest('hex');
}

const JSON_11 = 'application/x-amz-json-1.1';

class ProtocolError extends Error {
  constructor(
    readonly type: string,
    message: string,
  ) {
    super(message);
  }
}

export function ecrPlugin(services: EcrServices, queryApi: (req: FastifyRequest, reply: FastifyReply) => Promise<FastifyReply>) {
  return async function register(app: FastifyInstance): Promise<void> {
    app.addContentTypeParser(JSON_11, { parseAs: 'buffer', bodyLimit: 32 * 1024 * 1024 }, (_req, body, done) => done(null, body));
    // IAM and STS (the query protocol) share the endpoint: form bodies, no X-Amz-Target.
    app.addContentTypeParser('application/x-www-form-urlencoded', { parseAs: 'buffer', bodyLimit: 1024 * 1024 }, (_req, body, done) => done(null, body));
    // Errors Fastify raises before a handler runs (body too large, broken framing) in ECR's shape.
    app.setErrorHandler((err: Error & { statusCode?: number }, req, reply) => {
      const status = typeof err.statusCode === 'number' && err.statusCode >= 400 && err.statusCode < 500 ? err.statusCode : 500;
      const type = status < 500 ? 'SerializationException' : 'ServerException';
      if (status >= 500) req.log.error({ err }, 'ECR request failed');
      // IAM and STS callers (form bodies) get the query protocol's XML error.
      if (String(req.headers['content-type'] ?? '').startsWith('application/x-www-form-urlencoded')) {
        const message = status < 500 ? err.message : 'internal error; see the server log for this request id';
        return reply.code(status).header('Content-Type', 'text/xml').send(encodeError(QUERY_SERVICES.iam, status === 413 ? 'RequestEntityTooLarge' : status < 500 ? 'MalformedInput' : 'ServiceFailure', message, status < 500, req.id));
      }
      return reply
        .code(status)
        .header('Content-Type', JSON_11)
        .header('x-amzn-ErrorType', type)
        .send(JSON.stringify({ __type: type, message: status < 500 ? err.message : 'internal error; see the server log for this request id' }));
    });
    app.post('/', async (req, reply) => {
      const target = req.headers['x-amz-target'];
      const op = typeof target === 'string' && target.startsWith(`${ECR_TARGET_PREFIX}.`) ? target.slice(ECR_TARGET_PREFIX.length + 1) : '';
      req.operation = `ecr.${op || 'unknown'}`;
      reply.header('x-amzn-RequestId', req.id);
      if (target === undefined) return queryApi(req, reply);
      let principal: Principal | null = null;
      let params: Record<string, unknown> | undefined;
      const audit = (errorCode: string | undefined, errorMessage?: string): void =>
        services.audit.record({
          source: 'ecr',
          eventName: op || 'unknown',
          principal,
          sourceIp: req.ip,
          ...(typeof req.headers['user-agent'] === 'string' ? { userAgent: req.headers['user-agent'] } : {}),
          requestId: req.id,
          ...(params ? { params } : {}),
          ...(errorCode ? { errorCode, ...(errorMessage ? { errorMessage } : {}) } : {}),
          readOnly: /^(Describe|List|Get|BatchGet|BatchCheck)/.test(op),
        });
      try {
        // Who is asking comes first: nothing about the request is examined for an unsigned caller.
        const who = await verifySigV4(
          { method: req.method, path: (req.raw.url ?? '/').split('?')[0] ?? '/', query: (req.raw.url ?? '').split('?')[1] ?? '', headers: req.headers, bodySha256: sha256Hex(req.body) },
          { services: ['ecr'], secretOf: (id) => services.auth.secretOf(id), now: services.now() },
        ).catch(async (err: unknown) => {
          await services.throttle.delayFailure(req.ip);
          throw err;
        });
        principal = await services.auth.principalOfKey(who.accessKeyId, who.sessionToken, { service: 'ecr', region: who.region });
        if (!(op in OPERATIONS)) throw new ProtocolError('UnknownOperationException', `unknown operation ${String(target ?? '')}`);
        const name = op as EcrOperationName;
        const raw = parseBody(req.body);
        params = typeof raw === 'object' && raw !== null ? (raw as Record<string, unknown>) : undefined;
        const spec = OPERATIONS[name];
        const input = (spec.input ? readInput(spec.input, raw) : {}) as Record<string, unknown>;
        const handler = ECR_HANDLERS[name] as EcrHandler<EcrOperationName> | undefined;
        if (!handler) throw new ProtocolError('UnsupportedOperationException', `Berth does not support ${name} yet`);
        await authorizeCall(services, principal, name, input, req.ip);
        const call: EcrCall = { services, principal, sourceIp: req.ip, baseUrl: `http://${req.headers.host ?? 'localhost'}` };
        const output = await handler(call, input as never);
        audit(undefined);
        return await reply.code(200).header('Content-Type', JSON_11).send(JSON.stringify(writeOutput(output)));
      } catch (err) {
        const sent = renderError(err, op, req, reply);
        audit(String(reply.getHeader('x-amzn-ErrorType') ?? 'ServerException'), err instanceof Error ? err.message : String(err));
        return sent;
      }
    });
    downloadRoute(app, services);
    sbomRoute(app, services);
  };
}

/**
 * Authorizes `ecr:<Op>` on what the input names: its repository (`repositoryName`, or a
 * repository `resourceArn`), each of `repositoryNames`, else `*` (registry-level calls, as
 * ECR's actions without a repository resource). DescribeRepositories without names lists
 * only what the caller may describe (the handler filters), so it is not refused here.
 */
async function authorizeCall(services: EcrServices, principal: Principal, name: EcrOperationName, input: Record<string, unknown>, sourceIp: string): Promise<void> {
  const action = `ecr:${name}`;
  const repository = typeof input.repositoryName === 'string' ? input.repositoryName : repositoryOfArn(services, input.resourceArn);
  if (repository !== undefined) return services.access.authorize(principal, action, { repository, sourceIp });
  if (Array.isArray(input.repositoryNames)) {
    for (const r of input.repositoryNames as string[]) await services.access.authorize(principal, action, { repository: r, sourceIp });
    return;
  }
  if (name === 'DescribeRepositories') return;
  return services.access.authorize(principal, action, { resource: '*', sourceIp });
}

/** The repository a `resourceArn` input names (TagResource and friends), if it is one of ours. */
function repositoryOfArn(services: EcrServices, arn: unknown): string | undefined {
  if (typeof arn !== 'string') return undefined;
  try {
    return parseRepositoryArn(arn, services.account.region, services.account.id);
  } catch {
    return undefined; // the handler answers for a malformed ARN
  }
}

function parseBody(body: unknown): unknown {
  if (!Buffer.isBuffer(body) || body.length === 0) return {};
  try {
    return JSON.parse(body.toString('utf8'));
  } catch {
    throw new ProtocolError('SerializationException', 'the request body is not valid JSON');
  }
}

function renderError(err: unknown, op: string, req: FastifyRequest, reply: FastifyReply): FastifyReply {
  let type: string;
  let message: string;
  if (err instanceof ProtocolError) {
    type = err.type;
    message = err.message;
  } else if (isBerthError(err) && err.code !== 'INTERNAL') {
    const declared: readonly string[] = op in OPERATIONS ? OPERATIONS[op as EcrOperationName].errors : [];
    const candidates: readonly string[] = ECR_ERRORS[err.code];
    type = candidates.find((c) => declared.includes(c) || PROTOCOL_ERRORS.has(c)) ?? (declared.includes('InvalidParameterException') ? 'InvalidParameterException' : 'ValidationException');
    message = err.message;
  } else {
    req.log.error({ err }, 'ECR request failed');
    type = 'ServerException';
    message = 'internal error; see the server log for this request id';
  }
  const status = err instanceof BerthError && err.code === 'INTERNAL' ? 500 : statusOf(type);
  return reply
    .code(status)
    .header('Content-Type', JSON_11)
    .header('x-amzn-ErrorType', type)
    .send(JSON.stringify({ __type: type, message }));
}
