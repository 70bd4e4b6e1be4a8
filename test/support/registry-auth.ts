/**
 * /v2/ credentials for end-to-end tests. Every Berth server a test starts with the test root
 * key gets a registry password from GetAuthorizationToken (through the real ECR API, as
 * `aws ecr get-login-password` would), and:
 * - the containers tools (skopeo, buildah, podman) find it in one auth file per test process
 *   (REGISTRY_AUTH_FILE), as `skopeo login` would have written it;
 * - `fetch` calls to that server's `127.0.0.1:PORT/v2/...` carry `Authorization: Basic AWS:<password>`
 *   unless the call sets its own Authorization header.
 * A test that wants to be anonymous addresses the server as `localhost:PORT` (no login is
 * known for that host) or sends its own header.
 */
import { writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ECRClient, GetAuthorizationTokenCommand } from '@aws-sdk/client-ecr';

export const REGISTRY_AUTH_FILE = join(tmpdir(), `berth-e2e-auth-${process.pid}.json`);
const logins = new Map<string, string>();

function writeAuthFile(): void {
  const auths: Record<string, { auth: string }> = {};
  for (const [host, header] of logins) auths[host] = { auth: header.slice('Basic '.length) };
  writeFileSync(REGISTRY_AUTH_FILE, JSON.stringify({ auths }), { mode: 0o600 });
}
writeAuthFile();

/** The registry password (what follows `AWS:`) for `url`, from GetAuthorizationToken signed with `credentials`. */
export async function registryPassword(url: string, credentials: { accessKeyId: string; secretAccessKey: string; sessionToken?: string }): Promise<string> {
  const client = new ECRClient({ endpoint: url, region: 'us-east-1', credentials: { ...credentials } });
  try {
    const out = await client.send(new GetAuthorizationTokenCommand({}));
    const token = out.authorizationData?.[0]?.authorizationToken;
    if (!token) throw new Error('GetAuthorizationToken returned no token');
    return Buffer.from(token, 'base64').toString('utf8').replace(/^AWS:/, '');
  } finally {
    client.destroy();
  }
}

/** Remembers the login for `host` (`127.0.0.1:PORT`) for the tools and `fetch`. */
export function rememberLogin(host: string, password: string): void {
  logins.set(host, `Basic ${Buffer.from(`AWS:${password}`).toString('base64')}`);
  writeAuthFile();
}

export function forgetLogin(host: string): void {
  if (logins.delete(host)) writeAuthFile();
}

/** `Basic ...` for a host with a remembered login. */
export function loginHeader(host: string): string | undefined {
  return logins.get(host);
}

const originalFetch = globalThis.fetch;
if (!(originalFetch as { berthAuth?: boolean }).berthAuth) {
  const withAuth = (input: string | URL | Request, init?: RequestInit): Promise<Response> => {
    if (typeof input === 'string' || input instanceof URL) {
      const url = new URL(String(input));
      const header = logins.get(url.host);
      if (header !== undefined && url.pathname.startsWith('/v2')) {
        const headers = new Headers(init?.headers);
        if (!headers.has('authorization')) {
          headers.set('authorization', header);
          return originalFetch(input, { ...init, headers });
        }
      }
    }
    return originalFetch(input, init);
  };
  (withAuth as { berthAuth?: boolean }).berthAuth = true;
  globalThis.fetch = withAuth as typeof fetch;
}
