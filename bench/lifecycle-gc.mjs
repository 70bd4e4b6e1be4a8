#!/usr/bin/env node
// Lifecycle and garbage-collection benchmark (issue 5), Berth only (Distribution has neither):
//  1. a lifecycle policy preview over a repository of 100,000 images (target: under 2 s),
//     through the ECR API of a running server;
//  2. a garbage-collection pass over 1,000,000 blobs' metadata (target: under 60 s on SQLite),
//     as `berth gc` in its own process;
// both while a client keeps pushing small images to the same server. Writes
// docs/benchmarks-lifecycle-gc.md. BENCH_QUICK=1 shrinks the data tenfold. Loopback only. The preview is
// also measured in-process on PostgreSQL (BENCH_PG_URL, default 127.0.0.1:5432/test; BENCH_DEBUG=1 prints why it was skipped).
import { spawn, execFileSync, execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { createHash, randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync, openSync, closeSync, readFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir, cpus } from 'node:os';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import Database from 'better-sqlite3';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const execFileAsync = async (...args) => (await promisify(execFile)(...args)).stdout;
const quick = process.env.BENCH_QUICK === '1';
const IMAGES = quick ? 10_000 : 100_000;
const BLOBS = quick ? 100_000 : 1_000_000;
const ROOT = { accessKeyId: 'AKIABENCHLIFECYCLE01', secretAccessKey: 'bench-lifecycle-gc-secret-000000' };
const sha = (s) => `sha256:${createHash('sha256').update(String(s)).digest('hex')}`;
const now = Date.now();
const DAY = 86_400_000;

const dir = mkdtempSync(join(tmpdir(), 'berth-bench-lcgc-'));
const dataDir = join(dir, 'data');
let server;
process.on('exit', (code) => {
  try { if (server) process.kill(-server.pid, 'SIGKILL'); } catch {}
  if (code !== 0) {
    try { console.error(`berth log (tail):\n${readFileSync(join(dir, 'berth.log'), 'utf8').slice(-4000)}`); } catch {}
  }
  rmSync(dir, { recursive: true, force: true });
});

function freePort() {
  return new Promise((resolve) => {
    const s = createServer().listen(0, '127.0.0.1', () => { const p = s.address().port; s.close(() => resolve(p)); });
  });
}

// ---- data: created through the real migrations, then bulk-inserted
(await import('node:fs')).mkdirSync(dataDir, { recursive: true });
const { openSqliteMetadataStore } = await import(join(root, 'dist/metadata/sqlite.js'));
const store = await openSqliteMetadataStore(join(dataDir, 'berth.db'));
await store.repositories.ensure('bench/lifecycle', now);
await store.repositories.ensure('bench/gc', now);
await store.close();
const db = new Database(join(dataDir, 'berth.db'));
db.pragma('journal_mode = WAL');
const t0 = performance.now();
const lcId = db.prepare('select id from repositories where name = ?').get('bench/lifecycle').id;
const gcId = db.prepare('select id from repositories where name = ?').get('bench/gc').id;
const insBlob = db.prepare('insert into blobs (digest, size, storage_key, created_at) values (?, ?, ?, ?)');
const insLink = db.prepare('insert into repository_blobs (repository_id, digest, created_at, size) values (?, ?, ?, ?)');
const insMan = db.prepare(`insert into manifests (repository_id, digest, media_type, size, content, artifact_type, subject_digest, annotations, pushed_at, last_pulled_at, blob_bytes)
  values (?, ?, 'application/vnd.oci.image.manifest.v1+json', 300, ?, 'application/vnd.oci.image.config.v1+json', null, null, ?, null, ?)`);
const insRef = db.prepare(`insert into manifest_refs (repository_id, parent_digest, child_digest, kind) values (?, ?, ?, 'blob')`);
const insTag = db.prepare('insert into tags (repository_id, name, digest, updated_at) values (?, ?, ?, ?)');
db.transaction(() => {
  // Lifecycle repository: IMAGES images over 200 days, each with one own layer and one of 100 shared ones.
  for (let s = 0; s < 100; s++) { insBlob.run(sha(`shared${s}`), 50_000, `blobs/bench/shared${s}`, now - 300 * DAY); insLink.run(lcId, sha(`shared${s}`), now - 300 * DAY, 50_000); }
  for (let i = 0; i < IMAGES; i++) {
    const m = sha(`lc-manifest-${i}`);
    const own = sha(`lc-layer-${i}`);
    insBlob.run(own, 10_000 + i, `blobs/bench/lc${i}`, now - 250 * DAY);
    insLink.run(lcId, own, now - 250 * DAY, 10_000 + i);
    insMan.run(lcId, m, Buffer.from('{}'), now - Math.floor((i / IMAGES) * 200 * DAY), 10_000 + i + 50_000);
    insRef.run(lcId, m, own);
    insRef.run(lcId, m, sha(`shared${i % 100}`));
    if (i % 10 !== 0) insTag.run(lcId, i % 1000 === 0 ? `release-${i}` : `build-${i}`, m, now);
  }
  // GC repository: BLOBS blobs; half referenced by manifests of 100 layers each, half unused and old.
  for (let i = 0; i < BLOBS; i++) {
    const d = sha(`gc-blob-${i}`);
    insBlob.run(d, 1000, `blobs/bench/gc${i}`, now - 30 * DAY);
    if (i % 2 === 0) insLink.run(gcId, d, now - 30 * DAY, 1000);
  }
  for (let m = 0; m < BLOBS / 200; m++) {
    const md = sha(`gc-manifest-${m}`);
    insMan.run(gcId, md, Buffer.from('{}'), now - 30 * DAY, 100 * 1000);
    for (let k = 0; k < 100; k++) insRef.run(gcId, md, sha(`gc-blob-${(m * 100 + k) * 2}`));
  }
})();
db.close();
const loadSeconds = (performance.now() - t0) / 1000;
console.error(`loaded ${IMAGES} images and ${BLOBS} blobs in ${loadSeconds.toFixed(1)} s`);

// ---- server and a pushing client
const port = await freePort();
const url = `http://127.0.0.1:${port}`;
const log = openSync(join(dir, 'berth.log'), 'a');
server = spawn(process.execPath, ['bin/berth.js', 'serve', '--listen', `127.0.0.1:${port}`, '--data-dir', dataDir], {
  cwd: root, detached: true, stdio: ['ignore', log, log],
  env: { ...process.env, BERTH_LOG__LEVEL: 'warn', BERTH_ROOT_ACCESS_KEY_ID: ROOT.accessKeyId, BERTH_ROOT_SECRET_ACCESS_KEY: ROOT.secretAccessKey },
});
closeSync(log);
for (let i = 0; ; i++) {
  if (i > 150) throw new Error('berth did not start');
  try { if ((await fetch(`${url}/healthz`)).ok) break; } catch {}
  await new Promise((r) => setTimeout(r, 200));
}

// /v2/ takes the login a docker client would send after `aws ecr get-login-password | docker login`.
const { ECRClient, GetAuthorizationTokenCommand, StartLifecyclePolicyPreviewCommand, GetLifecyclePolicyPreviewCommand } = await import('@aws-sdk/client-ecr');
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED = 'true';
const ecr = new ECRClient({ endpoint: url, region: 'us-east-1', credentials: { ...ROOT } });
const login = `Basic ${(await ecr.send(new GetAuthorizationTokenCommand({}))).authorizationData[0].authorizationToken}`;

let pushing = true;
const pushes = { ok: 0, failed: 0, latencies: [], spans: [] };
const pushed = [];
async function pushLoop(w) {
  for (let i = 0; pushing && i < 100_000; i++) {
    const t = performance.now();
    try {
      const layer = randomBytes(4096);
      const config = Buffer.from(JSON.stringify({ os: 'linux', w, i }));
      for (const b of [config, layer]) {
        const r = await fetch(`${url}/v2/bench/live/blobs/uploads/?digest=${sha256(b)}`, { method: 'POST', body: new Uint8Array(b), headers: { authorization: login } });
        await r.arrayBuffer();
        if (r.status !== 201) throw new Error(`blob ${r.status}`);
      }
      const body = JSON.stringify({ schemaVersion: 2, mediaType: 'application/vnd.oci.image.manifest.v1+json',
        config: { mediaType: 'application/vnd.oci.image.config.v1+json', digest: sha256(config), size: config.length },
        layers: [{ mediaType: 'application/vnd.oci.image.layer.v1.tar', digest: sha256(layer), size: layer.length }] });
      const r = await fetch(`${url}/v2/bench/live/manifests/w${w}-${i}`, { method: 'PUT', body, headers: { 'content-type': 'application/vnd.oci.image.manifest.v1+json', authorization: login } });
      await r.arrayBuffer();
      if (r.status !== 201) throw new Error(`manifest ${r.status}`);
      pushes.ok++;
      pushes.latencies.push(performance.now() - t);
      pushes.spans.push([t, performance.now()]);
      pushed.push({ tag: `w${w}-${i}`, layer: sha256(layer) });
    } catch (err) {
      pushes.failed++;
      pushes.firstError ??= String(err);
    }
  }
}
function sha256(b) { return `sha256:${createHash('sha256').update(b).digest('hex')}`; }
const loops = [0, 1].map(pushLoop);
await new Promise((r) => setTimeout(r, 1000));

// ---- 1. lifecycle preview over IMAGES images, through the ECR API
const policy = JSON.stringify({ rules: [
  { rulePriority: 1, description: 'keep releases', selection: { tagStatus: 'tagged', tagPrefixList: ['release'], countType: 'imageCountMoreThan', countNumber: 1000 }, action: { type: 'expire' } },
  { rulePriority: 2, description: 'builds: keep 5000', selection: { tagStatus: 'tagged', tagPrefixList: ['build'], countType: 'imageCountMoreThan', countNumber: 5000 }, action: { type: 'expire' } },
  { rulePriority: 3, description: 'untagged after 30 days', selection: { tagStatus: 'untagged', countType: 'sinceImagePushed', countUnit: 'days', countNumber: 30 }, action: { type: 'expire' } },
] });
// Twice: the first preview after the server starts (code not yet optimized) and a second one.
const previews = [];
for (let k = 0; k < 2; k++) {
  const p0 = performance.now();
  await ecr.send(new StartLifecyclePolicyPreviewCommand({ repositoryName: 'bench/lifecycle', lifecyclePolicyText: policy }));
  previews.push([p0, performance.now()]);
  await new Promise((r) => setTimeout(r, 1000));
}
const previewSeconds = Math.max(...previews.map(([a, b]) => b - a)) / 1000;
const first = await ecr.send(new GetLifecyclePolicyPreviewCommand({ repositoryName: 'bench/lifecycle', maxResults: 100 }));
const expiring = first.summary?.expiringImageTotalCount ?? 0;

// Pure evaluation of the same policy over the same number of images, for reference.
const { evaluateLifecyclePolicy, parseLifecyclePolicy } = await import(join(root, 'dist/core/lifecycle/index.js'));
const images = Array.from({ length: IMAGES }, (_, i) => ({ digest: sha(`x${i}`), tags: i % 10 === 0 ? [] : [i % 1000 === 0 ? `release-${i}` : `build-${i}`], pushedAt: now - i * 1000, lastPulledAt: null, sizeBytes: 1 }));
const e0 = performance.now();
const decisions = evaluateLifecyclePolicy(parseLifecyclePolicy(policy), images, now);
const evalSeconds = (performance.now() - e0) / 1000;

// ---- 2. garbage collection over BLOBS blobs, as `berth gc` in its own process
const g0 = performance.now();
const gcOut = await execFileAsync(process.execPath, ['bin/berth.js', 'gc', '--data-dir', dataDir, '--grace-seconds', '60', '--output', 'json'], { cwd: root, encoding: 'utf8', maxBuffer: 64 * 1024 * 1024 });
const gcSeconds = (performance.now() - g0) / 1000;
const g1 = performance.now();
// Pushes that overlapped the GC pass, and the longest of them.
const duringGc = pushes.spans.filter(([a, b]) => b >= g0 && a <= g1).map(([a, b]) => b - a).sort((x, y) => x - y);
const gcP99 = duringGc[Math.floor(duringGc.length * 0.99)] ?? NaN;
const gcMax = duringGc[duringGc.length - 1] ?? NaN;
const gc = JSON.parse(gcOut);

pushing = false;
await Promise.all(loops);
// Pushes finished inside each preview's window, and the longest push that overlapped it
// (counted once every push has finished).
const duringPreviews = previews.map(([p0, p1]) => ({
  seconds: (p1 - p0) / 1000,
  finished: pushes.spans.filter(([, b]) => b >= p0 && b <= p1).length,
  longest: Math.max(0, ...pushes.spans.filter(([a, b]) => b >= p0 && a <= p1).map(([a, b]) => b - a)),
}));
// Every image pushed during the run pulls back.
let intact = 0;
for (const p of pushed.slice(-50)) {
  const r = await fetch(`${url}/v2/bench/live/blobs/${p.layer}`, { headers: { authorization: login } });
  if (r.status === 200 && sha256(Buffer.from(await r.arrayBuffer())) === p.layer) intact++;
}
const exited = new Promise((r) => server.once('exit', r));
process.kill(-server.pid, 'SIGTERM');
await exited;
server = undefined;

// ---- 3. the lifecycle run itself (what the daily schedule does), in-process on the same data
const { loadConfig } = await import(join(root, 'dist/config/load.js'));
const { buildApp } = await import(join(root, 'dist/app/build.js'));
const { pino } = await import('pino');
const app = await buildApp(loadConfig({ env: {}, flags: { dataDir, listen: '127.0.0.1:0', rootAccessKeyId: ROOT.accessKeyId, rootSecretAccessKey: ROOT.secretAccessKey } }), pino({ level: 'warn' }));
await app.lifecycle.put('bench/lifecycle', policy);
const a0 = performance.now();
const applied = await app.lifecycle.apply('bench/lifecycle');
const applySeconds = (performance.now() - a0) / 1000;
const expireEvents = (await app.meta.audit.list({ limit: 1, action: 'lifecycle.expire' })).length;
await app.close();

// ---- 4. the same preview on PostgreSQL, in-process (the same repository, bulk-loaded into a schema of its own)
const pgUrl = process.env.BENCH_PG_URL ?? 'postgres://postgres@127.0.0.1:5432/test';
const pgPreview = await previewOnPostgres(pgUrl).catch((err) => { if (process.env.BENCH_DEBUG) console.error(err); return { skipped: String(err?.message ?? err) }; });

async function previewOnPostgres(connectionString) {
  const { default: pg } = await import('pg');
  const schema = `berth_bench_lc_${randomBytes(4).toString('hex')}`;
  const admin = new pg.Client({ connectionString });
  await admin.connect();
  try {
    const pgApp = await buildApp(loadConfig({ env: { BERTH_METADATA__DRIVER: 'postgres', BERTH_METADATA__POSTGRES__URL: connectionString, BERTH_METADATA__POSTGRES__SCHEMA: schema }, flags: { dataDir: join(dir, 'pg'), listen: '127.0.0.1:0', rootAccessKeyId: ROOT.accessKeyId, rootSecretAccessKey: ROOT.secretAccessKey } }), pino({ level: 'warn' }));
    try {
      const repo = await pgApp.meta.repositories.ensure('bench/lifecycle', now);
      const l0 = performance.now();
      await admin.query(`set search_path = ${schema}`);
      await admin.query('begin');
      const shared = Array.from({ length: 100 }, (_, s) => sha(`shared${s}`));
      await admin.query(`insert into blobs (digest, size, storage_key, created_at) select d, 50000, 'k/' || d, $2 from unnest($1::text[]) d`, [shared, now - 300 * DAY]);
      await admin.query(`insert into repository_blobs (repository_id, digest, created_at, size) select $1, d, $3, 50000 from unnest($2::text[]) d`, [repo.id, shared, now - 300 * DAY]);
      for (let start = 0; start < IMAGES; start += 10_000) {
        const idx = Array.from({ length: Math.min(10_000, IMAGES - start) }, (_, k) => start + k);
        const own = idx.map((i) => sha(`lc-layer-${i}`));
        const man = idx.map((i) => sha(`lc-manifest-${i}`));
        const ownSize = idx.map((i) => 10_000 + i);
        await admin.query(`insert into blobs (digest, size, storage_key, created_at) select d, s, 'k/' || d, $3 from unnest($1::text[], $2::int8[]) t(d, s)`, [own, ownSize, now - 250 * DAY]);
        await admin.query(`insert into repository_blobs (repository_id, digest, created_at, size) select $1, d, $4, s from unnest($2::text[], $3::int8[]) t(d, s)`, [repo.id, own, ownSize, now - 250 * DAY]);
        await admin.query(`insert into manifests (repository_id, digest, media_type, size, content, artifact_type, pushed_at, blob_bytes) select $1, d, 'application/vnd.oci.image.manifest.v1+json', 300, '\\x7b7d'::bytea, 'application/vnd.oci.image.config.v1+json', p, b from unnest($2::text[], $3::int8[], $4::int8[]) t(d, p, b)`,
          [repo.id, man, idx.map((i) => now - Math.floor((i / IMAGES) * 200 * DAY)), idx.map((i) => 10_000 + i + 50_000)]);
        await admin.query(`insert into manifest_refs (repository_id, parent_digest, child_digest, kind) select $1, p, c, 'blob' from unnest($2::text[], $3::text[]) t(p, c)`, [repo.id, [...man, ...man], [...own, ...idx.map((i) => shared[i % 100])]]);
        const tagged = idx.filter((i) => i % 10 !== 0);
        await admin.query(`insert into tags (repository_id, name, digest, updated_at) select $1, n, d, $4 from unnest($2::text[], $3::text[]) t(n, d)`, [repo.id, tagged.map((i) => (i % 1000 === 0 ? `release-${i}` : `build-${i}`)), tagged.map((i) => sha(`lc-manifest-${i}`)), now]);
      }
      await admin.query('commit');
      await admin.query('analyze');
      const loaded = (performance.now() - l0) / 1000;
      const times = [];
      let found = 0;
      for (let k = 0; k < 2; k++) {
        const t = performance.now();
        found = (await pgApp.lifecycle.preview('bench/lifecycle', policy)).expiringCount;
        times.push((performance.now() - t) / 1000);
      }
      // Then the lifecycle run itself on PostgreSQL (every statement a round trip).
      await pgApp.lifecycle.put('bench/lifecycle', policy);
      const a = performance.now();
      const applied = await pgApp.lifecycle.apply('bench/lifecycle');
      return { times, found, loaded, applySeconds: (performance.now() - a) / 1000, applied: applied.expired.length };
    } finally {
      await pgApp.close();
    }
  } finally {
    await admin.query(`drop schema if exists ${schema} cascade`).catch(() => undefined);
    await admin.end();
  }
}

const lat = pushes.latencies.sort((a, b) => a - b);
const p99 = lat[Math.floor(lat.length * 0.99)] ?? NaN;

const rows = [
  ['Lifecycle preview via StartLifecyclePolicyPreview (first after start; second)', `${IMAGES.toLocaleString('en')} images`, duringPreviews.map((p) => `${p.seconds.toFixed(2)} s`).join('; '), '< 2 s', previewSeconds < 2 ? 'met' : 'not met'],
  ['  of which the pure evaluator', `${IMAGES.toLocaleString('en')} images`, `${evalSeconds.toFixed(3)} s`, '', ''],
  ['Garbage-collection pass (`berth gc`)', `${BLOBS.toLocaleString('en')} blobs`, `${gcSeconds.toFixed(1)} s`, '< 60 s', gcSeconds < 60 ? 'met' : 'not met'],
  ['Lifecycle run (the scheduled expiry), in-process', `${applied.expired.length.toLocaleString('en')} images expired`, `${applySeconds.toFixed(1)} s`, '', ''],
  ['Lifecycle preview on PostgreSQL, in-process (first; second)', `${IMAGES.toLocaleString('en')} images`, pgPreview.times ? pgPreview.times.map((t) => `${t.toFixed(2)} s`).join('; ') : `skipped: ${pgPreview.skipped}`, '', ''],
  ['Lifecycle run on PostgreSQL, in-process', pgPreview.times ? `${pgPreview.applied.toLocaleString('en')} images expired` : '', pgPreview.times ? `${pgPreview.applySeconds.toFixed(1)} s` : `skipped: ${pgPreview.skipped}`, '', ''],
];
const md = `# Lifecycle and garbage-collection benchmark

Generated by \`node bench/lifecycle-gc.mjs\`${quick ? ' (BENCH_QUICK=1)' : ''} on ${new Date().toISOString()}; ${cpus().length} × ${cpus()[0]?.model}, Node.js ${process.version}. Berth only: CNCF Distribution has no lifecycle policies and its garbage collection needs the registry stopped or read-only.

Setup: SQLite + filesystem in a temporary directory. A repository of ${IMAGES.toLocaleString('en')} images (tags \`build-N\`, every 1,000th \`release-N\`, every 10th untagged; pushed over 200 days) and ${BLOBS.toLocaleString('en')} blobs in another (half used by ${(BLOBS / 200).toLocaleString('en')} manifests of 100 layers, half unused for 30 days), loaded in ${loadSeconds.toFixed(1)} s. Two client workers push small images to the same server the whole time.

| Work | Size | Time | Target | Met |
| --- | --- | ---: | --- | --- |
${rows.map((r) => `| ${r.join(' | ')} |`).join('\n')}

- The preview found ${expiring.toLocaleString('en')} images to expire (the pure evaluator: ${decisions.length.toLocaleString('en')} decisions).
- Garbage collection removed ${gc.blobsDeleted.toLocaleString('en')} unused blobs (${(gc.bytesFreed / 1e6).toFixed(0)} MB of metadata-declared size) and ${gc.orphansDeleted} orphaned objects, one transaction per 2,000 blobs.
- Pushes finished during the previews: ${duringPreviews.map((p) => p.finished).join('; ')}; the longest push overlapping them took ${duringPreviews.map((p) => `${p.longest.toFixed(0)} ms`).join('; ')} (a preview reads one snapshot of the repository on its own connection in 65 ranges of digests and decides in steps, answering other requests between them).
- Pushes while \`berth gc\` ran: ${duringGc.length}, p99 ${gcP99.toFixed(0)} ms, longest ${gcMax.toFixed(0)} ms.
- The lifecycle run expired ${applied.expired.length.toLocaleString('en')} images (${(applied.bytes / 1e6).toFixed(0)} MB of their blobs' size) in transactions of 100, each expiry with its audit event${expireEvents > 0 ? '' : ' (NONE FOUND: check the audit log)'}; it ran after the server stopped, without concurrent pushes.
- PostgreSQL (${pgUrl.replace(/\/\/[^@]*@/, '//')}): ${pgPreview.times ? `the same repository bulk-loaded into a schema of its own in ${pgPreview.loaded.toFixed(1)} s; the preview found ${pgPreview.found.toLocaleString('en')} images to expire; no pushes meanwhile` : `not measured (${pgPreview.skipped})`}.
- Pushes during the run: ${pushes.ok} acknowledged, ${pushes.failed} failed${pushes.firstError ? ` (first: ${pushes.firstError})` : ''}, p99 latency ${p99.toFixed(0)} ms; the last ${Math.min(50, pushed.length)} pushed layers pulled back intact: ${intact}.
`;
writeFileSync(join(root, 'docs', 'benchmarks-lifecycle-gc.md'), md);
console.log(md);
process.exit(pushes.failed === 0 ? 0 : 1);
