/**
 * Thin wrappers around the real clients, each with private state under a temp dir so
 * tests never share storage or daemons (registry logins are shared per test process: registry-auth.ts). Set E2E_DEBUG=1 to run the clients
 * with their debug output (it ends up in the error message when a command fails).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { run, runJson, runOk, tail, type RunOptions, type RunResult } from './clients.js';
import { REGISTRY_AUTH_FILE } from './registry-auth.js';

export const DEBUG = ['1', 'true', 'yes'].includes((process.env['E2E_DEBUG'] ?? '').toLowerCase());

/** The OCI platform of this machine (images for podman/ctr must match it). */
export function hostPlatform(): { architecture: string; os: string } {
  const map: Record<string, string> = { x64: 'amd64', arm64: 'arm64', arm: 'arm', ppc64: 'ppc64le', s390x: 's390x', riscv64: 'riscv64' };
  return { architecture: map[process.arch] ?? process.arch, os: 'linux' };
}

/** Shared containers/image configuration: accept-anything policy and an empty auth file. */
async function containersConfig(dir: string): Promise<{ policy: string; env: NodeJS.ProcessEnv }> {
  await mkdir(dir, { recursive: true });
  const policy = join(dir, 'policy.json');
  const registries = join(dir, 'registries.conf');
  await writeFile(policy, JSON.stringify({ default: [{ type: 'insecureAcceptAnything' }] }));
  await writeFile(registries, 'unqualified-search-registries = []\nshort-name-mode = "disabled"\n');
  const tmp = join(dir, 'tmp');
  await mkdir(tmp, { recursive: true });
  return {
    policy,
    env: {
      ...process.env,
      // One auth file per test process, holding the logins of the servers it started (registry-auth.ts).
      REGISTRY_AUTH_FILE,
      CONTAINERS_REGISTRIES_CONF: registries,
      TMPDIR: tmp,
    },
  };
}

export interface SkopeoInspect {
  Name?: string;
  Digest: string;
  RepoTags?: string[];
  Architecture?: string;
  Os?: string;
  Layers: string[];
  LayersData?: Array<{ MIMEType: string; Digest: string; Size: number }>;
}

export class Skopeo {
  private constructor(
    private readonly policy: string,
    private readonly env: NodeJS.ProcessEnv,
    private readonly tmp: string,
  ) {}

  static async create(dir: string): Promise<Skopeo> {
    const { policy, env } = await containersConfig(join(dir, 'skopeo-config'));
    return new Skopeo(policy, env, join(dir, 'skopeo-config', 'tmp'));
  }

  private global(): string[] {
    return [...(DEBUG ? ['--debug'] : []), '--policy', this.policy, '--tmpdir', this.tmp];
  }

  private opts(o: RunOptions = {}): RunOptions {
    return { env: this.env, timeoutMs: 120_000, ...o };
  }

  run(args: readonly string[], o?: RunOptions): Promise<RunResult> {
    return run('skopeo', [...this.global(), ...args], this.opts(o));
  }

  runOk(args: readonly string[], o?: RunOptions): Promise<RunResult> {
    return runOk('skopeo', [...this.global(), ...args], this.opts(o));
  }

  /** skopeo copy with TLS verification off on both sides (plain HTTP on loopback). */
  copy(src: string, dest: string, extra: readonly string[] = []): Promise<RunResult> {
    return this.runOk(['copy', '--src-tls-verify=false', '--dest-tls-verify=false', ...extra, src, dest]);
  }

  inspect(ref: string, extra: readonly string[] = []): Promise<SkopeoInspect> {
    return runJson<SkopeoInspect>('skopeo', [...this.global(), 'inspect', '--tls-verify=false', ...extra, ref], this.opts());
  }

  async inspectRaw(ref: string, extra: readonly string[] = []): Promise<string> {
    const r = await this.runOk(['inspect', '--tls-verify=false', '--raw', ...extra, ref]);
    return r.stdout;
  }

  async inspectConfig(ref: string, extra: readonly string[] = []): Promise<{ rootfs: { diff_ids: string[] }; architecture: string; os: string; config?: { Labels?: Record<string, string> } }> {
    return runJson('skopeo', [...this.global(), 'inspect', '--tls-verify=false', '--config', ...extra, ref], this.opts());
  }

  listTags(repoRef: string): Promise<{ Repository: string; Tags: string[] }> {
    return runJson('skopeo', [...this.global(), 'list-tags', '--tls-verify=false', repoRef], this.opts());
  }

  delete(ref: string): Promise<RunResult> {
    return this.runOk(['delete', '--tls-verify=false', ref]);
  }
}

async function shortRunroot(): Promise<string> {
  return mkdtemp(join(tmpdir(), 'be2e-rr-'));
}

/** buildah / podman share the containers-storage flags: private root, runroot, vfs. */
abstract class StorageClient {
  protected constructor(
    protected readonly bin: string,
    protected readonly dir: string,
    /** kept short on purpose: `podman build` refuses a runroot longer than 50 characters */
    protected readonly runroot: string,
    protected readonly policy: string,
    protected readonly env: NodeJS.ProcessEnv,
  ) {}

  /** Removes the runroot (it lives outside `dir`); the caller removes `dir`. */
  async dispose(): Promise<void> {
    await rm(this.runroot, { recursive: true, force: true, maxRetries: 3 });
  }

  protected abstract global(): string[];

  run(args: readonly string[], o: RunOptions = {}): Promise<RunResult> {
    return run(this.bin, [...this.global(), ...args], { env: this.env, timeoutMs: 180_000, ...o });
  }

  runOk(args: readonly string[], o: RunOptions = {}): Promise<RunResult> {
    return runOk(this.bin, [...this.global(), ...args], { env: this.env, timeoutMs: 180_000, ...o });
  }

  storageFlags(): string[] {
    return ['--root', join(this.dir, 'root'), '--runroot', this.runroot, '--storage-driver', 'vfs'];
  }

  get signaturePolicy(): string {
    return this.policy;
  }
}

export class Buildah extends StorageClient {
  static async create(dir: string): Promise<Buildah> {
    const d = join(dir, 'buildah');
    const { policy, env } = await containersConfig(join(d, 'config'));
    return new Buildah('buildah', d, await shortRunroot(), policy, { ...env, BUILDAH_ISOLATION: 'chroot' });
  }
  protected global(): string[] {
    return [...this.storageFlags(), ...(DEBUG ? ['--log-level', 'debug'] : [])];
  }
}

export class Podman extends StorageClient {
  static async create(dir: string): Promise<Podman> {
    const d = join(dir, 'podman');
    const { policy, env } = await containersConfig(join(d, 'config'));
    await mkdir(join(d, 'tmp'), { recursive: true });
    await mkdir(join(d, 'netconfig'), { recursive: true });
    const containersConf = join(d, 'config', 'containers.conf');
    await writeFile(containersConf, '[engine]\nevents_logger = "file"\ncgroup_manager = "cgroupfs"\n');
    return new Podman('podman', d, await shortRunroot(), policy, { ...env, CONTAINERS_CONF: containersConf });
  }
  protected global(): string[] {
    return [
      ...this.storageFlags(),
      '--cgroup-manager',
      'cgroupfs',
      '--events-backend',
      'file',
      '--tmpdir',
      join(this.dir, 'tmp'),
      '--network-config-dir',
      join(this.dir, 'netconfig'),
      ...(DEBUG ? ['--log-level', 'debug'] : []),
    ];
  }
}

/* ------------------------------------------------------------- containerd */

export interface Containerd {
  readonly socket: string;
  readonly namespace: string;
  /** run `ctr --address <sock> --namespace <ns> ...` */
  ctr(args: readonly string[], o?: RunOptions): Promise<RunResult>;
  ctrOk(args: readonly string[], o?: RunOptions): Promise<RunResult>;
  logs(): string;
  stop(): Promise<void>;
}

/** Starts a private containerd daemon (temp root/state/socket, CRI disabled). */
export async function startContainerd(dir: string, namespace = 'berth-e2e'): Promise<Containerd> {
  const d = join(dir, 'containerd');
  await mkdir(d, { recursive: true });
  const socket = join(d, 'c.sock');
  const config = `version = 2
root = ${JSON.stringify(join(d, 'root'))}
state = ${JSON.stringify(join(d, 'state'))}
disabled_plugins = [
  "io.containerd.grpc.v1.cri",
  "io.containerd.snapshotter.v1.btrfs",
  "io.containerd.snapshotter.v1.zfs",
  "io.containerd.snapshotter.v1.aufs",
  "io.containerd.snapshotter.v1.devmapper",
  "io.containerd.tracing.processor.v1.otlp",
  "io.containerd.internal.v1.tracing",
]

[grpc]
  address = ${JSON.stringify(socket)}

[ttrpc]
  address = ${JSON.stringify(socket + '.ttrpc')}

[debug]
  address = ""
  level = "${DEBUG ? 'debug' : 'info'}"

[metrics]
  address = ""

[plugins]
  [plugins."io.containerd.internal.v1.opt"]
    path = ${JSON.stringify(join(d, 'opt'))}
`;
  const configPath = join(d, 'config.toml');
  await writeFile(configPath, config);

  let log = '';
  let exited = false;
  const child: ChildProcess = spawn('containerd', ['--config', configPath], {
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, TMPDIR: d },
  });
  const append = (c: Buffer) => {
    log += c.toString();
    if (log.length > 64 * 1024) log = log.slice(-64 * 1024);
  };
  child.stdout?.on('data', append);
  child.stderr?.on('data', append);
  const exit = new Promise<void>((resolve) => {
    child.on('exit', () => {
      exited = true;
      resolve();
    });
    child.on('error', (e) => {
      log += `spawn error: ${e.message}\n`;
      exited = true;
      resolve();
    });
  });

  const base = (): string[] => ['--address', socket, '--namespace', namespace, ...(DEBUG ? ['--debug'] : [])];
  const ctr = (args: readonly string[], o: RunOptions = {}) => run('ctr', [...base(), ...args], { timeoutMs: 180_000, ...o });
  const ctrOk = (args: readonly string[], o: RunOptions = {}) => runOk('ctr', [...base(), ...args], { timeoutMs: 180_000, ...o });

  const stop = async () => {
    if (!exited) {
      child.kill('SIGTERM');
      const t = setTimeout(() => child.kill('SIGKILL'), 10_000);
      await exit;
      clearTimeout(t);
    }
  };

  const deadline = Date.now() + 30_000;
  let last = '';
  for (;;) {
    if (exited) throw new Error(`containerd exited during startup:\n${tail(log)}`);
    const r = await run('ctr', ['--address', socket, 'version'], { timeoutMs: 5_000 });
    if (r.code === 0) break;
    last = r.stderr;
    if (Date.now() > deadline) {
      await stop();
      throw new Error(`containerd not ready after 30 s (last ctr error: ${last}):\n${tail(log)}`);
    }
    await new Promise((r) => setTimeout(r, 200));
  }

  return { socket, namespace, ctr, ctrOk, logs: () => log, stop };
}
