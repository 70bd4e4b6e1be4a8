/**
 * Running third-party client binaries (skopeo, buildah, podman, ctr, ...) from tests.
 * Always spawn with an argument vector, never a shell string.
 */
import { spawn, spawnSync } from 'node:child_process';
import { accessSync, constants } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { delimiter, join } from 'node:path';
import { beforeAll, beforeEach, describe } from 'vitest';

export interface RunOptions {
  /** kill the process (SIGKILL) after this long; default 120 s */
  timeoutMs?: number;
  env?: NodeJS.ProcessEnv;
  cwd?: string;
  input?: string | Buffer;
}

export interface RunResult {
  command: string;
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  /** stdout as bytes, for binary output */
  stdoutBytes: Buffer;
  stderr: string;
  durationMs: number;
  timedOut: boolean;
}

/** Keeps at most `max` characters of a long text (its tail), for error messages. */
export function tail(text: string, max = 8000): string {
  return text.length <= max ? text : `...(${text.length - max} chars cut)...\n` + text.slice(-max);
}

function quote(arg: string): string {
  return /^[\w@%+=:,./-]+$/.test(arg) ? arg : `'${arg.replace(/'/g, `'\\''`)}'`;
}

/** Runs `bin args...`, never throws for a non-zero exit (see runOk). */
export function run(bin: string, args: readonly string[], opts: RunOptions = {}): Promise<RunResult> {
  const command = [bin, ...args].map(quote).join(' ');
  const started = Date.now();
  return new Promise((resolve, reject) => {
    const child = spawn(bin, args, {
      cwd: opts.cwd,
      env: opts.env ?? process.env,
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      child.kill('SIGKILL');
    }, opts.timeoutMs ?? 120_000);
    child.stdout.on('data', (c: Buffer) => out.push(c));
    child.stderr.on('data', (c: Buffer) => err.push(c));
    child.on('error', (e) => {
      clearTimeout(timer);
      reject(new Error(`failed to start ${command}: ${e.message}`));
    });
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      const stdoutBytes = Buffer.concat(out);
      resolve({
        command,
        code,
        signal,
        stdout: stdoutBytes.toString('utf8'),
        stdoutBytes,
        stderr: Buffer.concat(err).toString('utf8'),
        durationMs: Date.now() - started,
        timedOut,
      });
    });
    child.stdin.on('error', () => {
      /* the child may exit before reading its input */
    });
    child.stdin.end(opts.input ?? '');
  });
}

export function describeResult(r: RunResult): string {
  const status = r.timedOut ? 'timed out (killed)' : r.signal ? `killed by ${r.signal}` : `exit code ${r.code}`;
  return `$ ${r.command}\n-> ${status} after ${r.durationMs} ms\n--- stdout ---\n${tail(r.stdout)}\n--- stderr ---\n${tail(r.stderr)}`;
}

export class CommandError extends Error {
  constructor(readonly result: RunResult) {
    super(`command failed: ${describeResult(result)}`);
    this.name = 'CommandError';
  }
}

/** Runs the command and throws a CommandError (with its output) unless it exits 0. */
export async function runOk(bin: string, args: readonly string[], opts: RunOptions = {}): Promise<RunResult> {
  const r = await run(bin, args, opts);
  if (r.code !== 0) throw new CommandError(r);
  return r;
}

/** Runs the command, expects exit 0 and JSON on stdout. */
export async function runJson<T = unknown>(bin: string, args: readonly string[], opts: RunOptions = {}): Promise<T> {
  const r = await runOk(bin, args, opts);
  try {
    return JSON.parse(r.stdout) as T;
  } catch (e) {
    throw new Error(`stdout of ${r.command} is not JSON (${(e as Error).message}):\n${tail(r.stdout)}`);
  }
}

/* ------------------------------------------------------------- binaries */

const whichCache = new Map<string, string | undefined>();

/** Absolute path of `name` on PATH (or the path itself if it contains a slash), or undefined. */
export function which(name: string): string | undefined {
  if (whichCache.has(name)) return whichCache.get(name);
  let found: string | undefined;
  const candidates = name.includes('/')
    ? [name]
    : (process.env['PATH'] ?? '').split(delimiter).filter(Boolean).map((d) => join(d, name));
  for (const c of candidates) {
    try {
      accessSync(c, constants.X_OK);
      found = c;
      break;
    } catch {
      /* next */
    }
  }
  whichCache.set(name, found);
  return found;
}

export function missingBinaries(names: readonly string[]): string[] {
  return names.filter((n) => which(n) === undefined);
}

export function isRoot(): boolean {
  return typeof process.getuid === 'function' && process.getuid() === 0;
}

/** Why a suite needing these binaries (and maybe root) cannot run here, or undefined if it can. */
export function skipReason(names: readonly string[], opts: { root?: boolean } = {}): string | undefined {
  const reasons: string[] = [];
  const missing = missingBinaries(names);
  if (missing.length) reasons.push(`not on PATH: ${missing.join(', ')}`);
  if (opts.root && !isRoot()) reasons.push('needs to run as root');
  return reasons.length ? reasons.join('; ') : undefined;
}

type SuiteFn = () => void;

/**
 * `skipUnless('skopeo', 'podman')('podman e2e', () => { ... })`: a describe block that
 * is skipped, with the reason in its name and on stderr, when a binary is missing.
 */
export function skipUnless(...names: string[]): (name: string, fn: SuiteFn) => void {
  return skipUnlessWith(names);
}

export function skipUnlessWith(names: readonly string[], opts: { root?: boolean } = {}): (name: string, fn: SuiteFn) => void {
  const reason = skipReason(names, opts);
  return (name, fn) => {
    if (reason === undefined) {
      describe(name, fn);
    } else {
      process.stderr.write(`[e2e] skipping "${name}": ${reason}\n`);
      describe.skip(`${name} (skipped: ${reason})`, fn);
    }
  };
}

/** Version line of a binary, for logs (`skopeo --version`). */
export function versionOf(bin: string, args: readonly string[] = ['--version']): string {
  const r = spawnSync(bin, args, { encoding: 'utf8', timeout: 10_000 });
  return (r.stdout || r.stderr || '').trim().split('\n')[0] ?? '';
}

/* ------------------------------------------------------------- temp dirs */

/** A temp dir under the OS temp root; short paths (unix sockets must stay under 108 bytes). */
export async function makeTempDir(prefix: string): Promise<string> {
  return mkdtemp(join(tmpdir(), `berth-e2e-${prefix}-`));
}

export async function removeDir(dir: string | undefined): Promise<void> {
  if (!dir) return;
  await rm(dir, { recursive: true, force: true, maxRetries: 3 });
}

/** Collects cleanups; run them all (in reverse) even if some fail. */
export class Cleanup {
  private readonly tasks: Array<() => Promise<unknown> | unknown> = [];
  add(task: () => Promise<unknown> | unknown): void {
    this.tasks.push(task);
  }
  dir(dir: string): string {
    this.add(() => removeDir(dir));
    return dir;
  }
  async run(): Promise<void> {
    const errors: unknown[] = [];
    while (this.tasks.length) {
      const t = this.tasks.pop();
      try {
        await t?.();
      } catch (e) {
        errors.push(e);
      }
    }
    if (errors.length) throw new AggregateError(errors, 'cleanup failed');
  }
}

/**
 * Like beforeAll, but a failure of the setup fails every test of the suite (first with
 * the full error, then with a short pointer) instead of silently marking them skipped,
 * so the run's pass/fail counts tell the truth when, say, the server does not start.
 */
export function setupSuite(fn: () => Promise<void>): void {
  let error: unknown;
  let reported = false;
  beforeAll(async () => {
    try {
      await fn();
    } catch (e) {
      error = e;
    }
  });
  beforeEach(() => {
    if (error === undefined) return;
    if (!reported) {
      reported = true;
      throw error;
    }
    throw new Error(`suite setup failed (see the first test of this suite): ${String((error as Error).message ?? error).split('\n')[0]}`);
  });
}
