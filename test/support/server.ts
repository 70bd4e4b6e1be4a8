/**
 * Starts a real registry process on loopback for end-to-end tests.
 *
 * Default: Berth (`node bin/berth.js serve`, built by `npm run build` beforehand).
 * With E2E_TARGET=distribution: CNCF Distribution (`docker-registry serve <config>`),
 * so the same tests can be checked against a reference implementation.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, rm, writeFile, mkdir } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach } from 'vitest';
import { RecordingProxy } from './recording-proxy.js';
import { registryPassword, rememberLogin } from './registry-auth.js';

export type E2ETarget = 'berth' | 'distribution';

/** The root access key every test server starts with (BERTH_ROOT_ACCESS_KEY_ID / _SECRET_ACCESS_KEY). */
// NOTE: not frozen: the AWS SDK records where credentials came from on the object it is given.
export const TEST_ROOT_CREDENTIALS = {
  accessKeyId: 'AKIABERTHE2ETESTKEY1',
  secretAccessKey: 'berth-e2e-root-secret-0123456789abcdef',
} as const;

export const REPO_ROOT = fileURLToPath(new URL('../..', import.meta.url));

export function e2eTarget(): E2ETarget {
  const t = (process.env['E2E_TARGET'] ?? 'berth').toLowerCase();
  if (t === 'berth' || t === '') return 'berth';
  if (t === 'distribution' || t === 'docker-registry' || t === 'registry') return 'distribution';
  throw new Error(`unknown E2E_TARGET=${t} (use berth or distribution)`);
}

export interface StartOptions {
  target?: E2ETarget;
  /** use this data dir (kept on stop); default: a fresh temp dir, removed on stop() */
  dataDir?: string;
  /** keep a temp data dir on stop() (for debugging) */
  keepDataDir?: boolean;
  /** fixed port; default: a free one */
  port?: number;
  /** extra arguments to `berth serve` */
  extraArgs?: string[];
  env?: NodeJS.ProcessEnv;
  /** readiness timeout, default 30 s */
  readyTimeoutMs?: number;
  /**
   * Put a recording reverse proxy in front of the server (clients get the proxy's
   * host) so failures can show the exact HTTP exchanges. Default: E2E_RECORD=1.
   */
  record?: boolean;
}

export interface RunningServer {
  readonly target: E2ETarget;
  /** http://127.0.0.1:PORT */
  readonly url: string;
  /** 127.0.0.1:PORT, what clients put in image references */
  readonly host: string;
  readonly port: number;
  readonly dataDir: string;
  /** pid of the current process (changes on restart) */
  readonly pid: number;
  /** tail of the server's stdout+stderr */
  logs(): string;
  /** The root's /v2/ password (Berth started with the test root key), else undefined. */
  readonly registryPassword: string | undefined;
  /** the last n recorded HTTP exchanges (empty unless recording, see StartOptions.record) */
  traffic(n?: number): string;
  /** SIGTERM (then SIGKILL after 10 s), and remove the temp data dir unless kept. */
  stop(): Promise<void>;
  /** send a signal and wait for the process to exit */
  kill(signal?: NodeJS.Signals): Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  /** stop the process (if running) and start it again on the same port and data dir */
  restart(): Promise<void>;
}

/** A port that was free a moment ago on 127.0.0.1. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.unref();
    srv.on('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const addr = srv.address();
      if (addr === null || typeof addr === 'string') {
        srv.close();
        reject(new Error('no port'));
        return;
      }
      const port = addr.port;
      srv.close(() => resolve(port));
    });
  });
}

const LOG_LIMIT = 64 * 1024;

class ServerProcess implements RunningServer {
  private child: ChildProcess | undefined;
  private exit: Promise<{ code: number | null; signal: NodeJS.Signals | null }> | undefined;
  private exited = false;
  private log = '';
  private stopped = false;

  proxy: RecordingProxy | undefined;
  publicPort: number;
  /** The root's /v2/ password (GetAuthorizationToken), once logged in. */
  registryPassword: string | undefined;

  constructor(
    readonly target: E2ETarget,
    readonly port: number,
    readonly dataDir: string,
    private readonly workDir: string,
    private readonly ownsDataDir: boolean,
    private readonly keepDataDir: boolean,
    private readonly opts: StartOptions,
  ) {
    this.publicPort = port;
  }

  /** what clients use (the proxy when recording) */
  get url(): string {
    return `http://${this.host}`;
  }
  get host(): string {
    return `127.0.0.1:${this.publicPort}`;
  }
  /** where the server process itself listens */
  get backendHost(): string {
    return `127.0.0.1:${this.port}`;
  }

  traffic(n = 40): string {
    return this.proxy ? this.proxy.format(n) : '';
  }
  get pid(): number {
    return this.child?.pid ?? -1;
  }

  logs(): string {
    return this.log;
  }

  private append(chunk: Buffer | string): void {
    this.log += chunk.toString();
    if (this.log.length > LOG_LIMIT) this.log = this.log.slice(-LOG_LIMIT);
  }

  private async command(): Promise<{ bin: string; args: string[] }> {
    if (this.target === 'berth') {
      const bin = join(REPO_ROOT, 'bin', 'berth.js');
      if (!existsSync(bin)) throw new Error(`${bin} does not exist (run npm run build)`);
      return {
        bin: process.execPath,
        args: [bin, 'serve', '--listen', this.backendHost, '--data-dir', this.dataDir, ...(this.opts.extraArgs ?? [])],
      };
    }
    const configPath = join(this.workDir, 'distribution.yml');
    // JSON is valid YAML; Distribution reads it fine.
    const config = {
      version: 0.1,
      log: { level: 'info', formatter: 'text', accesslog: { disabled: false } },
      storage: {
        filesystem: { rootdirectory: this.dataDir },
        delete: { enabled: true },
        maintenance: { uploadpurging: { enabled: false } },
      },
      http: { addr: this.backendHost, headers: { 'X-Content-Type-Options': ['nosniff'] } },
    };
    await writeFile(configPath, JSON.stringify(config, null, 2));
    return { bin: 'docker-registry', args: ['serve', configPath, ...(this.opts.extraArgs ?? [])] };
  }

  private readinessPath(): string {
    return this.target === 'berth' ? '/healthz' : '/v2/';
  }

  async start(): Promise<void> {
    const { bin, args } = await this.command();
    this.exited = false;
    this.append(`\n[e2e] starting: ${bin} ${args.join(' ')}\n`);
    const child = spawn(bin, args, {
      cwd: REPO_ROOT,
      // An `undefined` in opts.env removes the variable (for example to let Berth generate its root key).
      env: Object.fromEntries(
        Object.entries({
          ...process.env,
          BERTH_ROOT_ACCESS_KEY_ID: TEST_ROOT_CREDENTIALS.accessKeyId,
          BERTH_ROOT_SECRET_ACCESS_KEY: TEST_ROOT_CREDENTIALS.secretAccessKey,
          ...(this.opts.env ?? {}),
        }).filter(([, v]) => v !== undefined),
      ),
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    this.child = child;
    child.stdout?.on('data', (c: Buffer) => this.append(c));
    child.stderr?.on('data', (c: Buffer) => this.append(c));
    this.exit = new Promise((resolve) => {
      child.on('error', (e) => {
        this.append(`[e2e] spawn error: ${e.message}\n`);
        this.exited = true;
        resolve({ code: null, signal: null });
      });
      child.on('exit', (code, signal) => {
        this.append(`[e2e] process ${child.pid} exited with code ${code} signal ${signal}\n`);
        this.exited = true;
        resolve({ code, signal });
      });
    });
    await this.waitReady();
    await this.login();
  }

  /** Berth with the test root key: log in to /v2/ as root (see registry-auth.ts). */
  private async login(): Promise<void> {
    if (this.target !== 'berth' || this.registryPassword !== undefined) return;
    const env = this.opts.env ?? {};
    if ('BERTH_ROOT_ACCESS_KEY_ID' in env || 'BERTH_ROOT_SECRET_ACCESS_KEY' in env) return; // the test manages its own keys
    this.registryPassword = await registryPassword(`http://${this.backendHost}`, TEST_ROOT_CREDENTIALS);
    rememberLogin(this.host, this.registryPassword);
    if (this.host !== this.backendHost) rememberLogin(this.backendHost, this.registryPassword);
  }

  private async waitReady(): Promise<void> {
    const timeout = this.opts.readyTimeoutMs ?? 30_000;
    const deadline = Date.now() + timeout;
    const url = `http://${this.backendHost}${this.readinessPath()}`;
    let last = 'no attempt';
    while (Date.now() < deadline) {
      if (this.exited) {
        throw new Error(`${this.target} exited before it was ready (${url}).\n--- server output (tail) ---\n${this.log.slice(-8000)}`);
      }
      try {
        const res = await fetch(url, { signal: AbortSignal.timeout(2000) });
        await res.arrayBuffer().catch(() => undefined);
        if (res.status === 200) return;
        last = `HTTP ${res.status}`;
      } catch (e) {
        last = (e as Error).message;
      }
      await new Promise((r) => setTimeout(r, 100));
    }
    const pid = this.child?.pid;
    this.child?.kill('SIGKILL');
    throw new Error(
      `${this.target} (pid ${pid}) did not answer 200 on ${url} within ${timeout} ms (last: ${last}).\n--- server output (tail) ---\n${this.log.slice(-8000)}`,
    );
  }

  async kill(signal: NodeJS.Signals = 'SIGTERM'): Promise<{ code: number | null; signal: NodeJS.Signals | null }> {
    const child = this.child;
    const exit = this.exit;
    if (!child || !exit) return { code: null, signal: null };
    if (!this.exited) child.kill(signal);
    return exit;
  }

  private async terminate(): Promise<void> {
    const child = this.child;
    const exit = this.exit;
    if (!child || !exit || this.exited) return;
    child.kill('SIGTERM');
    const timer = setTimeout(() => {
      this.append('[e2e] no exit 10 s after SIGTERM, sending SIGKILL\n');
      child.kill('SIGKILL');
    }, 10_000);
    await exit;
    clearTimeout(timer);
  }

  async restart(): Promise<void> {
    await this.terminate();
    await this.start();
  }

  async stop(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    await this.terminate();
    await this.proxy?.stop();
    if (!this.keepDataDir) {
      await rm(this.workDir, { recursive: true, force: true, maxRetries: 3 });
      if (this.ownsDataDir) await rm(this.dataDir, { recursive: true, force: true, maxRetries: 3 });
    }
  }
}

/** Starts a registry (Berth unless E2E_TARGET=distribution) and waits until it is ready. */
export async function startBerth(opts: StartOptions = {}): Promise<RunningServer> {
  const target = opts.target ?? e2eTarget();
  const workDir = await mkdtemp(join(tmpdir(), `berth-e2e-${target}-`));
  const ownsDataDir = opts.dataDir === undefined;
  const dataDir = opts.dataDir ?? join(workDir, 'data');
  await mkdir(dataDir, { recursive: true });
  const port = opts.port ?? (await freePort());
  const server = new ServerProcess(target, port, dataDir, workDir, ownsDataDir, opts.keepDataDir ?? false, opts);
  try {
    if (opts.record ?? ['1', 'true', 'yes'].includes((process.env['E2E_RECORD'] ?? '').toLowerCase())) {
      server.proxy = new RecordingProxy(port);
      server.publicPort = await server.proxy.start();
    }
    await server.start();
    process.stderr.write(
      `[e2e] ${target} ready: pid ${server.pid}, clients use ${server.url}${server.proxy ? ` (recording proxy -> ${server.backendHost})` : ''}, data ${dataDir}\n`,
    );
  } catch (e) {
    await server.stop().catch(() => undefined);
    throw e;
  }
  return server;
}

/** Alias that reads better in tests that do not care which registry it is. */
export const startRegistry = startBerth;

/**
 * Registers an afterEach hook that prints the tail of the server's output when a test
 * failed, so a failure report shows what the registry logged.
 */
export function dumpServerLogsOnFailure(getServer: () => RunningServer | undefined, chars = 6000): void {
  afterEach((ctx) => {
    const server = getServer();
    if (server && ctx.task.result?.state === 'fail') {
      process.stderr.write(`\n[e2e] ${server.target} output (tail) after failed test "${ctx.task.name}":\n${server.logs().slice(-chars)}\n`);
      const traffic = server.traffic(60);
      if (traffic) process.stderr.write(`\n[e2e] last HTTP exchanges seen by the recording proxy:\n${traffic}\n`);
    }
  });
}

/**
 * Upload bodies Berth read from the socket natively so far (berth_blob_native_receives_total in
 * /metrics), or null when the server is not Berth.
 */
export async function nativeReceives(server: RunningServer): Promise<number | null> {
  if (server.target !== 'berth') return null;
  const text = await (await fetch(`${server.url}/metrics`)).text();
  return Number(/^berth_blob_native_receives_total (\d+)$/m.exec(text)?.[1] ?? NaN);
}
