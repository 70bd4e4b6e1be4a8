/**
 * A whole Berth (SQLite and a data directory in a fresh temporary directory) for tests that talk to
 * it through its HTTP server, in process or on a loopback port, with the root key's registry login.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { buildApp, type App } from './build.js';
import { loadConfig } from '../config/load.js';

export interface TestApp {
  app: App;
  dir: string;
  /** `Basic AWS:<token>`, the header a client sends after `docker login` with the root key. */
  authorization: string;
  /** The loopback port, when started with `listen`. */
  port: number;
  /** Closes the app (unless `appClosed`) and removes the directory. */
  close(o?: { appClosed?: boolean }): Promise<void>;
}

/** Starts an app named after the test (`name`: its temporary directory's prefix and root secret). */
export async function startTestApp(name: string, o: { listen?: boolean; now?: () => number } = {}): Promise<TestApp> {
  const dir = await mkdtemp(join(tmpdir(), `berth-${name}-`));
  const rootKey = 'AKIATESTAPPROOTKEY01';
  const config = loadConfig({ env: { BERTH_ROOT_ACCESS_KEY_ID: rootKey, BERTH_ROOT_SECRET_ACCESS_KEY: `${name}-test-secret` }, flags: { dataDir: dir } });
  const app = await buildApp(config, pino({ level: 'silent' }), o.now ? { now: o.now } : {});
  let port = 0;
  if (o.listen) port = Number(new URL(await app.http.listen({ host: '127.0.0.1', port: 0 })).port);
  else await app.http.ready();
  const { token } = await app.auth.loginToken(await app.auth.resolve({ t: 'r', a: rootKey }), 3600_000);
  return {
    app,
    dir,
    authorization: `Basic ${Buffer.from(`AWS:${token}`).toString('base64')}`,
    port,
    async close(c = {}) {
      if (!c.appClosed) await app.close();
      await rm(dir, { recursive: true, force: true });
    },
  };
}
