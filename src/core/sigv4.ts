/**
 * AWS Signature Version 4 verification (pure: the caller supplies the secret lookup and the
 * clock). Accepts what awscli and the AWS SDKs send: the Authorization header form and the
 * presigned query form, any set of signed headers that includes `host`, an optional
 * X-Amz-Content-Sha256, and X-Amz-Security-Token for temporary credentials. Requests more
 * than 15 minutes away from the server's clock are refused; signatures are compared in
 * constant time.
 */
import { createHash, createHmac, timingSafeEqual } from 'node:crypto';
import { BerthError } from './errors.js';

export const MAX_CLOCK_SKEW_MS = 15 * 60 * 1000;
const ALGORITHM = 'AWS4-HMAC-SHA256';

export interface SignedRequest {
  method: string;
  /** Path as sent, without the query. */
  path: string;
  /** Raw query string (after `?`), or ''. */
  query: string;
  /** Header values as received (lower-case names). */
  headers: Record<string, string | string[] | undefined>;
  /** Hex SHA-256 of the body, or null when the body was not read (then X-Amz-Content-Sha256 must say). */
  bodySha256: string | null;
}

export interface SigV4Credentials {
  accessKeyId: string;
  region: string;
  service: string;
  /** The session token the request carried, if any (to be checked against the credential). */
  sessionToken: string | undefined;
}

export interface VerifyOptions {
  /** Services this endpoint accepts in the credential scope (`ecr`, `sts`, `iam`). */
  services: readonly string[];
  /** The secret of an access key, or null when the key is unknown. */
  secretOf: (accessKeyId: string) => Promise<string | null>;
  now: number;
}

const denied = (message: string): BerthError => new BerthError('UNAUTHENTICATED', message);

function header(req: SignedRequest, name: string): string | undefined {
  const v = req.headers[name];
  return Array.isArray(v) ? v.join(',') : v;
}

interface Parsed {
  accessKeyId: string;
  date: string;
  region: string;
  service: string;
  signedHeaders: string[];
  signature: string;
  amzDate: string;
  presigned: boolean;
  expiresSeconds?: number;
}

function parse(req: SignedRequest): Parsed {
  const auth = header(req, 'authorization');
  const q = new URLSearchParams(req.query);
  let credential: string;
  let signedHeaders: string;
  let signature: string;
  let amzDate: string | undefined;
  let presigned = false;
  let expiresSeconds: number | undefined;
  if (auth !== undefined) {
    const m = /^AWS4-HMAC-SHA256\s+Credential=([^,\s]+),\s*SignedHeaders=([^,\s]+),\s*Signature=([0-9a-f]{64})$/.exec(auth.trim());
    if (!m) throw denied('the Authorization header is not an AWS4-HMAC-SHA256 signature');
    [credential, signedHeaders, signature] = [m[1]!, m[2]!, m[3]!];
    amzDate = header(req, 'x-amz-date');
  } else if (q.get('X-Amz-Algorithm') === ALGORITHM) {
    presigned = true;
    credential = q.get('X-Amz-Credential') ?? '';
    signedHeaders = q.get('X-Amz-SignedHeaders') ?? '';
    signature = q.get('X-Amz-Signature') ?? '';
    amzDate = q.get('X-Amz-Date') ?? undefined;
    expiresSeconds = Number(q.get('X-Amz-Expires') ?? '');
    if (!/^[0-9a-f]{64}$/.test(signature)) throw denied('X-Amz-Signature is missing or malformed');
    if (!Number.isInteger(expiresSeconds) || expiresSeconds < 1 || expiresSeconds > 604800) throw denied('X-Amz-Expires must be 1..604800 seconds');
  } else {
    throw denied('the request is not signed (AWS Signature Version 4 is required)');
  }
  const parts = credential.split('/');
  if (parts.length !== 5 || parts[4] !== 'aws4_request') throw denied('the credential scope is malformed');
  if (!amzDate || !/^\d{8}T\d{6}Z$/.test(amzDate)) throw denied('X-Amz-Date is missing or malformed');
  const names = signedHeaders.split(';');
  if (!names.includes('host')) throw denied('the signature must cover the host header');
  return {
    accessKeyId: parts[0]!,
    date: parts[1]!,
    region: parts[2]!,
    service: parts[3]!,
    signedHeaders: names,
    signature,
    amzDate,
    presigned,
    ...(expiresSeconds !== undefined ? { expiresSeconds } : {}),
  };
}

function parseAmzDate(d: string): number {
  return Date.UTC(+d.slice(0, 4), +d.slice(4, 6) - 1, +d.slice(6, 8), +d.slice(9, 11), +d.slice(11, 13), +d.slice(13, 15));
}

/** RFC 3986 encoding as SigV4 specifies it. */
function uriEncode(s: string, keepSlash: boolean): string {
  const encoded = encodeURIComponent(s).replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);
  return keepSlash ? encoded.replace(/%2F/g, '/') : encoded;
}

function canonicalPath(path: string): string {
  // Each segment as the SDKs canonicalize it: decoded from the wire, then encoded once.
  const segments = path.split('/').map((seg) => {
    let decoded: string;
    try {
      decoded = decodeURIComponent(seg);
    } catch {
      decoded = seg;
    }
    return uriEncode(decoded, false);
  });
  const joined = segments.join('/');
  return joined === '' ? '/' : joined;
}

function canonicalQuery(query: string, presigned: boolean): string {
  const pairs: [string, string][] = [];
  for (const part of query.split('&')) {
    if (part === '') continue;
    const i = part.indexOf('=');
    const rawK = i < 0 ? part : part.slice(0, i);
    const rawV = i < 0 ? '' : part.slice(i + 1);
    const k = decodeURIComponent(rawK.replace(/\+/g, ' '));
    if (presigned && k === 'X-Amz-Signature') continue;
    pairs.push([uriEncode(k, false), uriEncode(decodeURIComponent(rawV.replace(/\+/g, ' ')), false)]);
  }
  pairs.sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : a[1] < b[1] ? -1 : a[1] > b[1] ? 1 : 0));
  return pairs.map(([k, v]) => `${k}=${v}`).join('&');
}

const hmac = (key: Buffer | string, data: string): Buffer => createHmac('sha256', key).update(data, 'utf8').digest();
const sha256hex = (s: string): string => createHash('sha256').update(s, 'utf8').digest('hex');

/** Verifies the request's signature; returns who signed it, or throws UNAUTHENTICATED. */
export async function verifySigV4(req: SignedRequest, o: VerifyOptions): Promise<SigV4Credentials> {
  const p = parse(req);
  if (!o.services.includes(p.service)) throw denied(`the credential scope names service '${p.service}'; this endpoint is ${o.services.join(', ')}`);
  if (p.amzDate.slice(0, 8) !== p.date) throw denied('the credential scope date does not match X-Amz-Date');
  const signedAt = parseAmzDate(p.amzDate);
  if (p.presigned) {
    if (o.now > signedAt + p.expiresSeconds! * 1000) throw denied('the presigned request has expired');
    if (signedAt - o.now > MAX_CLOCK_SKEW_MS) throw denied('the request is signed in the future');
  } else if (Math.abs(o.now - signedAt) > MAX_CLOCK_SKEW_MS) {
    throw denied('the request time is more than 15 minutes away from the server time');
  }
  const secret = await o.secretOf(p.accessKeyId);
  if (secret === null) throw denied('the security token included in the request is invalid');
  const canonicalHeaders = p.signedHeaders
    .map((name) => {
      const v = header(req, name);
      if (v === undefined) throw denied(`signed header '${name}' is missing`);
      return `${name}:${v.trim().replace(/\s+/g, ' ')}\n`;
    })
    .join('');
  const declared = header(req, 'x-amz-content-sha256');
  if (!p.presigned && req.bodySha256 !== null && declared !== undefined && /^[0-9a-f]{64}$/.test(declared) && declared !== req.bodySha256) {
    throw denied('X-Amz-Content-Sha256 does not match the body');
  }
  // Presigned URLs: S3-style clients sign UNSIGNED-PAYLOAD, the others the hash of the (empty) body.
  const payloads = p.presigned
    ? [...(req.bodySha256 !== null ? [req.bodySha256] : []), 'UNSIGNED-PAYLOAD']
    : [declared ?? req.bodySha256 ?? 'UNSIGNED-PAYLOAD'];
  const scope = `${p.date}/${p.region}/${p.service}/aws4_request`;
  const key = hmac(hmac(hmac(hmac(`AWS4${secret}`, p.date), p.region), p.service), 'aws4_request');
  const given = Buffer.from(p.signature, 'hex');
  const matches = payloads.some((payload) => {
    const canonicalRequest = [req.method, canonicalPath(req.path), canonicalQuery(req.query, p.presigned), canonicalHeaders, p.signedHeaders.join(';'), payload].join('\n');
    const stringToSign = `${ALGORITHM}\n${p.amzDate}\n${scope}\n${sha256hex(canonicalRequest)}`;
    const expected = createHmac('sha256', key).update(stringToSign, 'utf8').digest();
    return given.length === expected.length && timingSafeEqual(given, expected);
  });
  if (!matches) throw denied('the request signature we calculated does not match the signature you provided');
  const token = header(req, 'x-amz-security-token') ?? (p.presigned ? (new URLSearchParams(req.query).get('X-Amz-Security-Token') ?? undefined) : undefined);
  return { accessKeyId: p.accessKeyId, region: p.region, service: p.service, sessionToken: token };
}
