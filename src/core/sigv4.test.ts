import { createHash, createHmac, type Hash as NodeHash, type Hmac } from 'node:crypto';
import { SignatureV4 } from '@smithy/signature-v4';
import { describe, expect, it } from 'vitest';
import { verifySigV4, type SignedRequest } from './sigv4.js';

/** The SDK signer is an independent implementation: requests it signs must verify. */
class Sha256 {
  private readonly h: NodeHash | Hmac;
  constructor(secret?: string | ArrayBuffer | ArrayBufferView) {
    this.h = secret === undefined ? createHash('sha256') : createHmac('sha256', toBytes(secret));
  }
  update(data: string | ArrayBuffer | ArrayBufferView): void {
    this.h.update(toBytes(data));
  }
  async digest(): Promise<Uint8Array> {
    return new Uint8Array(this.h.digest());
  }
  reset(): void {}
}

function toBytes(d: string | ArrayBuffer | ArrayBufferView): string | Uint8Array {
  if (typeof d === 'string') return d;
  return d instanceof ArrayBuffer ? new Uint8Array(d) : new Uint8Array(d.buffer, d.byteOffset, d.byteLength);
}

interface HttpRequest {
  method: string;
  protocol: string;
  hostname: string;
  port: number;
  path: string;
  query: Record<string, string>;
  headers: Record<string, string>;
  body: string;
}

const SECRET = 'wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY';
const signer = (service = 'ecr', secretAccessKey = SECRET) =>
  new SignatureV4({ credentials: { accessKeyId: 'AKIDEXAMPLE', secretAccessKey }, region: 'us-east-1', service, sha256: Sha256, uriEscapePath: true });

const body = '{"repositoryName":"team/app"}';
const sha = (s: string): string => createHash('sha256').update(s).digest('hex');

function request(extraHeaders: Record<string, string> = {}, path = '/', query: Record<string, string> = {}): HttpRequest {
  return {
    method: 'POST',
    protocol: 'http:',
    hostname: '127.0.0.1',
    port: 5000,
    path,
    query,
    headers: { host: '127.0.0.1:5000', 'content-type': 'application/x-amz-json-1.1', 'x-amz-target': 'AmazonEC2ContainerRegistry_V20150921.CreateRepository', ...extraHeaders },
    body,
  };
}

function toSigned(r: HttpRequest, b = body): SignedRequest {
  const headers: Record<string, string> = {};
  for (const [k, v] of Object.entries(r.headers)) headers[k.toLowerCase()] = v;
  const query = new URLSearchParams(r.query as Record<string, string>).toString();
  return { method: r.method, path: r.path, query, headers, bodySha256: sha(b) };
}

const now = Date.UTC(2026, 10, 27, 12, 0, 0);
const opts = { services: ['ecr'], secretOf: async (id: string) => (id === 'AKIDEXAMPLE' ? SECRET : null), now };

describe('verifySigV4', () => {
  it('accepts a request signed by the AWS SDK signer, with and without a content hash header', async () => {
    const signed = await signer().sign(request(), { signingDate: new Date(now) });
    await expect(verifySigV4(toSigned(signed as HttpRequest), opts)).resolves.toMatchObject({ accessKeyId: 'AKIDEXAMPLE', service: 'ecr', region: 'us-east-1' });
    const withHash = await signer().sign(request({ 'x-amz-content-sha256': sha(body) }), { signingDate: new Date(now) });
    await expect(verifySigV4(toSigned(withHash as HttpRequest), opts)).resolves.toBeTruthy();
  });

  it('carries the session token of temporary credentials', async () => {
    const s = new SignatureV4({ credentials: { accessKeyId: 'AKIDEXAMPLE', secretAccessKey: SECRET, sessionToken: 'tok' }, region: 'us-east-1', service: 'ecr', sha256: Sha256 });
    const signed = await s.sign(request(), { signingDate: new Date(now) });
    expect((await verifySigV4(toSigned(signed as HttpRequest), opts)).sessionToken).toBe('tok');
  });

  it('verifies paths and queries that need encoding', async () => {
    const signed = await signer().sign(request({}, '/some path/x', { b: '2', a: 'x y', 'c*': '~' }), { signingDate: new Date(now) });
    await expect(verifySigV4(toSigned(signed as HttpRequest), opts)).resolves.toBeTruthy();
  });

  it('accepts presigned URLs until they expire', async () => {
    const presigned = await signer().presign(request(), { signingDate: new Date(now), expiresIn: 300 });
    const r = toSigned(presigned as HttpRequest);
    await expect(verifySigV4(r, opts)).resolves.toBeTruthy();
    await expect(verifySigV4(r, { ...opts, now: now + 301_000 })).rejects.toThrow(/expired/);
  });

  it('refuses a wrong secret, a changed body, a changed signed header, an unknown key', async () => {
    const wrong = await signer('ecr', 'not-the-secret').sign(request(), { signingDate: new Date(now) });
    await expect(verifySigV4(toSigned(wrong as HttpRequest), opts)).rejects.toThrow(/does not match/);
    const good = await signer().sign(request(), { signingDate: new Date(now) });
    await expect(verifySigV4(toSigned(good as HttpRequest, '{"repositoryName":"other"}'), opts)).rejects.toThrow(/does not match/);
    const tampered = toSigned(good as HttpRequest);
    tampered.headers['x-amz-target'] = 'AmazonEC2ContainerRegistry_V20150921.DeleteRepository';
    await expect(verifySigV4(tampered, opts)).rejects.toThrow(/does not match/);
    await expect(verifySigV4(toSigned(good as HttpRequest), { ...opts, secretOf: async () => null })).rejects.toThrow(/invalid/);
  });

  it('refuses requests outside the 15-minute window and for other services', async () => {
    const signed = await signer().sign(request(), { signingDate: new Date(now) });
    await expect(verifySigV4(toSigned(signed as HttpRequest), { ...opts, now: now + 16 * 60_000 })).rejects.toThrow(/15 minutes/);
    await expect(verifySigV4(toSigned(signed as HttpRequest), { ...opts, now: now - 16 * 60_000 })).rejects.toThrow(/15 minutes/);
    await expect(verifySigV4(toSigned(signed as HttpRequest), { ...opts, now: now + 14 * 60_000 })).resolves.toBeTruthy();
    const sts = await signer('sts').sign(request(), { signingDate: new Date(now) });
    await expect(verifySigV4(toSigned(sts as HttpRequest), opts)).rejects.toThrow(/service 'sts'/);
  });

  it('refuses unsigned and malformed requests with UNAUTHENTICATED', async () => {
    const r: SignedRequest = { method: 'POST', path: '/', query: '', headers: { host: 'x' }, bodySha256: sha(body) };
    await expect(verifySigV4(r, opts)).rejects.toMatchObject({ code: 'UNAUTHENTICATED' });
    await expect(verifySigV4({ ...r, headers: { host: 'x', authorization: 'Basic abc' } }, opts)).rejects.toMatchObject({ code: 'UNAUTHENTICATED' });
  });
});
