#!/usr/bin/env node
// Berth vs CNCF Distribution benchmark harness.
//
//   npm run bench                      full run, both registries (builds first)
//   BENCH_QUICK=1 node bench/run.mjs   smoke run, shrunk sizes (< 1 min per side)
//   BENCH_ONLY=berth|distribution      run one side only
//   BENCH_DIR=/path                    parent of the temporary data dir (default /tmp)
//   BENCH_TIMEOUT=300                  seconds allowed for each measured step
//   BENCH_OUT=docs/benchmarks.md       Markdown report path ('-' = none)
//   BENCH_JSON=path                    also write raw results as JSON
//   BENCH_WORKLOADS=uploads,downloads  run only these (protocol, uploads, downloads,
//                                      manifests, images, tags, catalog; downloads needs uploads)
//   BENCH_BERTH_ARGS="--workers 2"     extra flags for berth serve
//   DISTRIBUTION_BIN=/usr/bin/docker-registry
//
// All traffic goes to 127.0.0.1. Every loop is bounded in count and time.

import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { execFileSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';

import { Client } from './lib/http.mjs';
import { Checks, Reg } from './lib/oci.mjs';
import { berthLogin, makeBerth, makeDistribution, distributionVersion, stopAll, killAllNow } from './lib/registries.mjs';
import { Ctx, WORKLOADS } from './lib/workloads.mjs';
import { rowsFor, tabulate, textTable, markdown } from './lib/report.mjs';
import { MiB, GiB, KiB, log, errMsg, fmtSize } from './lib/util.mjs';
import { directWriteRate, syncedWriteRate } from './lib/disk.mjs';

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const env = process.env;
const quick = env.BENCH_QUICK === '1' || env.BENCH_QUICK === 'true';
const only = (env.BENCH_ONLY ?? '').trim().toLowerCase();
if (only && only !== 'berth' && only !== 'distribution') {
  console.error(`BENCH_ONLY must be "berth" or "distribution", not "${only}"`);
  process.exit(2);
}

const cfg = quick
  ? {
      quick,
      sizes: [16 * MiB],
      chunk: 4 * MiB,
      ranges: 200,
      rangeSize: 64 * KiB,
      rangeConc: 8,
      levels: [1, 16, 64],
      manPuts: 200,
      manGets: 200,
      images: 32,
      imgWorkers: 8,
      tags: 200,
      tagConc: 16,
      tagPage: 50,
      repos: 100,
      repoConc: 16,
      catPage: 20,
    }
  : {
      quick,
      sizes: [256 * MiB, 1 * GiB],
      chunk: 16 * MiB,
      ranges: 1000,
      rangeSize: 64 * KiB,
      rangeConc: 8,
      levels: [1, 16, 64],
      manPuts: 500,
      manGets: 2000,
      images: 64,
      imgWorkers: 8,
      tags: 10_000,
      tagConc: 16,
      tagPage: 1000,
      repos: 1000,
      repoConc: 16,
      catPage: 100,
    };
cfg.timeoutMs = Math.max(1, Number(env.BENCH_TIMEOUT ?? 300)) * 1000;

const sides = only ? [only] : ['berth', 'distribution'];
const distBin = env.DISTRIBUTION_BIN ?? '/usr/bin/docker-registry';
const outPath = env.BENCH_OUT === '-' ? null : path.resolve(repoRoot, env.BENCH_OUT ?? 'docs/benchmarks.md');

// ------------------------------------------------------------ cleanup
const root = new AbortController();
let workDir = null;
let cleaned = false;

function removeWorkDir() {
  if (workDir && !cleaned) {
    cleaned = true;
    try {
      fs.rmSync(workDir, { recursive: true, force: true });
    } catch (e) {
      console.error(`could not remove ${workDir}: ${e.message}`);
    }
  }
}

process.on('exit', () => {
  killAllNow();
  removeWorkDir();
});
let interrupted = 0;
for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP']) {
  process.on(sig, () => {
    interrupted++;
    if (interrupted > 1) process.exit(130);
    log(`\n${sig}: stopping registries and removing ${workDir ?? 'nothing'}`);
    root.abort(new Error(sig));
    stopAll()
      .catch(() => {})
      .finally(() => {
        removeWorkDir();
        process.exit(130);
      });
  });
}
process.on('unhandledRejection', (e) => {
  // Never crash on a registry's misbehaviour: report and carry on.
  log(`  (unhandled rejection: ${errMsg(e)})`);
});

// ------------------------------------------------------------ main
function machineInfo() {
  let berthCommit = 'unknown';
  try {
    berthCommit = execFileSync('git', ['rev-parse', '--short', 'HEAD'], { cwd: repoRoot, encoding: 'utf8', timeout: 5000 }).trim();
    const dirty = execFileSync('git', ['status', '--porcelain', '--', 'src', 'bin'], { cwd: repoRoot, encoding: 'utf8', timeout: 5000 }).trim();
    if (dirty) berthCommit += ' (with uncommitted changes in src/ or bin/)';
  } catch {
    /* not a git checkout */
  }
  return {
    nproc: typeof os.availableParallelism === 'function' ? os.availableParallelism() : os.cpus().length,
    cpu: os.cpus()[0]?.model?.trim() ?? 'unknown CPU',
    memGiB: (os.totalmem() / GiB).toFixed(1),
    node: process.version,
    platform: `${os.platform()} ${os.release()} ${os.arch()}`,
    berthCommit,
    distribution: distributionVersion(distBin),
    loadStart: os.loadavg().map((x) => x.toFixed(2)).join(' '),
    /** MB/s of the disk references before each upload turn (bench/lib/disk.mjs): buffered, O_DIRECT. */
    diskSyncedWrites: [],
    diskDirectWrites: [],
  };
}

function commandLine() {
  const vars = ['BENCH_QUICK', 'BENCH_ONLY', 'BENCH_WORKLOADS', 'BENCH_BERTH_ARGS', 'BENCH_TIMEOUT', 'BENCH_DIR'].filter((v) => env[v]).map((v) => `${v}=${env[v]}`);
  const cmd = env.npm_lifecycle_event === 'bench' ? 'npm run bench' : 'node bench/run.mjs';
  return [...vars, cmd].join(' ');
}

async function main() {
  const startedAt = new Date();
  const t0 = Date.now();
  const machine = machineInfo();
  const parent = env.BENCH_DIR ? path.resolve(env.BENCH_DIR) : '/tmp';
  fs.mkdirSync(parent, { recursive: true });
  workDir = fs.mkdtempSync(path.join(parent, 'berth-bench-'));
  log(`Berth benchmark${quick ? ' (BENCH_QUICK)' : ''} — ${startedAt.toISOString()}`);
  log(`machine: nproc ${machine.nproc}, ${machine.cpu}, ${machine.memGiB} GiB, node ${machine.node}`);
  log(`berth ${machine.berthCommit}; ${machine.distribution}; load average ${machine.loadStart}`);
  log(`work dir: ${workDir}; sides: ${sides.join(', ')}; step timeout ${cfg.timeoutMs / 1000} s`);

  // Start both registries side by side.
  const procs = {};
  const runs = {};
  const notes = [];
  for (const side of sides) {
    const p = side === 'berth' ? await makeBerth(workDir, repoRoot, (env.BENCH_BERTH_ARGS ?? '').split(/\s+/).filter(Boolean)) : await makeDistribution(workDir, distBin);
    procs[side] = p;
    try {
      await p.start({ timeoutMs: Number(env.BENCH_START_TIMEOUT ?? 30) * 1000 });
      p.headers = side === 'berth' ? { Authorization: await berthLogin(p.url) } : {};
      log(`${side}: pid ${p.pid} listening on ${p.url}${side === 'berth' ? ' (requests carry a registry login)' : ''}`);
    } catch (e) {
      log(`${side}: failed to start: ${errMsg(e)}`);
      notes.push(`${side} did not start: ${errMsg(e).split('\n')[0]}`);
      p.startFailed = true;
      await p.stop(); // every step then fails fast with "registry process exited"
      if (!p.exited) p.exited = { error: new Error('not started') };
    }
  }

  const rows = rowsFor(cfg);
  for (const side of sides) {
    const p = procs[side];
    const reg = new Reg(side, new Client(p.url, { headers: p.headers ?? {} }), new Checks(side), p);
    runs[side] = new Ctx({ reg, cfg, rootSignal: root.signal, print: log });
  }
  // Workload by workload, alternating which registry goes first, so that both
  // meet similar conditions on a shared machine. Only one registry is loaded
  // at a time; the other sits idle.
  const wanted = (env.BENCH_WORKLOADS ?? '').split(',').map((x) => x.trim()).filter(Boolean);
  const unknown = wanted.filter((w) => !WORKLOADS.some((x) => x[2] === w));
  if (unknown.length) throw new Error(`unknown BENCH_WORKLOADS ${unknown.join(',')}; known: ${WORKLOADS.map((x) => x[2]).join(',')}`);
  const selected = wanted.length ? WORKLOADS.filter((x) => wanted.includes(x[2])) : WORKLOADS;
  for (const [i, [name, fn]] of selected.entries()) {
    if (root.signal.aborted) break;
    log(`\n=== ${name} ===`);
    const order = i % 2 === 0 ? sides : [...sides].reverse();
    // Blob uploads run twice, once in each order, and report means: on these machines the
    // registry measured second after gigabytes of the other's writes was slower whichever it
    // was (a sync in between does not help; the virtual disk's host keeps writing back). The
    // downloads too: Berth's 1 GiB download measured 244 MB/s right after Distribution's
    // uploads and 485-991 MB/s otherwise. Downloads run four times (A B B A B A A B): the first
    // turn after the uploads and the last measured slow whichever registry had them (the Node.js
    // client's 1 GiB GET: 277-409 MB/s in those turns against 380-676 in the middle two, in two
    // runs), so in A B B A the registry going first lost; here each has one of the two and two
    // middle turns.
    // Manifest PUTs and GETs run twice too (A B B A, means reported): each level is a burst of under
    // a second, and one burst per registry moved with the minute. Same build, full runs: Berth's c1
    // PUTs 1,257/s in one run and 814/s in the next (Distribution 423 and 461), while three runs of
    // the manifests workload alone measured 1,108-1,139 against 391-464.
    const transfers = name === 'blob uploads' || name === 'blob downloads';
    const reversed = [...order].reverse();
    const twice = transfers || name === 'manifests';
    const turns = name === 'blob downloads' ? [...order, ...reversed, ...reversed, ...order] : twice ? [...order, ...reversed] : order;
    for (const side of turns) {
      if (root.signal.aborted) break;
      const ctx = runs[side];
      // Fresh keep-alive pool per workload: sockets left idle while the other
      // registry ran may have been closed by the server.
      ctx.reg.client.close();
      ctx.reg.client = new Client(procs[side].url, { headers: procs[side].headers ?? {} });
      // Start from a clean page cache: whatever the previous turn left dirty would otherwise be
      // written back while the next registry is measured, and its fsyncs would wait behind it
      // (both registries fsync an upload's data; the other workloads' files are left dirty). Untimed.
      flushDirtyPages();
      // Before each upload turn (after the sync, before the settling): the disk's synced write
      // rates for as many bytes as the largest upload, through the page cache and with O_DIRECT,
      // the references the upload rows are read against.
      if (name === 'blob uploads') {
        const size = Math.max(...cfg.sizes);
        const rate = syncedWriteRate(workDir, size);
        machine.diskSyncedWrites.push(rate);
        const direct = directWriteRate(workDir, size);
        if (direct !== null) machine.diskDirectWrites.push(direct);
        log(`  disk reference: ${fmtSize(size)} written and fdatasync'ed at ${rate.toFixed(0)} MB/s; with O_DIRECT ${direct === null ? 'not possible' : `${direct.toFixed(0)} MB/s`}`);
      }
      // Blob transfers also wait for the virtual disk to settle: its host goes on writing back
      // after `sync` returns and slows the whole VM meanwhile (BENCH_SETTLE_SECONDS, default 20;
      // untimed).
      if (transfers) await new Promise((r) => setTimeout(r, Number(env.BENCH_SETTLE_SECONDS ?? 20) * 1000));
      const w0 = Date.now();
      log(`- ${side} (${procs[side].url})`);
      try {
        await fn(ctx);
      } catch (e) {
        log(`  [${side}] ${name} aborted: ${errMsg(e)}`);
        notes.push(`${side}: workload "${name}" aborted: ${errMsg(e)}`);
      }
      ctx.reg.checks.flush(log);
      log(`  (${side} ${name}: ${((Date.now() - w0) / 1000).toFixed(1)} s)`);
    }
  }
  for (const side of sides) {
    const p = procs[side];
    runs[side].reg.client.close();
    if (p.exited && !p.startFailed) notes.push(`${side} process exited during the run: ${JSON.stringify(p.exited)}; log tail: ${p.logTail(5).replace(/\s+/g, ' ')}`);
  }
  await stopAll();

  const cells = tabulate(rows, runs);
  log('\n' + textTable(cells));
  log('\nBerth/Dist > 1 means Berth is better (rates: Berth/Distribution; times and memory: Distribution/Berth). MB = 10^6 bytes.');
  log(`* = single-request POST unsupported: POST+PUT measured instead.`);
  log(`machine: nproc ${machine.nproc}, ${machine.cpu}, node ${machine.node}, ${startedAt.toISOString()}`);
  const failed = Object.entries(runs).flatMap(([s, c]) => c.reg.checks.all().filter((x) => !x.pass).map((x) => `${s}: ${x.name}`));
  const passed = Object.values(runs).reduce((n, c) => n + c.reg.checks.all().filter((x) => x.pass).length, 0);
  log(`protocol checks: ${passed} passed, ${failed.length} failed${failed.length ? ':\n  ' + failed.join('\n  ') : ''}`);
  for (const n of notes) log(`note: ${n}`);

  const durationS = (Date.now() - t0) / 1000;
  machine.loadEnd = os.loadavg().map((x) => x.toFixed(2)).join(' ');
  log(`load average (1/5/15 min): ${machine.loadStart} at start, ${machine.loadEnd} at end`);
  if (outPath && !root.signal.aborted) {
    fs.mkdirSync(path.dirname(outPath), { recursive: true });
    fs.writeFileSync(outPath, markdown({ cells, runs, cfg, machine, command: commandLine(), startedAt, durationS, notes }));
    log(`wrote ${outPath.startsWith(repoRoot + path.sep) ? path.relative(repoRoot, outPath) : outPath}`);
  }
  if (env.BENCH_JSON) {
    const json = {
      startedAt,
      machine,
      cfg,
      results: Object.fromEntries(Object.entries(runs).map(([s, c]) => [s, { results: Object.fromEntries(c.results), checks: c.reg.checks.all() }])),
    };
    fs.writeFileSync(path.resolve(env.BENCH_JSON), JSON.stringify(json, null, 2));
  }
}

main()
  .catch((e) => {
    console.error(`bench failed: ${e.stack ?? e}`);
    process.exitCode = 1;
  })
  .finally(async () => {
    await stopAll().catch(() => {});
    removeWorkDir();
  });

/** `sync`: writes back every dirty page of the machine (between workloads, untimed). */
function flushDirtyPages() {
  try {
    execFileSync('sync', { stdio: 'ignore', timeout: 120_000 });
  } catch {
    // No `sync` binary: measure anyway.
  }
}
