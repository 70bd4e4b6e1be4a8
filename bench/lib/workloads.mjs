import { existsSync } from 'node:fs';
// The benchmark workloads, run identically against each registry.

import { setMaxListeners } from 'node:events';
import { describe, nextLink, HttpError } from './http.mjs';
import { blobDigest, bytesAt, keystream, sha256 } from './data.mjs';
import { makeImage, manifestFor, errorCodesOf, OCI_MANIFEST, OCI_INDEX, OCI_EMPTY } from './oci.mjs';
import { errMsg, now, median, pool, prng, fmtNum, fmtSize, GiB, WRK_LEVELS } from './util.mjs';

/** Per-registry run context: results, timeouts, printing. */
export class Ctx {
  constructor({ reg, cfg, rootSignal, print }) {
    this.reg = reg;
    this.cfg = cfg;
    this.rootSignal = rootSignal;
    this.print = print;
    this.results = new Map(); // key -> { value, note, error }
    this.samples = new Map(); // key -> every value set
    this.state = {};
  }

  set(key, value, note) {
    this.print(`  [${this.reg.name}] ${key}: ${fmtNum(value)}${note ? ' (' + note + ')' : ''}`);
    // A workload run more than once (uploads: once in each order) reports the mean of its
    // rates and the largest memory figure, with every sample in the note.
    const samples = [...(this.samples.get(key) ?? []), value];
    this.samples.set(key, samples);
    if (samples.length > 1) {
      const merged = key.startsWith('rss.') ? Math.max(...samples) : samples.reduce((a, b) => a + b, 0) / samples.length;
      const how = key.startsWith('rss.') ? 'largest' : 'mean';
      note = `${how} of ${samples.map(fmtNum).join(', ')}${note ? '; ' + note : ''}`;
      value = merged;
    }
    this.results.set(key, { value, note });
  }

  fail(key, error, note) {
    if (this.results.has(key)) return;
    this.results.set(key, { value: null, error, note });
    this.print(`  [${this.reg.name}] ${key}: ${error === 'fail' ? 'fail' : 'FAIL ' + error}${note ? ' (' + note + ')' : ''}`);
  }

  /**
   * Run one measured step with its own timeout (cfg.timeoutMs). Errors are
   * recorded against `keys` (those not already set) and never thrown.
   */
  async step(keys, fn) {
    keys = [].concat(keys);
    if (this.rootSignal.aborted) {
      for (const k of keys) this.fail(k, 'interrupted');
      return false;
    }
    if (this.reg.proc && !this.reg.proc.alive()) {
      const why = this.reg.proc.startFailed ? 'registry did not start' : `registry process exited (${JSON.stringify(this.reg.proc.exited)})`;
      for (const k of keys) this.fail(k, why);
      return false;
    }
    const timeout = AbortSignal.timeout(this.cfg.timeoutMs);
    this.reg.signal = AbortSignal.any([this.rootSignal, timeout]);
    setMaxListeners(0, this.reg.signal); // one listener per in-flight request
    try {
      await fn(this.reg.signal);
      return true;
    } catch (e) {
      if (e instanceof Handled) return false;
      let msg = errMsg(e);
      if (!keys.length) this.print(`  [${this.reg.name}] error: ${msg}`);
      if (timeout.aborted) msg = `timeout after ${this.cfg.timeoutMs / 1000} s: ${msg}`;
      for (const k of keys) this.fail(k, msg);
      return false;
    } finally {
      this.reg.signal = undefined;
      this.reg.checks.flush(this.print);
    }
  }

  /** Turn a pool() result into a rate (per second) or a failure. */
  rate(key, r, count, note) {
    if (r.errors.length || r.ok < count) {
      const why = r.errors[0] ? errMsg(r.errors[0]) : 'stopped early';
      this.fail(key, `${r.errors.length} of ${r.issued} operations failed, ${count - r.ok} not done: ${why}`);
      throw new Handled();
    }
    this.set(key, r.ok / (r.elapsedMs / 1000), note);
  }

  seconds(key, r, count) {
    if (r.errors.length || r.ok < count) {
      const why = r.errors[0] ? errMsg(r.errors[0]) : 'stopped early';
      this.fail(key, `${r.errors.length} of ${r.issued} operations failed, ${count - r.ok} not done: ${why}`);
      throw new Handled();
    }
    this.set(key, r.elapsedMs / 1000);
  }
}

/** Thrown after a failure was already recorded, to leave a step. */
class Handled extends Error {
  constructor() {
    super('already recorded');
  }
}

const ZERO_DIGEST = 'sha256:' + '0'.repeat(64);

// ---------------------------------------------------------------- protocol
export async function protocol(ctx) {
  const { reg } = ctx;
  const repo = 'bench/protocol';
  const rec = (name, ok, method, path, res, extra) => reg.checks.record(name, ok, describe(method, path, res, extra));
  const sub = async (name, fn) => {
    try {
      await fn();
    } catch (e) {
      if (!(e instanceof HttpError)) reg.checks.record(`${name} (request error)`, false, errMsg(e));
    }
  };
  await ctx.step([], async () => {
    await sub('base', async () => {
      const res = await reg.req({ path: '/v2/' });
      rec('GET /v2/ -> 200', res.status === 200, 'GET', '/v2/', res);
      rec('GET /v2/ -> Docker-Distribution-API-Version: registry/2.0', res.headers['docker-distribution-api-version'] === 'registry/2.0', 'GET', '/v2/', res);
    });
    await sub('unknown blob', async () => {
      const p = `/v2/${repo}/blobs/${ZERO_DIGEST}`;
      const res = await reg.req({ method: 'HEAD', path: p });
      rec('HEAD unknown blob -> 404', res.status === 404, 'HEAD', p, res);
    });
    const buf = keystream('protocol-blob', 10_000);
    let blob;
    await sub('blob', async () => {
      blob = await reg.putBlob(repo, buf);
      const p = `/v2/${repo}/blobs/${blob.digest}`;
      const res = await reg.req({ method: 'HEAD', path: p });
      rec('HEAD blob -> 200 + Content-Length + Docker-Content-Digest', res.status === 200 && res.headers['content-length'] === String(buf.length) && res.headers['docker-content-digest'] === blob.digest, 'HEAD', p, res);
      await reg.getBlob(repo, blob.digest);
      const r2 = await reg.req({ path: p, headers: { Range: 'bytes=100-199' } });
      rec('ranged blob GET -> 206 + Content-Range', r2.status === 206 && r2.headers['content-range'] === `bytes 100-199/${buf.length}`, 'GET', p, r2, 'Range: bytes=100-199');
      rec('ranged blob GET -> bytes match', r2.body.equals(buf.subarray(100, 200)), 'GET', p, r2, 'Range: bytes=100-199');
    });
    await sub('wrong digest', async () => {
      const loc = await reg.startUpload(repo);
      const p = loc + (loc.includes('?') ? '&' : '?') + `digest=${ZERO_DIGEST}`;
      const res = await reg.req({ method: 'PUT', path: p, headers: { 'Content-Type': 'application/octet-stream' }, body: buf });
      rec('PUT with wrong digest -> 400 DIGEST_INVALID', res.status === 400 && errorCodesOf(res).includes('DIGEST_INVALID'), 'PUT', p, res);
    });
    await sub('upload session', async () => {
      let loc = await reg.startUpload(repo);
      const part = buf.subarray(0, 1024);
      let res = await reg.req({ method: 'PATCH', path: loc, headers: { 'Content-Type': 'application/octet-stream', 'Content-Range': '0-1023' }, body: part });
      rec('PATCH chunk -> 202 + Location', res.status === 202 && !!res.headers.location, 'PATCH', loc, res, 'Content-Range: 0-1023');
      if (res.headers.location) loc = reg.client.resolve(res.headers.location);
      res = await reg.req({ path: loc });
      rec('GET upload status -> 204 + Range: 0-1023', res.status === 204 && res.headers.range === '0-1023', 'GET', loc, res);
      res = await reg.req({ method: 'PATCH', path: loc, headers: { 'Content-Type': 'application/octet-stream', 'Content-Range': '5000-6023' }, body: part });
      rec('PATCH out of order -> 416', res.status === 416, 'PATCH', loc, res, 'Content-Range: 5000-6023');
      // After a rejected PATCH the session URL may be gone; ask for a fresh status.
      res = await reg.req({ method: 'DELETE', path: loc });
      rec('DELETE upload -> 204 (or 404 if the failed PATCH ended it)', res.status === 204 || res.status === 404, 'DELETE', loc, res);
    });
    let image;
    await sub('manifest', async () => {
      if (!blob) throw new Error('no blob');
      const img = makeImage({ layer: blob });
      await reg.putBlob(repo, img.config);
      const { digest } = await reg.putManifest(repo, 'v1', img.manifest);
      image = { digest, size: img.manifest.length };
      let p = `/v2/${repo}/manifests/v1`;
      let res = await reg.req({ method: 'HEAD', path: p, headers: { Accept: OCI_MANIFEST } });
      rec(
        'manifest HEAD -> 200 + Content-Type + Content-Length + Docker-Content-Digest',
        res.status === 200 && res.headers['docker-content-digest'] === digest && res.headers['content-length'] === String(img.manifest.length) && (res.headers['content-type'] ?? '').startsWith(OCI_MANIFEST),
        'HEAD',
        p,
        res,
      );
      p = `/v2/${repo}/manifests/${digest}`;
      res = await reg.req({ path: p, headers: { Accept: OCI_MANIFEST } });
      rec('manifest GET by digest -> identical bytes', res.status === 200 && res.body.equals(img.manifest), 'GET', p, res);
      p = `/v2/${repo}/manifests/no-such-tag`;
      res = await reg.req({ path: p, headers: { Accept: OCI_MANIFEST } });
      rec('GET unknown tag -> 404 MANIFEST_UNKNOWN', res.status === 404 && errorCodesOf(res).includes('MANIFEST_UNKNOWN'), 'GET', p, res);
      const bad = manifestFor(img.configDesc, [{ digest: ZERO_DIGEST, size: 1 }]);
      p = `/v2/${repo}/manifests/broken`;
      res = await reg.req({ method: 'PUT', path: p, headers: { 'Content-Type': OCI_MANIFEST }, body: bad });
      rec('manifest PUT with unknown blob -> 400 MANIFEST_BLOB_UNKNOWN', res.status === 400 && errorCodesOf(res).includes('MANIFEST_BLOB_UNKNOWN'), 'PUT', p, res);
      p = `/v2/${repo}/tags/list`;
      res = await reg.req({ path: p });
      let tags = [];
      try {
        tags = JSON.parse(res.body).tags ?? [];
      } catch {
        /* recorded below */
      }
      rec('tags/list -> 200 listing the tag', res.status === 200 && tags.includes('v1') && !tags.includes('broken'), 'GET', p, res);
    });
    await sub('referrers', async () => {
      if (!image) throw new Error('no image');
      const empty = Buffer.from('{}');
      const e = await reg.putBlob(repo, empty);
      const artifact = Buffer.from(
        JSON.stringify({
          schemaVersion: 2,
          mediaType: OCI_MANIFEST,
          artifactType: 'application/vnd.berth.bench.test+json',
          config: { mediaType: OCI_EMPTY, digest: e.digest, size: e.size },
          layers: [{ mediaType: OCI_EMPTY, digest: e.digest, size: e.size }],
          subject: { mediaType: OCI_MANIFEST, digest: image.digest, size: image.size },
        }),
      );
      const ad = sha256(artifact);
      let p = `/v2/${repo}/manifests/${ad}`;
      let res = await reg.req({ method: 'PUT', path: p, headers: { 'Content-Type': OCI_MANIFEST }, body: artifact });
      rec('manifest PUT with subject -> 201 + OCI-Subject (v1.1)', res.status === 201 && res.headers['oci-subject'] === image.digest, 'PUT', p, res);
      p = `/v2/${repo}/referrers/${image.digest}`;
      res = await reg.req({ path: p });
      let found = false;
      try {
        const j = JSON.parse(res.body);
        found = (j.manifests ?? []).some((m) => m.digest === ad && m.artifactType === 'application/vnd.berth.bench.test+json');
      } catch {
        /* not JSON */
      }
      rec('GET /referrers/<digest> -> 200 image index listing the artifact (v1.1)', res.status === 200 && (res.headers['content-type'] ?? '').startsWith(OCI_INDEX) && found, 'GET', p, res);
    });
    await sub('delete', async () => {
      if (!image || !blob) throw new Error('nothing to delete');
      let p = `/v2/${repo}/manifests/${image.digest}`;
      let res = await reg.req({ method: 'DELETE', path: p });
      rec('DELETE manifest -> 202', res.status === 202, 'DELETE', p, res);
      res = await reg.req({ path: p, headers: { Accept: OCI_MANIFEST } });
      rec('GET deleted manifest -> 404', res.status === 404, 'GET', p, res);
      p = `/v2/${repo}/blobs/${blob.digest}`;
      res = await reg.req({ method: 'DELETE', path: p });
      rec('DELETE blob -> 202', res.status === 202, 'DELETE', p, res);
      res = await reg.req({ method: 'HEAD', path: p });
      rec('HEAD deleted blob -> 404', res.status === 404, 'HEAD', p, res);
    });
  });
}

// ---------------------------------------------------------------- blob uploads
export const UPLOAD_METHODS = ['mono', 'single', 'chunked', 'streamed'];
const WARMUP_UPLOAD = 64 * 1024 * 1024;

export async function uploads(ctx) {
  const { reg, cfg } = ctx;
  const proc = reg.proc;
  const repo = 'bench/blobs';
  const largest = Math.max(...cfg.sizes);
  const idle = proc?.rss();
  if (idle != null && !ctx.results.has('rss.idle')) ctx.set('rss.idle', idle / 1e6);

  // Does the registry take a single-request POST ?digest= (optional in the spec)?
  let single = null;
  await ctx.step([], async () => {
    const buf = keystream('single-post-probe', 1024);
    single = await reg.uploadSinglePost(repo, { size: buf.length, digest: sha256(buf), body: buf });
    reg.checks.record(
      'single-request POST ?digest= supported (optional in the spec)',
      single,
      `POST /v2/${repo}/blobs/uploads/?digest=${sha256(buf)} (1024-byte body) -> 202: upload session opened, body ignored`,
    );
  });

  // Untimed uploads first, one by each method, in every turn and for both registries: the first
  // timed row of a turn measured slow whichever registry had it (in one run Berth's 256 MiB POST+PUT
  // 506 MB/s in its first turn and 708 in its second, Distribution's 190 and 264), and Berth's
  // first chunked upload after a start measured 507 MB/s against 685-809 for the next ones (its
  // first PATCHes 94, 58, 35 ms against 20-25), while V8 compiles each method's path; the
  // manifest rows warm up the same way.
  await ctx.step([], async () => {
    const size = Math.min(WARMUP_UPLOAD, ...cfg.sizes);
    const seed = 'up-warmup';
    const digest = blobDigest(seed, size);
    await reg.uploadMonolithic(repo, { seed, size, digest });
    if (single) await reg.uploadSinglePost(repo, { seed, size, digest });
    await reg.uploadChunked(repo, { seed, size, chunk: cfg.chunk, digest });
    await reg.uploadStreamed(repo, { seed, size, digest });
  });

  let peak = 0;
  const perMethod = [];
  for (const size of cfg.sizes) {
    for (const method of UPLOAD_METHODS) {
      const key = `up.${method}.${size}`;
      const seed = `up-${method}-${size}`;
      const digest = blobDigest(seed, size); // untimed first pass
      const sampler = size === largest && proc?.alive() ? proc.rssSampler() : null;
      await ctx.step(key, async () => {
        let note;
        const t0 = now();
        let d = digest;
        if (method === 'mono') {
          await reg.uploadMonolithic(repo, { seed, size, digest });
        } else if (method === 'single') {
          if (single === null) throw new Error('single-request POST probe failed');
          if (single) {
            if (!(await reg.uploadSinglePost(repo, { seed, size, digest }))) throw new Error('single-request POST answered 202 after the probe answered 201');
          } else {
            await reg.uploadMonolithic(repo, { seed, size, digest });
            note = 'fallback: POST+PUT, single-request POST unsupported';
          }
        } else if (method === 'chunked') {
          d = await reg.uploadChunked(repo, { seed, size, chunk: cfg.chunk, digest });
        } else {
          await reg.uploadStreamed(repo, { seed, size, digest });
        }
        const dt = (now() - t0) / 1000;
        ctx.set(key, size / 1e6 / dt, note);
        if (size === largest && (!ctx.state.bigBlob || method === 'mono')) ctx.state.bigBlob = { repo, digest: d, seed, size };
      });
      if (sampler) {
        const s = sampler.stop();
        peak = Math.max(peak, s.peak);
        perMethod.push(`${method} ${fmtNum(s.first / 1e6)}→${fmtNum(s.peak / 1e6)}`);
      }
    }
  }
  if (peak) ctx.set('rss.up', peak / 1e6, `MB at start→peak of each upload: ${perMethod.join(', ')}`);
  else ctx.fail('rss.up', 'no sample');
}

// ---------------------------------------------------------------- blob downloads
const DOWNLOAD_REPEATS = 3;

export async function downloads(ctx) {
  const { reg, cfg } = ctx;
  const b = ctx.state.bigBlob;
  if (!b) {
    for (const k of ['down.full', 'down.full.curl', 'rss.down', 'down.range']) ctx.fail(k, 'no large blob was uploaded');
    return;
  }
  const sampler = reg.proc?.alive() ? reg.proc.rssSampler() : null;
  await ctx.step('down.full', async () => {
    // One untimed GET first: after the uploads' gigabytes part of the blob may have left the
    // page cache (vmstat showed 65-173 MB/s of disk reads during the first GET), and the target
    // is the serving rate over loopback. Then three GETs, the median reported: downloads of the
    // same blob from the page cache ranged 420-2,400 MB/s minutes apart on this machine.
    await reg.getBlob(b.repo, b.digest, { discard: true });
    const p = `/v2/${b.repo}/blobs/${b.digest}`;
    const rates = [];
    const clientCpu = [];
    for (let i = 0; i < DOWNLOAD_REPEATS; i++) {
      const c0 = process.cpuUsage();
      const t0 = now();
      const res = await reg.getBlob(b.repo, b.digest, { discard: true });
      const dt = (now() - t0) / 1000;
      const c = process.cpuUsage(c0);
      clientCpu.push((c.user + c.system) / 1e6 / dt);
      reg.must('blob GET -> Content-Length and body length = blob size', res.bytes === b.size && res.headers['content-length'] === String(b.size), 'GET', p, res, `(got ${res.bytes} bytes)`);
      reg.must('blob GET -> Docker-Content-Digest', res.headers['docker-content-digest'] === b.digest, 'GET', p, res);
      rates.push(b.size / 1e6 / dt);
    }
    // The client's CPU time as a share of each GET's wall time: near 100% the figure is the
    // client's (its kernel receive copies into fresh pages cost 0.5-5 s per GiB on these VMs).
    ctx.set('down.full', median(rates), `median of ${rates.map((r) => fmtNum(r)).join(', ')} MB/s; the client's CPU ${clientCpu.map((x) => `${Math.round(x * 100)}%`).join(', ')} of each GET's time`);
  });
  if (sampler) {
    const s = sampler.stop();
    ctx.set('rss.down', s.peak / 1e6, `${fmtNum(s.first / 1e6)} MB when the download started`);
  }
  else ctx.fail('rss.down', 'no sample');

  // The same GET by curl (C): the Node.js client above uses about a core of its own at these
  // rates, so its figure is partly the client's; curl's is the server's.
  if (toolPath('curl')) {
    await ctx.step('down.full.curl', async () => {
      const url = `${reg.client.base}/v2/${b.repo}/blobs/${b.digest}`;
      const rates = [];
      const serverCpu = [];
      for (let i = 0; i < DOWNLOAD_REPEATS; i++) {
        const c0 = reg.proc?.alive() ? reg.proc.cpuSeconds() : null;
        const { speed, size } = await curlDownload(url, reg.client.defaultHeaders);
        if (size !== b.size) throw new Error(`curl received ${size} of ${b.size} bytes`);
        rates.push(speed / 1e6);
        if (c0 !== null && reg.proc.alive()) serverCpu.push(((reg.proc.cpuSeconds() - c0) * GiB) / size);
      }
      ctx.set('down.full.curl', median(rates), `median of ${rates.map((r) => fmtNum(r)).join(', ')} MB/s`);
      if (serverCpu.length) ctx.set('down.cpu', median(serverCpu), `median of ${serverCpu.map((x) => x.toFixed(2)).join(', ')} s`);
      else ctx.fail('down.cpu', 'no registry process to measure');
    });
  }

  await ctx.step('down.range', async (signal) => {
    const R = cfg.rangeSize;
    const rng = prng(7);
    const offs = Array.from({ length: cfg.ranges }, () => Math.floor(rng() * (b.size - R + 1)));
    const p = `/v2/${b.repo}/blobs/${b.digest}`;
    const r = await pool(
      cfg.ranges,
      cfg.rangeConc,
      async (i) => {
        const off = offs[i];
        const range = `bytes=${off}-${off + R - 1}`;
        const res = await reg.req({ path: p, headers: { Range: range } });
        reg.must('ranged blob GET -> 206 + Content-Range', res.status === 206 && res.headers['content-range'] === `bytes ${off}-${off + R - 1}/${b.size}`, 'GET', p, res, `Range: ${range}`);
        // Verify the bytes of the first range (and cheaply, every 50th).
        if (i % 50 === 0) reg.must('ranged blob GET -> bytes match', res.body.equals(bytesAt(b.seed, off, off + R)), 'GET', p, res, `Range: ${range}`);
      },
      { signal },
    );
    ctx.rate('down.range', r, cfg.ranges);
  });
}

// ---------------------------------------------------------------- manifests
async function smallImageBlobs(reg, repo, label) {
  const layerBuf = keystream(label, 2048);
  const layer = await reg.putBlob(repo, layerBuf);
  const img = makeImage({ layer });
  await reg.putBlob(repo, img.config);
  return { layer, layerBuf, ...img };
}

export async function manifests(ctx) {
  const { reg, cfg } = ctx;
  const repo = 'bench/manifests';
  // The workload runs twice per registry (run.mjs): each turn pushes tags and manifests of its own.
  const turn = (ctx.state.manifestTurns = (ctx.state.manifestTurns ?? 0) + 1);
  let img;
  const keys = [...cfg.levels.map((c) => `man.put.c${c}`), ...cfg.levels.map((c) => `man.get.c${c}`)];
  const ok = await ctx.step(keys, async () => {
    img = await smallImageBlobs(reg, repo, 'manifest-layer');
  });
  if (!ok) return;
  const pushed = [];
  for (const c of cfg.levels) {
    const key = `man.put.c${c}`;
    await ctx.step(key, async (signal) => {
      // Untimed warm-up, as for the GETs below, with PUTs of their own tags and manifests: four
      // times the timed count before the first level, a tenth before the others. Berth's server
      // code takes thousands of requests to reach its pace (V8 compiles a function only after it
      // has run for a while): scratch runs of sequential PUTs on a fresh Berth, server CPU per PUT
      // from /proc: 1.6-2.1 ms over the first thousand, 1.2-1.5 ms over the second, 0.9-1.0 ms from
      // the third on. With a tenth as warm-up, c1 measured mostly that first thousand.
      const warm = c === cfg.levels[0] ? 4 * cfg.manPuts : Math.ceil(cfg.manPuts / 10);
      const warmBodies = Array.from({ length: warm }, (_, i) => manifestFor(img.configDesc, [img.layer], { 'org.example.bench.tag': `t${turn}-warm-c${c}-${i}` }));
      await pool(warm, c, (i) => reg.putManifest(repo, `t${turn}-warm-c${c}-${i}`, warmBodies[i]), { signal });
      const bodies = Array.from({ length: cfg.manPuts }, (_, i) => manifestFor(img.configDesc, [img.layer], { 'org.example.bench.tag': `t${turn}-c${c}-${i}` }));
      const r = await pool(
        cfg.manPuts,
        c,
        async (i) => {
          const tag = `t${turn}-c${c}-${i}`;
          const { digest } = await reg.putManifest(repo, tag, bodies[i]);
          pushed.push({ tag, digest });
        },
        { signal },
      );
      ctx.rate(key, r, cfg.manPuts);
    });
  }
  for (const c of cfg.levels) {
    const key = `man.get.c${c}`;
    if (!pushed.length) {
      ctx.fail(key, 'no manifest was pushed');
      continue;
    }
    await ctx.step(key, async (signal) => {
      const get = async (i) => {
        const t = pushed[i % pushed.length];
        await reg.getManifest(repo, t.tag, t.digest);
      };
      // Untimed warm-up at the same concurrency, twice the timed count, so that the timed GETs
      // measure a warm client: this Node.js client takes thousands of GETs to reach its pace
      // (scratch, one at a time against an already warm Berth, three rounds of 2,000: 664, 319,
      // then 199 µs per GET). With a tenth of the count, Berth's c1 figure was 813-1,190/s,
      // against wrk's 6,062-10,678.
      await pool(2 * cfg.manGets, c, get, { signal });
      const r = await pool(cfg.manGets, c, get, { signal });
      ctx.rate(key, r, cfg.manGets);
    });
  }
  // The Node.js client above shares the two cores with the registry and spends more CPU per
  // request than Berth does (about 0.3 ms a GET, warm, one at a time); wrk (C, one thread)
  // measures the server instead. Same client for both registries.
  if (wrkPath() && pushed.length) {
    for (const c of WRK_LEVELS) {
      const key = `man.get.wrk.c${c}`;
      await ctx.step(key, async () => {
        const t = pushed[0];
        const rate = await runWrk(`${reg.client.base}/v2/${repo}/manifests/${t.tag}`, c, cfg.quick ? 2 : 5, reg.client.defaultHeaders);
        ctx.set(key, rate);
      });
    }
  }
}

function wrkPath() {
  return toolPath('wrk');
}

function toolPath(name) {
  for (const dir of (process.env.PATH ?? '').split(':')) {
    if (dir && existsSync(`${dir}/${name}`)) return `${dir}/${name}`;
  }
  return null;
}

/** A command's standard output (rejects on a non-zero exit or after `timeoutMs`). */
async function runTool(path, args, timeoutMs) {
  const { execFile } = await import('node:child_process');
  return new Promise((resolve, reject) => {
    execFile(path, args, { timeout: timeoutMs }, (err, stdout) => (err ? reject(err) : resolve(stdout)));
  });
}

const headerArgs = (headers) => Object.entries(headers).flatMap(([k, v]) => ['-H', `${k}: ${v}`]);

/** One GET by curl into /dev/null: bytes per second and bytes received (non-2xx fails). */
async function curlDownload(url, headers = {}) {
  const out = await runTool(toolPath('curl'), ['-sS', '--fail', '-o', '/dev/null', '-w', '%{speed_download} %{size_download}', ...headerArgs(headers), url], 120_000);
  const [speed, size] = String(out).trim().split(' ').map(Number);
  return { speed, size };
}

/** Requests per second that wrk sustains against one URL (non-2xx responses fail the step). */
async function runWrk(url, connections, seconds, headers = {}) {
  const out = await runTool(wrkPath(), ['-t1', `-c${connections}`, `-d${seconds}s`, '-H', `Accept: ${OCI_MANIFEST}`, ...headerArgs(headers), url], (seconds + 30) * 1000);
  if (/Non-2xx or 3xx responses/.test(out)) throw new Error(`wrk saw error responses:\n${out}`);
  const m = /Requests\/sec:\s+([\d.]+)/.exec(out);
  if (!m) throw new Error(`cannot read wrk output:\n${out}`);
  return Number(m[1]);
}

// ---------------------------------------------------------------- small images
/** Untimed batches of cfg.images pushed and pulled first (the first one's rate is reported on its own row). */
export const IMAGE_WARMUP_BATCHES = 4;
/** Timed batches of cfg.images after those; the median batch is reported. */
export const IMAGE_BATCHES = 3;

/**
 * One batch of cfg.images small images, each in a repository of its own (bench/img-<batch>-<i>):
 * a 1-100 KiB random layer and a config, then the manifest.
 */
function imageBatch(cfg, batch) {
  const rng = prng(11 + batch);
  return Array.from({ length: cfg.images }, (_, i) => {
    const size = 1024 + Math.floor(rng() * (99 * 1024 + 1));
    const layerBuf = keystream(`img-layer-${batch}-${i}`, size);
    const layer = { digest: sha256(layerBuf), size };
    const img = makeImage({ layer });
    return { repo: `bench/img-${batch}-${i}`, layerBuf, layer, ...img, digest: sha256(img.manifest) };
  });
}

function pushImages(reg, cfg, imgs, signal) {
  return pool(
    imgs.length,
    cfg.imgWorkers,
    async (i) => {
      const im = imgs[i];
      for (const [buf, d] of [
        [im.layerBuf, im.layer.digest],
        [im.config, im.configDesc.digest],
      ]) {
        if (!(await reg.blobExists(im.repo, d))) await reg.putBlob(im.repo, buf);
      }
      await reg.putManifest(im.repo, 'v1', im.manifest);
    },
    { signal },
  );
}

function pullImages(reg, cfg, imgs, signal) {
  return pool(
    imgs.length,
    cfg.imgWorkers,
    async (i) => {
      const im = imgs[i];
      const body = await reg.getManifest(im.repo, 'v1', im.digest);
      const m = JSON.parse(body.toString('utf8'));
      for (const d of [m.config, ...m.layers]) await reg.getBlob(im.repo, d.digest);
    },
    { signal },
  );
}

/** The rate of a pool() result; on a failure, records it against every key and leaves the step. */
function batchRate(ctx, keys, r, count) {
  if (r.errors.length || r.ok < count) {
    for (const k of keys.slice(1)) ctx.fail(k, 'an earlier batch failed');
    ctx.rate(keys[0], r, count); // records the failure and throws
  }
  return r.ok / (r.elapsedMs / 1000);
}

export async function images(ctx) {
  const { reg, cfg } = ctx;
  // Untimed warm-up batches first, each into repositories of its own. Berth reaches its pace only
  // after some hundreds of pushes, while V8 compiles the upload path (a fresh Berth, ten batches
  // of 64 in one scratch run: 85, 99, 99, 108, 128, 134, 159, 171, 173, 166 images/s, 668
  // functions optimized meanwhile; its main thread's CPU per image 9.7 ms in the first batch, 5.2
  // in the sixth); Distribution measured flat (40-46 images/s over eight batches). The first batch's rate is reported on its own row: it is
  // what a registry that has just started does. Then IMAGE_BATCHES timed batches, the median
  // reported: one batch takes under a second, and single batches of the same build measured
  // 1.31-2.47x apart on one machine.
  const warm = Array.from({ length: IMAGE_WARMUP_BATCHES }, (_, b) => imageBatch(cfg, b));
  const timed = Array.from({ length: IMAGE_BATCHES }, (_, b) => imageBatch(cfg, IMAGE_WARMUP_BATCHES + b));
  const pushedOk = await ctx.step(['img.push.cold', 'img.push'], async (signal) => {
    for (const [b, imgs] of warm.entries()) {
      const rate = batchRate(ctx, b === 0 ? ['img.push.cold', 'img.push'] : ['img.push'], await pushImages(reg, cfg, imgs, signal), imgs.length);
      if (b === 0) ctx.set('img.push.cold', rate);
    }
    const rates = [];
    for (const imgs of timed) rates.push(batchRate(ctx, ['img.push'], await pushImages(reg, cfg, imgs, signal), imgs.length));
    ctx.set('img.push', median(rates), `median of ${rates.map((r) => fmtNum(r)).join(', ')} images/s`);
  });
  if (!pushedOk) {
    ctx.fail('img.pull', 'push failed');
    return;
  }
  await ctx.step('img.pull', async (signal) => {
    for (const imgs of warm) batchRate(ctx, ['img.pull'], await pullImages(reg, cfg, imgs, signal), imgs.length);
    const rates = [];
    for (const imgs of timed) rates.push(batchRate(ctx, ['img.pull'], await pullImages(reg, cfg, imgs, signal), imgs.length));
    ctx.set('img.pull', median(rates), `median of ${rates.map((r) => fmtNum(r)).join(', ')} images/s`);
  });
}

// ---------------------------------------------------------------- listing helper
/**
 * Follow Link rel="next" from `first`, collecting `field` arrays. Bounded by
 * maxPages and by a repeated-URL check. Records complete/sorted/n checks.
 */
async function listAll(ctx, { first, field, n, expected, maxPages, label, exact }) {
  const { reg } = ctx;
  const all = [];
  const sizes = [];
  const seen = new Set();
  let p = first;
  let stop = null;
  const t0 = now();
  while (p) {
    if (sizes.length >= maxPages) {
      stop = `stopped after ${maxPages} pages`;
      break;
    }
    if (seen.has(p)) {
      stop = `Link loop at ${p}`;
      break;
    }
    seen.add(p);
    const res = await reg.req({ path: p });
    reg.must(`${label} -> 200`, res.status === 200, 'GET', p, res);
    let items;
    try {
      items = JSON.parse(res.body.toString('utf8'))[field] ?? [];
    } catch {
      reg.must(`${label} -> JSON body`, false, 'GET', p, res);
    }
    all.push(...items);
    sizes.push(items.length);
    const next = nextLink(res.headers.link);
    p = next ? reg.client.resolve(next) : null;
  }
  const dt = (now() - t0) / 1000;
  const got = new Set(all);
  const missing = [...expected].filter((x) => !got.has(x));
  const dups = all.length - got.size;
  const extra = exact ? all.filter((x) => !expected.has(x)).length : 0;
  const pagesDesc = sizes.length > 8 ? `${sizes.length} pages, sizes ${sizes.slice(0, 4).join(',')},…,${sizes.slice(-2).join(',')}` : `${sizes.length} page(s), sizes ${sizes.join(',')}`;
  const complete = missing.length === 0 && dups === 0 && extra === 0 && !stop;
  reg.checks.record(`${label} complete`, complete, `expected ${expected.size}, got ${all.length} (${got.size} distinct; ${missing.length} missing${missing.length ? ' e.g. ' + missing.slice(0, 3).join(' ') : ''}; ${extra} unexpected)${stop ? '; ' + stop : ''}; ${pagesDesc}`);
  let bad = -1;
  for (let i = 1; i < all.length; i++) {
    if (!(all[i - 1] < all[i])) {
      bad = i;
      break;
    }
  }
  reg.checks.record(`${label} sorted lexically`, bad < 0, bad < 0 ? '' : `entry ${bad - 1} "${all[bad - 1]}" before entry ${bad} "${all[bad]}"`);
  const total = all.length;
  const honoured = sizes.every((s) => s <= n) && (total <= n || sizes.length > 1);
  reg.checks.record(`${label} honours n=${n} (pages <= n, Link to next page)`, honoured, pagesDesc);
  const failed = [complete ? null : 'incomplete', bad < 0 ? null : 'unsorted', honoured ? null : `n=${n} ignored`].filter(Boolean);
  return { dt, failed };
}

// ---------------------------------------------------------------- 10,000 tags
export async function tags(ctx) {
  const { reg, cfg } = ctx;
  const repo = 'bench/tags';
  let img;
  if (!(await ctx.step(['tags.push', 'tags.list'], async () => (img = await smallImageBlobs(reg, repo, 'tags-layer'))))) return;
  const names = Array.from({ length: cfg.tags }, (_, i) => `tag-${i}`);
  const pushed = new Set();
  await ctx.step('tags.push', async (signal) => {
    const bodies = names.map((t) => manifestFor(img.configDesc, [img.layer], { 'org.example.bench.tag': t }));
    const r = await pool(
      names.length,
      cfg.tagConc,
      async (i) => {
        await reg.putManifest(repo, names[i], bodies[i]);
        pushed.add(names[i]);
      },
      { signal },
    );
    ctx.seconds('tags.push', r, names.length);
  });
  if (!pushed.size) return ctx.fail('tags.list', 'no tag was pushed');
  await ctx.step('tags.list', async () => {
    const { dt, failed } = await listAll(ctx, {
      first: `/v2/${repo}/tags/list?n=${cfg.tagPage}`,
      field: 'tags',
      n: cfg.tagPage,
      expected: pushed,
      maxPages: Math.ceil(cfg.tags / cfg.tagPage) + 5,
      label: 'tags/list',
      exact: true,
    });
    if (failed.length) ctx.fail('tags.list', 'fail', `${failed.join(', ')}; took ${fmtNum(dt)} s`);
    else ctx.set('tags.list', dt);
  });
}

// ---------------------------------------------------------------- catalog
export async function catalog(ctx) {
  const { reg, cfg } = ctx;
  const src = 'bench/catalog-src';
  let img;
  if (!(await ctx.step(['cat.push', 'cat.list'], async () => (img = await smallImageBlobs(reg, src, 'catalog-layer'))))) return;
  const names = Array.from({ length: cfg.repos }, (_, i) => `bench/cat/r-${i}`);
  const created = new Set();
  await ctx.step('cat.push', async (signal) => {
    const r = await pool(
      names.length,
      cfg.repoConc,
      async (i) => {
        const name = names[i];
        await reg.mountOrPut(name, src, { digest: img.layer.digest, buf: img.layerBuf });
        await reg.mountOrPut(name, src, { digest: img.configDesc.digest, buf: img.config });
        await reg.putManifest(name, 'latest', img.manifest);
        created.add(name);
      },
      { signal },
    );
    ctx.seconds('cat.push', r, names.length);
  });
  if (!created.size) return ctx.fail('cat.list', 'no repository was created');
  await ctx.step('cat.list', async () => {
    const { dt, failed } = await listAll(ctx, {
      first: `/v2/_catalog?n=${cfg.catPage}`,
      field: 'repositories',
      n: cfg.catPage,
      expected: created,
      maxPages: Math.ceil((cfg.repos + (IMAGE_WARMUP_BATCHES + IMAGE_BATCHES) * cfg.images + 100) / cfg.catPage) + 5,
      label: '_catalog',
      exact: false,
    });
    if (failed.length) ctx.fail('cat.list', 'fail', `${failed.join(', ')}; took ${fmtNum(dt)} s`);
    else ctx.set('cat.list', dt);
  });
}

export const WORKLOADS = [
  ['protocol checks', protocol, 'protocol'],
  ['blob uploads', uploads, 'uploads'],
  ['blob downloads', downloads, 'downloads'],
  ['manifests', manifests, 'manifests'],
  ['small images', images, 'images'],
  ['tags', tags, 'tags'],
  ['catalog', catalog, 'catalog'],
];

export { fmtSize };
