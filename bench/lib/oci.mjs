// OCI Distribution operations over the raw client, recording protocol checks.

import crypto from 'node:crypto';
import { describe, HttpError } from './http.mjs';
import { pieces, sha256 } from './data.mjs';

export const OCI_MANIFEST = 'application/vnd.oci.image.manifest.v1+json';
export const OCI_INDEX = 'application/vnd.oci.image.index.v1+json';
export const OCI_CONFIG = 'application/vnd.oci.image.config.v1+json';
export const OCI_LAYER = 'application/vnd.oci.image.layer.v1.tar+gzip';
export const OCI_EMPTY = 'application/vnd.oci.empty.v1+json';
export const ACCEPT_MANIFESTS = [
  OCI_MANIFEST,
  OCI_INDEX,
  'application/vnd.docker.distribution.manifest.v2+json',
  'application/vnd.docker.distribution.manifest.list.v2+json',
].join(', ');

/** Pass/fail protocol checks of one registry; a check evaluated many times fails if any evaluation failed. */
export class Checks {
  constructor(registry) {
    this.registry = registry;
    this.map = new Map();
    this.printed = new Map();
  }

  record(name, pass, detail) {
    let c = this.map.get(name);
    if (!c) {
      c = { name, pass: true, evaluations: 0, failures: 0, detail: null };
      this.map.set(name, c);
    }
    c.evaluations++;
    if (!pass) {
      c.failures++;
      if (c.pass) {
        c.pass = false;
        c.detail = detail;
      }
    }
    return pass;
  }

  get(name) {
    return this.map.get(name);
  }

  all() {
    return [...this.map.values()];
  }

  /** Print checks that are new or changed since the last flush. */
  flush(print) {
    for (const c of this.map.values()) {
      const state = c.pass ? 'PASS' : 'FAIL';
      if (this.printed.get(c.name) === state) continue;
      this.printed.set(c.name, state);
      const extra = c.pass ? '' : ` (${c.failures}/${c.evaluations} failed) -- ${c.detail}`;
      print(`  [${this.registry}] ${state} ${c.name}${extra}`);
    }
  }
}

function withQuery(loc, q) {
  return loc + (loc.includes('?') ? '&' : '?') + q;
}

function errorCodes(res) {
  try {
    const j = JSON.parse(res.body.toString('utf8'));
    return (j.errors ?? []).map((e) => e.code);
  } catch {
    return [];
  }
}

export class Reg {
  constructor(name, client, checks, proc) {
    this.name = name;
    this.client = client;
    this.checks = checks;
    this.proc = proc;
    this.signal = undefined;
  }

  req(o) {
    return this.client.request({ signal: this.signal, ...o });
  }

  /** Record a check; on failure throw an HttpError with the request/response. */
  must(check, ok, method, path, res, extra) {
    // The description is only for a failure: built for every passing check, it cost the client
    // 1.0-1.6 µs a check (four per manifest GET), CPU the registry's two cores could use.
    if (ok) {
      this.checks.record(check, true);
      return;
    }
    const d = describe(method, path, res, extra);
    this.checks.record(check, false, d);
    throw new HttpError(`${check} failed: ${d}`, d);
  }

  async startUpload(repo, query = '') {
    const p = `/v2/${repo}/blobs/uploads/${query}`;
    const res = await this.req({ method: 'POST', path: p });
    this.must('POST /blobs/uploads/ -> 202 + Location', res.status === 202 && !!res.headers.location, 'POST', p, res);
    return this.client.resolve(res.headers.location);
  }

  async cancelUpload(loc) {
    try {
      await this.req({ method: 'DELETE', path: loc });
    } catch {
      /* best effort */
    }
  }

  checkPutBlob(kind, method, p, res, digest) {
    this.must(`${kind} -> 201 + Location`, res.status === 201 && !!res.headers.location, method, p, res);
    this.must(`${kind} -> Docker-Content-Digest matches`, res.headers['docker-content-digest'] === digest, method, p, res);
  }

  /** POST then PUT ?digest= with the whole (streamed) body. */
  async uploadMonolithic(repo, { seed, size, digest }) {
    const loc = await this.startUpload(repo);
    const p = withQuery(loc, `digest=${encodeURIComponent(digest)}`);
    const res = await this.req({
      method: 'PUT',
      path: p,
      headers: { 'Content-Type': 'application/octet-stream', 'Content-Length': String(size) },
      body: pieces(seed, 0, size),
    });
    this.checkPutBlob('monolithic PUT ?digest=', 'PUT', p, res, digest);
    return digest;
  }

  /**
   * Single-request POST ?digest= with the body. Returns true when the registry
   * created the blob (201), false when it only opened an upload session (202,
   * allowed by the spec: the client must then fall back to POST+PUT).
   */
  async uploadSinglePost(repo, { seed, size, digest, body }) {
    const p = `/v2/${repo}/blobs/uploads/?digest=${encodeURIComponent(digest)}`;
    const res = await this.req({
      method: 'POST',
      path: p,
      headers: { 'Content-Type': 'application/octet-stream', 'Content-Length': String(size) },
      body: body ?? pieces(seed, 0, size),
    });
    if (res.status === 202 && res.headers.location) {
      await this.cancelUpload(this.client.resolve(res.headers.location));
      return false;
    }
    this.checkPutBlob('single-request POST ?digest=', 'POST', p, res, digest);
    return true;
  }

  /**
   * POST, PATCH chunks with Content-Range, then PUT ?digest=. The digest is computed before the
   * timed upload, as for the other upload rows (the caller passes it): a client that hashes while
   * it sends shares this machine's two cores with the registry, and what it costs is the
   * client's. When none is passed, it is computed while sending.
   */
  async uploadChunked(repo, { seed, size, chunk, digest: known }) {
    const h = known ? null : crypto.createHash('sha256');
    let loc = await this.startUpload(repo);
    for (let start = 0; start < size; start += chunk) {
      const end = Math.min(size, start + chunk);
      const p = loc;
      const res = await this.req({
        method: 'PATCH',
        path: p,
        headers: {
          'Content-Type': 'application/octet-stream',
          'Content-Length': String(end - start),
          'Content-Range': `${start}-${end - 1}`,
        },
        body: pieces(seed, start, end),
        ...(h ? { onBodyChunk: (b) => h.update(b) } : {}),
      });
      this.must('PATCH chunk -> 202 + Location', res.status === 202 && !!res.headers.location, 'PATCH', p, res, `Content-Range: ${start}-${end - 1}`);
      this.must('PATCH chunk -> Range: 0-<end>', res.headers.range === `0-${end - 1}`, 'PATCH', p, res, `Content-Range: ${start}-${end - 1}`);
      loc = this.client.resolve(res.headers.location);
    }
    const digest = known ?? 'sha256:' + h.digest('hex');
    const p = withQuery(loc, `digest=${encodeURIComponent(digest)}`);
    const res = await this.req({ method: 'PUT', path: p });
    this.checkPutBlob('chunked final PUT ?digest=', 'PUT', p, res, digest);
    return digest;
  }

  /**
   * POST, one PATCH streaming the whole body with Transfer-Encoding: chunked (no Content-Length),
   * then PUT ?digest=: how podman, buildah and docker push a layer they compress on the way.
   */
  async uploadStreamed(repo, { seed, size, digest }) {
    const loc = await this.startUpload(repo);
    const res = await this.req({ method: 'PATCH', path: loc, headers: { 'Content-Type': 'application/octet-stream' }, body: pieces(seed, 0, size), chunkedEncoding: true });
    this.must('streamed PATCH -> 202 + Location', res.status === 202 && !!res.headers.location, 'PATCH', loc, res);
    const p = withQuery(this.client.resolve(res.headers.location), `digest=${encodeURIComponent(digest)}`);
    const done = await this.req({ method: 'PUT', path: p });
    this.checkPutBlob('streamed PATCH then PUT ?digest=', 'PUT', p, done, digest);
    return digest;
  }

  /** Small in-memory blob: POST + PUT ?digest=. */
  async putBlob(repo, buf) {
    const digest = sha256(buf);
    const loc = await this.startUpload(repo);
    const p = withQuery(loc, `digest=${encodeURIComponent(digest)}`);
    const res = await this.req({ method: 'PUT', path: p, headers: { 'Content-Type': 'application/octet-stream' }, body: buf });
    this.checkPutBlob('monolithic PUT ?digest=', 'PUT', p, res, digest);
    return { digest, size: buf.length };
  }

  async blobExists(repo, digest) {
    const p = `/v2/${repo}/blobs/${digest}`;
    const res = await this.req({ method: 'HEAD', path: p });
    this.must('HEAD blob -> 200 or 404', res.status === 200 || res.status === 404, 'HEAD', p, res);
    return res.status === 200;
  }

  /** Cross-repository mount; falls back to an upload when the registry answers 202. */
  async mountOrPut(repo, from, { digest, buf }) {
    const p = `/v2/${repo}/blobs/uploads/?mount=${encodeURIComponent(digest)}&from=${encodeURIComponent(from)}`;
    const res = await this.req({ method: 'POST', path: p });
    if (res.status === 201) {
      this.checks.record('cross-repo mount -> 201', true);
      return true;
    }
    this.checks.record('cross-repo mount -> 201', false, describe('POST', p, res));
    if (res.status === 202 && res.headers.location) await this.cancelUpload(this.client.resolve(res.headers.location));
    await this.putBlob(repo, buf);
    return false;
  }

  async putManifest(repo, ref, bytes, mediaType = OCI_MANIFEST) {
    const p = `/v2/${repo}/manifests/${ref}`;
    const digest = sha256(bytes);
    const res = await this.req({ method: 'PUT', path: p, headers: { 'Content-Type': mediaType }, body: bytes });
    this.must('manifest PUT -> 201 + Location', res.status === 201 && !!res.headers.location, 'PUT', p, res);
    this.must('manifest PUT -> Docker-Content-Digest matches', res.headers['docker-content-digest'] === digest, 'PUT', p, res);
    return { digest, res };
  }

  async getManifest(repo, ref, expectDigest) {
    const p = `/v2/${repo}/manifests/${ref}`;
    const res = await this.req({ method: 'GET', path: p, headers: { Accept: ACCEPT_MANIFESTS } });
    this.must('manifest GET -> 200', res.status === 200, 'GET', p, res);
    const bodyDigest = sha256(res.body);
    this.must('manifest GET -> body matches Docker-Content-Digest', res.headers['docker-content-digest'] === bodyDigest, 'GET', p, res);
    if (expectDigest) this.must('manifest GET -> expected digest', bodyDigest === expectDigest, 'GET', p, res, `(expected ${expectDigest})`);
    this.must('manifest GET -> Content-Type is the OCI manifest type', (res.headers['content-type'] ?? '').split(';')[0].trim() === OCI_MANIFEST, 'GET', p, res);
    return res.body;
  }

  /** GET a blob (following a loopback redirect); verifies its digest unless discard. */
  async getBlob(repo, digest, { discard = false, verify = true } = {}) {
    let p = `/v2/${repo}/blobs/${digest}`;
    let res = await this.req({ method: 'GET', path: p, discard });
    for (let i = 0; i < 3 && [301, 302, 303, 307, 308].includes(res.status) && res.headers.location; i++) {
      p = this.client.resolve(res.headers.location);
      res = await this.req({ method: 'GET', path: p, discard });
    }
    this.must('blob GET -> 200', res.status === 200, 'GET', p, res);
    if (!discard && verify) this.must('blob GET -> body matches digest', sha256(res.body) === digest, 'GET', p, res);
    return res;
  }
}

export function errorCodesOf(res) {
  return errorCodes(res);
}

/** Canonical small OCI image: returns { config, manifest } Buffers. */
export function makeImage({ layer, annotations, configExtra }) {
  const config = Buffer.from(
    JSON.stringify({
      architecture: 'amd64',
      os: 'linux',
      config: {},
      rootfs: { type: 'layers', diff_ids: [layer.digest] },
      ...(configExtra ?? {}),
    }),
  );
  const configDesc = { digest: sha256(config), size: config.length };
  const manifest = manifestFor(configDesc, [layer], annotations);
  return { config, configDesc, manifest };
}

export function manifestFor(configDesc, layers, annotations) {
  const m = {
    schemaVersion: 2,
    mediaType: OCI_MANIFEST,
    config: { mediaType: OCI_CONFIG, digest: configDesc.digest, size: configDesc.size },
    layers: layers.map((l) => ({ mediaType: OCI_LAYER, digest: l.digest, size: l.size })),
  };
  if (annotations) m.annotations = annotations;
  return Buffer.from(JSON.stringify(m));
}
