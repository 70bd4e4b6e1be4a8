/**
 * A recording reverse proxy on loopback: clients talk to it, it forwards every request
 * unchanged (Host header included) to the registry and keeps a log of each exchange
 * (headers, and the start of non-blob bodies), so a failing client run can be reported
 * with the exact requests and responses. Enabled with E2E_RECORD=1 (see server.ts).
 */
import { createServer, request, type IncomingHttpHeaders, type Server } from 'node:http';

export interface Exchange {
  seq: number;
  method: string;
  url: string;
  requestHeaders: IncomingHttpHeaders;
  requestBody: string;
  requestBytes: number;
  status: number;
  responseHeaders: IncomingHttpHeaders;
  responseBody: string;
  responseBytes: number;
  error?: string;
  ms: number;
}

const BODY_LIMIT = 2048;

function printable(contentType: string | undefined, status: number, bytes: Buffer): string {
  const ct = contentType ?? '';
  const texty = /json|text|xml|yaml/i.test(ct) || status >= 400 || ct === '';
  if (!texty) return bytes.length ? `<${bytes.length} bytes of ${ct}>` : '';
  const s = bytes.subarray(0, BODY_LIMIT).toString('utf8');
  // binary payloads posing as text: show a size instead of noise
  if (/[\x00-\x08\x0e-\x1f]/.test(s)) return `<${bytes.length} bytes, binary>`;
  return bytes.length > BODY_LIMIT ? `${s}...<${bytes.length - BODY_LIMIT} more bytes>` : s;
}

export class RecordingProxy {
  readonly exchanges: Exchange[] = [];
  private server: Server | undefined;
  private seq = 0;
  port = 0;

  constructor(private readonly targetPort: number, private readonly limit = 2000) {}

  async start(port = 0): Promise<number> {
    this.server = createServer((req, res) => {
      const started = Date.now();
      const reqChunks: Buffer[] = [];
      let reqBytes = 0;
      const ex: Exchange = {
        seq: ++this.seq,
        method: req.method ?? '?',
        url: req.url ?? '',
        requestHeaders: req.headers,
        requestBody: '',
        requestBytes: 0,
        status: 0,
        responseHeaders: {},
        responseBody: '',
        responseBytes: 0,
        ms: 0,
      };
      this.exchanges.push(ex);
      if (this.exchanges.length > this.limit) this.exchanges.shift();

      const upstream = request(
        { host: '127.0.0.1', port: this.targetPort, method: req.method, path: req.url, headers: req.headers },
        (upRes) => {
          ex.status = upRes.statusCode ?? 0;
          ex.responseHeaders = upRes.headers;
          res.writeHead(upRes.statusCode ?? 502, upRes.rawHeaders);
          const resChunks: Buffer[] = [];
          let kept = 0;
          upRes.on('data', (c: Buffer) => {
            ex.responseBytes += c.length;
            if (kept < BODY_LIMIT * 2) {
              resChunks.push(c);
              kept += c.length;
            }
            res.write(c);
          });
          upRes.on('end', () => {
            ex.responseBody = printable(upRes.headers['content-type'], ex.status, Buffer.concat(resChunks));
            ex.ms = Date.now() - started;
            res.end();
          });
          upRes.on('error', (e) => {
            ex.error = `upstream response error: ${e.message}`;
            res.destroy(e);
          });
        },
      );
      upstream.on('error', (e) => {
        ex.error = `upstream error: ${e.message}`;
        ex.ms = Date.now() - started;
        if (!res.headersSent) res.writeHead(502, { 'content-type': 'text/plain' });
        res.end(`proxy: ${e.message}`);
      });
      req.on('data', (c: Buffer) => {
        ex.requestBytes += c.length;
        if (reqBytes < BODY_LIMIT * 2) {
          reqChunks.push(c);
          reqBytes += c.length;
        }
      });
      req.on('end', () => {
        ex.requestBody = printable(req.headers['content-type'], 0, Buffer.concat(reqChunks));
      });
      req.pipe(upstream);
    });
    await new Promise<void>((resolve, reject) => {
      this.server?.once('error', reject);
      this.server?.listen(port, '127.0.0.1', () => resolve());
    });
    const addr = this.server.address();
    this.port = addr !== null && typeof addr !== 'string' ? addr.port : 0;
    return this.port;
  }

  async stop(): Promise<void> {
    const s = this.server;
    if (!s) return;
    this.server = undefined;
    s.closeAllConnections();
    await new Promise<void>((resolve) => s.close(() => resolve()));
  }

  /** The last `n` exchanges, formatted for a failure report. */
  format(n = 40): string {
    const interesting = ['content-type', 'content-length', 'content-range', 'range', 'location', 'docker-content-digest', 'docker-upload-uuid', 'accept', 'www-authenticate', 'link', 'oci-subject', 'transfer-encoding'];
    const pick = (h: IncomingHttpHeaders) =>
      interesting
        .filter((k) => h[k] !== undefined)
        .map((k) => `${k}: ${String(h[k])}`)
        .join(' | ');
    return this.exchanges
      .slice(-n)
      .map((e) => {
        const lines = [`#${e.seq} > ${e.method} ${e.url}  [${pick(e.requestHeaders)}] (${e.requestBytes} bytes)`];
        const flat = (b: string) => b.replace(/\s*\n\s*/g, ' ');
        if (e.requestBody) lines.push(`     body: ${flat(e.requestBody)}`);
        lines.push(`#${e.seq} < ${e.status}  [${pick(e.responseHeaders)}] (${e.responseBytes} bytes, ${e.ms} ms)${e.error ? ' ' + e.error : ''}`);
        if (e.responseBody) lines.push(`     body: ${flat(e.responseBody)}`);
        return lines.join('\n');
      })
      .join('\n');
  }
}
