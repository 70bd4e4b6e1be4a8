// Starting, probing, sampling and stopping the two registry processes.

import { spawn, execFileSync } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import http from 'node:http';
import { sleep } from './util.mjs';

const live = new Set();

/** Find a free loopback TCP port. */
export function freePort() {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address();
      srv.close(() => resolve(port));
    });
  });
}

function probe(port, urlPath) {
  return new Promise((resolve) => {
    const req = http.get({ host: '127.0.0.1', port, path: urlPath, timeout: 2000, agent: false }, (res) => {
      res.resume();
      res.on('end', () => resolve(res.statusCode));
      res.on('error', () => resolve(0));
    });
    req.on('timeout', () => req.destroy());
    req.on('error', () => resolve(0));
  });
}

/** USER_HZ: /proc's CPU times are in these (100 on Linux x86_64 and arm64). */
const CLOCK_TICKS = 100;

export class RegistryProcess {
  /**
   * @param {object} o { name, command, args, cwd, dataDir, logFile, port, readyPath }
   */
  constructor(o) {
    Object.assign(this, o);
    this.child = null;
    this.exited = null;
  }

  get url() {
    return `http://127.0.0.1:${this.port}`;
  }

  async start({ timeoutMs = 30_000 } = {}) {
    fs.mkdirSync(this.dataDir, { recursive: true });
    const out = fs.openSync(this.logFile, 'a');
    // Own process group so that the whole tree can be stopped by its id.
    this.child = spawn(this.command, this.args, {
      cwd: this.cwd,
      stdio: ['ignore', out, out],
      detached: true,
      env: { ...process.env, ...(this.env ?? {}) },
    });
    fs.closeSync(out);
    live.add(this);
    this.child.on('error', (e) => {
      this.exited = { error: e };
    });
    this.child.on('exit', (code, signal) => {
      this.exited = { code, signal };
      live.delete(this);
    });
    const t0 = Date.now();
    let last = 0;
    while (Date.now() - t0 < timeoutMs) {
      if (this.exited) {
        throw new Error(`${this.name} exited before ready (${JSON.stringify(this.exited.error?.message ?? this.exited)}); log tail:\n${this.logTail()}`);
      }
      last = await probe(this.port, this.readyPath);
      if (last === 200) return;
      await sleep(100);
    }
    throw new Error(`${this.name} not ready after ${timeoutMs} ms (GET ${this.readyPath} -> ${last || 'no answer'}); log tail:\n${this.logTail()}`);
  }

  get pid() {
    return this.child?.pid;
  }

  alive() {
    return this.child && !this.exited;
  }

  logTail(lines = 15) {
    try {
      const s = fs.readFileSync(this.logFile, 'utf8').trimEnd().split('\n');
      return s.slice(-lines).map((l) => '    ' + l).join('\n');
    } catch {
      return '    (no log)';
    }
  }

  /** Resident memory (bytes) of the process and all its descendants in its group. */
  rss() {
    if (!this.alive()) return null;
    let total = 0;
    for (const pid of this.groupPids()) {
      try {
        const s = fs.readFileSync(`/proc/${pid}/status`, 'utf8');
        const m = /VmRSS:\s+(\d+)\s+kB/.exec(s);
        if (m) total += Number(m[1]) * 1024;
      } catch {
        /* exited */
      }
    }
    return total;
  }

  /** CPU seconds (user + system, every thread) used so far by the process and its group. */
  cpuSeconds() {
    let ticks = 0;
    for (const pid of this.groupPids()) {
      try {
        const st = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
        const f = st.slice(st.lastIndexOf(')') + 2).split(' ');
        ticks += Number(f[11]) + Number(f[12]); // utime, stime
      } catch {
        /* exited */
      }
    }
    return ticks / CLOCK_TICKS;
  }

  groupPids() {
    const t = Date.now();
    if (this._pids && t - this._pidsAt < 1000) return this._pids;
    const pids = [this.pid];
    try {
      for (const d of fs.readdirSync('/proc')) {
        if (!/^\d+$/.test(d) || Number(d) === this.pid) continue;
        try {
          const st = fs.readFileSync(`/proc/${d}/stat`, 'utf8');
          const f = st.slice(st.lastIndexOf(')') + 2).split(' ');
          if (Number(f[2]) === this.pid) pids.push(Number(d)); // pgrp
        } catch {
          /* gone */
        }
      }
    } catch {
      /* no /proc */
    }
    this._pids = pids;
    this._pidsAt = t;
    return pids;
  }

  /** Sample RSS every intervalMs until stop(); stop() returns { peak, samples, first }. */
  rssSampler(intervalMs = 100) {
    let peak = 0;
    let samples = 0;
    let first = null;
    const take = () => {
      const v = this.rss();
      if (v != null) {
        if (first == null) first = v;
        samples++;
        if (v > peak) peak = v;
      }
    };
    take();
    const timer = setInterval(take, intervalMs);
    return {
      stop: () => {
        clearInterval(timer);
        take();
        return { peak, samples, first };
      },
    };
  }

  async stop() {
    if (!this.child || this.exited) return;
    try {
      process.kill(-this.child.pid, 'SIGTERM');
    } catch {
      /* gone */
    }
    const t0 = Date.now();
    while (!this.exited && Date.now() - t0 < 5000) await sleep(50);
    if (!this.exited) {
      try {
        process.kill(-this.child.pid, 'SIGKILL');
      } catch {
        /* gone */
      }
      const t1 = Date.now();
      while (!this.exited && Date.now() - t1 < 2000) await sleep(50);
    }
  }

  /** Synchronous last-resort kill (process 'exit' handler). */
  killNow() {
    if (!this.child || this.exited) return;
    try {
      process.kill(-this.child.pid, 'SIGKILL');
    } catch {
      /* gone */
    }
  }
}

export function killAllNow() {
  for (const p of live) p.killNow();
}

export async function stopAll() {
  await Promise.all([...live].map((p) => p.stop()));
}

export function distributionConfig(dataDir, port) {
  return [
    'version: 0.1',
    'log:',
    '  level: warn',
    '  accesslog:',
    '    disabled: true',
    'storage:',
    '  filesystem:',
    `    rootdirectory: ${dataDir}`,
    '  delete:',
    '    enabled: true',
    'http:',
    `  addr: 127.0.0.1:${port}`,
    '',
  ].join('\n');
}

export async function makeDistribution(workDir, bin = '/usr/bin/docker-registry') {
  const port = await freePort();
  const dataDir = path.join(workDir, 'distribution-data');
  const cfg = path.join(workDir, 'distribution.yml');
  fs.mkdirSync(dataDir, { recursive: true });
  fs.writeFileSync(cfg, distributionConfig(dataDir, port));
  return new RegistryProcess({
    name: 'distribution',
    command: bin,
    args: ['serve', cfg],
    cwd: workDir,
    dataDir,
    logFile: path.join(workDir, 'distribution.log'),
    port,
    readyPath: '/v2/',
  });
}

export async function makeBerth(workDir, repoRoot, extraArgs = []) {
  const port = await freePort();
  const dataDir = path.join(workDir, 'berth-data');
  return new RegistryProcess({
    name: 'berth',
    command: process.execPath,
    // BENCH_BERTH_ARGS: extra flags, e.g. "--workers 2"; BENCH_BERTH_NODE_ARGS: flags for node
    // itself, e.g. "--cpu-prof --cpu-prof-dir=/tmp/prof" to profile the server.
    args: [...(process.env.BENCH_BERTH_NODE_ARGS ?? '').split(' ').filter(Boolean), 'bin/berth.js', 'serve', '--listen', `127.0.0.1:${port}`, '--data-dir', dataDir, ...extraArgs],
    cwd: repoRoot,
    dataDir,
    logFile: path.join(workDir, 'berth.log'),
    port,
    readyPath: '/healthz',
    // Like Distribution's (access log off, level warn): no line per request.
    env: {
      BERTH_LOG__LEVEL: 'warn',
      ...(process.env.BERTH_LOG__LEVEL ? { BERTH_LOG__LEVEL: process.env.BERTH_LOG__LEVEL } : {}),
      BERTH_ROOT_ACCESS_KEY_ID: BENCH_ROOT.accessKeyId,
      BERTH_ROOT_SECRET_ACCESS_KEY: BENCH_ROOT.secretAccessKey,
    },
  });
}

/** The bench's root key for Berth. */
export const BENCH_ROOT = { accessKeyId: 'AKIABERTHBENCHROOT01', secretAccessKey: 'berth-bench-root-secret-0123456789' };

/**
 * The `Authorization` header a docker client sends to Berth after `aws ecr get-login-password |
 * docker login` (Basic AWS:<password>); Distribution runs without authentication, as it ships.
 */
export async function berthLogin(url) {
  const { ECRClient, GetAuthorizationTokenCommand } = await import('@aws-sdk/client-ecr');
  const ecr = new ECRClient({ endpoint: url, region: 'us-east-1', credentials: { ...BENCH_ROOT } });
  try {
    const out = await ecr.send(new GetAuthorizationTokenCommand({}));
    return `Basic ${out.authorizationData[0].authorizationToken}`;
  } finally {
    ecr.destroy();
  }
}

export function distributionVersion(bin = '/usr/bin/docker-registry') {
  try {
    return execFileSync(bin, ['--version'], { encoding: 'utf8', timeout: 5000 }).trim();
  } catch {
    return 'unknown';
  }
}
