/**
 * `berth serve`: runs the registry. With `workers > 1` the primary process migrates the
 * database once, then forks workers that share the listening port (node:cluster); each
 * worker is a complete, stateless registry node over the same stores.
 */
import cluster from 'node:cluster';
import { pino, type Logger } from 'pino';
import { openMetadataStore } from '../app/stores.js';
import { redact } from '../config/load.js';
import type { Config } from '../config/schema.js';

export async function serve(config: Config): Promise<void> {
  const logger = pino({ level: config.log.level, base: { pid: process.pid }, timestamp: pino.stdTimeFunctions.isoTime });
  if (config.workers > 1 && cluster.isPrimary) return supervise(config, logger);
  await runNode(config, logger);
}

async function runNode(config: Config, logger: Logger): Promise<void> {
  if (cluster.isPrimary) logger.info({ config: redact(config) }, 'starting berth');
  // Loaded here, not at the top: the supervisor of workers never needs the registry itself.
  const { buildApp } = await import('../app/build.js');
  const app = await buildApp(config, logger);
  const { host, port } = splitListen(config.listen);
  await app.http.listen({ host, port });
  logger.info({ listen: config.listen }, 'berth is listening');

  // Every node runs the scheduler; each due run is claimed through the database, so it happens once.
  await app.scheduler.start(config.scheduler.tickSeconds * 1000);

  let stopping = false;
  const stop = (signal: string): void => {
    if (stopping) return;
    stopping = true;
    logger.info({ signal }, 'shutting down: finishing in-flight requests');
    const force = setTimeout(() => {
      logger.warn('shutdown timed out; exiting with requests still running');
      process.exit(1);
    }, config.shutdownTimeoutSeconds * 1000);
    force.unref();
    app.close().then(
      () => {
        logger.info('stopped');
        process.exit(0);
      },
      (err: unknown) => {
        logger.error({ err }, 'error while stopping');
        process.exit(1);
      },
    );
  };
  process.on('SIGTERM', () => stop('SIGTERM'));
  process.on('SIGINT', () => stop('SIGINT'));
}

async function supervise(config: Config, logger: Logger): Promise<void> {
  logger.info({ config: redact(config) }, 'starting berth');
  const meta = await openMetadataStore(config);
  await meta.close();
  let stopping = false;
  for (let i = 0; i < config.workers; i++) cluster.fork();
  cluster.on('exit', (worker, code, signal) => {
    if (stopping) {
      if (Object.keys(cluster.workers ?? {}).length === 0) process.exit(0);
      return;
    }
    logger.error({ worker: worker.id, code, signal }, 'worker died; starting another');
    cluster.fork();
  });
  const stop = (signal: NodeJS.Signals): void => {
    stopping = true;
    for (const w of Object.values(cluster.workers ?? {})) w?.process.kill(signal === 'SIGINT' ? 'SIGTERM' : signal);
  };
  process.on('SIGTERM', () => stop('SIGTERM'));
  process.on('SIGINT', () => stop('SIGINT'));
}

export function splitListen(listen: string): { host: string; port: number } {
  const i = listen.lastIndexOf(':');
  const host = listen.slice(0, i).replace(/^\[|\]$/g, '') || '0.0.0.0';
  return { host, port: Number(listen.slice(i + 1)) };
}
