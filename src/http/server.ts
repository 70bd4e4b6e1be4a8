/**
 * The HTTP server: request ids, one JSON log line per request, /healthz, /metrics,
 * and the API surfaces mounted as plugins.
 */
import { randomUUID } from 'node:crypto';
import Fastify, { LogController, type FastifyBaseLogger, type FastifyInstance } from 'fastify';
import type { Logger } from 'pino';
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import type { OciServices } from './oci/context.js';
import { ociPlugin } from './oci/oci-plugin.js';
import { sendfileStats } from './oci/send-file.js';
import { mustClose, socketReadStats } from './socket-reads.js';
import { answerClientError, lingerOnClose, lingerStats } from './linger-close.js';
import { holdChunkedUploads } from './chunked-reads.js';
import type { EcrServices } from './ecr/context.js';
import { ecrPlugin } from './ecr/ecr-plugin.js';
import { queryApi, type QueryServices } from './query/query-api.js';

export interface HttpDeps {
  logger: Logger;
  services: OciServices;
  ecr: EcrServices;
  /** IAM and STS (query protocol), on the same port as the ECR API. */
  query: QueryServices;
  /** Checks the backends; throws when one is unreachable. */
  health: () => Promise<void>;
  /** Storage per repository, read when /metrics is scraped. */
  usage?: () => Promise<{ name: string; bytes: number; sharedBytes: number; monthlyCostUsd: number }[]>;
  /** Hold chunked upload bodies back from Node.js's parser for the native reader (chunked-reads.ts): only the filesystem driver's O_DIRECT path takes them. */
  holdChunkedUploads?: boolean;
  /** Upload bytes the filesystem driver wrote with O_DIRECT so far (absent: another driver). */
  directWrittenBytes?: () => number;
}

const REQUEST_ID = /^[A-Za-z0-9._:-]{1,128}$/;

export function buildHttpServer(deps: HttpDeps): FastifyInstance {
  const app = Fastify({
    loggerInstance: deps.logger as FastifyBaseLogger,
    // One line per request comes from our onResponse hook instead of Fastify's two.
    logController: new LogController({ disableRequestLogging: true }),
    genReqId: (req) => {
      const given = req.headers['x-request-id'];
      return typeof given === 'string' && REQUEST_ID.test(given) ? given : randomUUID();
    },
    keepAliveTimeout: 65_000,
    requestTimeout: 0,
    bodyLimit: 1024 * 1024,
    return503OnClosing: true,
    forceCloseConnections: 'idle',
    // Download URLs carry a signed token in the path.
    routerOptions: { maxParamLength: 2048 },
    // A request the HTTP parser refused: answered as Fastify does, then a lingering close.
    clientErrorHandler: answerClientError,
  });

  if (deps.holdChunkedUploads) holdChunkedUploads(app.server);

  const metrics = new Registry();
  collectDefaultMetrics({ register: metrics });
  const requests = new Counter({
    name: 'berth_http_requests_total',
    help: 'HTTP requests by operation, method and status',
    labelNames: ['operation', 'method', 'status'] as const,
    registers: [metrics],
  });
  const duration = new Histogram({
    name: 'berth_http_request_duration_seconds',
    help: 'HTTP request duration by operation',
    labelNames: ['operation', 'method'] as const,
    buckets: [0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 5, 30, 120],
    registers: [metrics],
  });

  // Tells an operator whether downloads take the native path (native/sendfile built) or stream.
  countOnScrape(metrics, 'berth_blob_native_sends_total', 'Blob GET bodies sent from the thread pool by native/sendfile (the others are streamed through Node.js)', () => sendfileStats.started);
  // Tells an operator whether upload bodies are read by the native part (socket-reads.ts) or streamed.
  countOnScrape(
    metrics,
    'berth_blob_native_receives_total',
    'Upload bodies read from the socket on the thread pool by native/sendfile into O_DIRECT staging buffers (the others are streamed through Node.js)',
    () => socketReadStats.taken,
  );
  // Connections closed with a lingering close (linger-close.ts): each holds its socket for at most
  // LINGER_MS after a refused body or request, so an operator can see how many bad clients do so.
  countOnScrape(
    metrics,
    'berth_http_lingering_closes_total',
    'Connections closed after a refused request body or a request the HTTP parser refused, reading and dropping what the client still sent (at most 2 s or 16 MiB each)',
    () => lingerStats.started,
  );
  new Gauge({
    name: 'berth_http_lingering_connections',
    help: 'Connections lingering now: their answer is sent and what the client still sends is being dropped before the close',
    registers: [metrics],
    collect() {
      this.set(lingerStats.active);
    },
  });
  // Tells an operator whether uploads to the filesystem driver bypass the page cache (O_DIRECT).
  countOnScrape(
    metrics,
    'berth_blob_direct_written_bytes_total',
    'Upload bytes the filesystem driver wrote with O_DIRECT (0 while uploads grow: the native part is not built, the filesystem refuses O_DIRECT or storage.fs.directWrites is off)',
    deps.directWrittenBytes ?? ((): number => 0),
  );

  if (deps.usage) {
    const usage = deps.usage;
    // One database read per scrape, shared by the three gauges (prom-client collects them concurrently).
    let cached: { at: number; rows: Promise<Awaited<ReturnType<typeof usage>>> } | null = null;
    const snapshot = (): Promise<Awaited<ReturnType<typeof usage>>> => {
      if (!cached || Date.now() - cached.at > 1000) cached = { at: Date.now(), rows: usage() };
      return cached.rows;
    };
    const perRepository = (name: string, help: string, pick: (r: Awaited<ReturnType<typeof usage>>[number]) => number): void => {
      new Gauge({
        name,
        help,
        labelNames: ['repository'] as const,
        registers: [metrics],
        async collect() {
          const rows = await snapshot();
          this.reset();
          for (const r of rows) this.set({ repository: r.name }, pick(r));
        },
      });
    };
    perRepository('berth_repository_stored_bytes', 'Bytes of the blobs linked to each repository', (r) => r.bytes);
    perRepository('berth_repository_shared_bytes', 'Bytes each repository shares with other repositories', (r) => r.sharedBytes);
    perRepository('berth_repository_monthly_cost_usd', 'Estimated monthly storage cost of each repository', (r) => r.monthlyCostUsd);
  }

  // Shutdown: Fastify closes the connections that are idle when it starts closing; a kept-alive
  // connection whose response was still running then became idle afterwards and held the process
  // until shutdownTimeoutSeconds (measured: a 1 GiB download in flight at SIGTERM, exit 29 s after it
  // ended). While closing, responses say Connection: close, and each finished response closes the
  // connections that are idle by then.
  let closing = false;
  app.addHook('preClose', async () => {
    closing = true;
  });
  app.addHook('onSend', async (req, reply) => {
    reply.header('X-Request-Id', req.id);
    if (closing) reply.header('Connection', 'close');
    // The body was read from the socket natively and the connection could not be handed back
    // (socket-reads.ts): it closes after the response, lingering so that the client reads it.
    if (mustClose(req.raw)) {
      reply.header('Connection', 'close');
      lingerOnClose(req.raw.socket);
    }
  });
  app.addHook('onResponse', async (req, reply) => {
    // NOTE: on the next turn: Node.js marks the connection idle in its own 'finish' listener.
    if (closing) setImmediate(() => app.server.closeIdleConnections());
    const operation = req.operation ?? (req.routeOptions.url ?? 'unknown');
    const seconds = reply.elapsedTime / 1000;
    requests.inc({ operation, method: req.method, status: String(reply.statusCode) });
    duration.observe({ operation, method: req.method }, seconds);
    req.log.info(
      { method: req.method, url: req.url, status: reply.statusCode, ms: Math.round(reply.elapsedTime * 10) / 10, operation },
      'request',
    );
  });

  app.get('/healthz', async (_req, reply) => {
    try {
      await deps.health();
      return await reply.code(200).send({ status: 'ok' });
    } catch (err) {
      app.log.warn({ err }, 'health check failed');
      return reply.code(503).send({ status: 'unavailable' });
    }
  });
  app.get('/metrics', async (_req, reply) => {
    return reply.code(200).header('Content-Type', metrics.contentType).send(await metrics.metrics());
  });

  void app.register(ociPlugin(deps.services));
  void app.register(ecrPlugin(deps.ecr, queryApi(deps.query)));
  return app;
}

/** A counter whose value is read, when /metrics is scraped, from a count the process keeps itself. */
function countOnScrape(metrics: Registry, name: string, help: string, read: () => number): void {
  new Counter({
    name,
    help,
    registers: [metrics],
    collect() {
      this.reset();
      this.inc(read());
    },
  });
}
