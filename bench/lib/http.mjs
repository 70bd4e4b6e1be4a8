// Raw HTTP/1.1 client over node:http with a keep-alive Agent.
// All requests go to the configured loopback host:port; Location/Link values
// are reduced to path+query so nothing ever leaves 127.0.0.1.

import http from 'node:http';

const LOOPBACK = new Set(['127.0.0.1', 'localhost', '[::1]', '::1']);

export class HttpError extends Error {
  constructor(message, info) {
    super(message);
    this.info = info;
  }
}

export class Client {
  /** `headers` go on every request (the registry login, for Berth). */
  constructor(baseUrl, { maxSockets = 256, idleTimeoutMs = 60_000, headers = {} } = {}) {
    this.defaultHeaders = headers;
    const u = new URL(baseUrl);
    if (!LOOPBACK.has(u.hostname)) throw new Error(`refusing non-loopback target ${baseUrl}`);
    this.base = u.origin;
    this.host = u.hostname;
    this.port = Number(u.port);
    this.idleTimeoutMs = idleTimeoutMs;
    this.agent = new http.Agent({ keepAlive: true, maxSockets, keepAliveMsecs: 1000 });
  }

  /** Path + query of a (possibly absolute) URL returned by the server. */
  resolve(pathOrUrl) {
    const u = new URL(pathOrUrl, this.base);
    return u.pathname + u.search;
  }

  close() {
    this.agent.destroy();
  }

  /**
   * request({ method, path, headers, body, signal, discard, maxBody, onResponseChunk })
   *  body: undefined | Buffer | string | Iterable<Buffer> (streamed with backpressure)
   *  onBodyChunk(buf): called for each streamed request body chunk (hashing)
   *  chunkedEncoding: a streamed body without Content-Length goes with Transfer-Encoding: chunked
   *  discard: true -> response body counted and dropped
   * Resolves { status, headers, body: Buffer, bytes } for any status.
   */
  request({ method = 'GET', path, headers = {}, body, signal, discard = false, maxBody = 64 * 1024 * 1024, onBodyChunk, timeoutMs, chunkedEncoding = false }) {
    return new Promise((resolve, reject) => {
      let settled = false;
      const fail = (err) => {
        if (settled) return;
        settled = true;
        reject(err);
      };
      const hdrs = { ...this.defaultHeaders, ...headers };
      let streamBody = null;
      if (body == null) {
        if (!('content-length' in lower(hdrs)) && method !== 'GET' && method !== 'HEAD' && method !== 'DELETE') hdrs['Content-Length'] = '0';
      } else if (typeof body === 'string' || Buffer.isBuffer(body)) {
        hdrs['Content-Length'] = String(Buffer.byteLength(body));
      } else {
        streamBody = body;
        if (!('content-length' in lower(hdrs)) && !chunkedEncoding) throw new Error('streamed body needs Content-Length');
      }
      let req;
      try {
        req = http.request({
          host: this.host,
          port: this.port,
          method,
          path,
          headers: hdrs,
          agent: this.agent,
          signal,
          timeout: timeoutMs ?? this.idleTimeoutMs,
        });
      } catch (e) {
        return fail(e);
      }
      const state = { responded: false, writing: !!streamBody, resDone: false };
      req.on('timeout', () => req.destroy(new Error(`idle timeout on ${method} ${path}`)));
      req.on('error', fail);
      req.on('response', (res) => {
        state.responded = true;
        const chunks = [];
        let bytes = 0;
        res.on('data', (c) => {
          bytes += c.length;
          if (discard) return;
          if (bytes > maxBody) {
            res.destroy(new Error(`response body over ${maxBody} bytes on ${method} ${path}`));
            return;
          }
          chunks.push(c);
        });
        res.on('error', fail);
        res.on('end', () => {
          state.resDone = true;
          // The server answered before reading our whole body: the socket is
          // in an unknown state, so do not reuse it.
          if (state.writing) req.destroy();
          if (settled) return;
          settled = true;
          resolve({ status: res.statusCode, headers: res.headers, body: discard ? Buffer.alloc(0) : Buffer.concat(chunks), bytes });
        });
      });
      if (!streamBody) {
        req.end(body);
        return;
      }
      (async () => {
        for (const buf of streamBody) {
          if (state.responded || req.destroyed) return;
          onBodyChunk?.(buf);
          if (!req.write(buf)) {
            await new Promise((res) => {
              const done = () => {
                req.off('drain', done);
                req.off('close', done);
                req.off('response', done);
                res();
              };
              req.on('drain', done);
              req.on('close', done);
              req.on('response', done);
            });
          }
        }
        state.writing = false;
        if (!req.destroyed) req.end();
      })().catch((e) => {
        req.destroy(e);
      });
    });
  }
}

function lower(h) {
  const o = {};
  for (const k of Object.keys(h)) o[k.toLowerCase()] = h[k];
  return o;
}

/** Parse an RFC 8288 Link header, returning the rel="next" target or null. */
export function nextLink(link) {
  if (!link) return null;
  for (const part of String(link).split(/,(?=\s*<)/)) {
    const m = /^\s*<([^>]*)>(.*)$/.exec(part);
    if (!m) continue;
    if (/;\s*rel\s*=\s*"?next"?/i.test(m[2])) return m[1];
  }
  return null;
}

/** One-line description of a request/response for failure reports. */
export function describe(method, path, res, extra = '') {
  if (!res) return `${method} ${path}${extra ? ' ' + extra : ''} -> no response`;
  const keep = ['location', 'docker-content-digest', 'range', 'content-range', 'content-type', 'content-length', 'link', 'docker-upload-uuid', 'oci-subject'];
  const hs = keep.filter((k) => res.headers[k] != null).map((k) => `${k}: ${res.headers[k]}`).join('; ');
  let body = '';
  if (res.body && res.body.length) {
    const s = res.body.subarray(0, 300).toString('utf8').replace(/\s+/g, ' ');
    body = ` body: ${s}${res.body.length > 300 ? '…' : ''}`;
  }
  return `${method} ${path}${extra ? ' ' + extra : ''} -> ${res.status}${hs ? ' [' + hs + ']' : ''}${body}`;
}
