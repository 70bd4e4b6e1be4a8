/**
 * Turns credentials into principals: SigV4 access keys (the root key, users' keys, temporary
 * ASIA keys), login tokens (GetAuthorizationToken's password, the bearer token of the /v2/
 * token flow) and session tokens. Every path ends in `resolve`, which checks the credential's
 * subject still exists (user with the same id and an Active key; role with the same id) and
 * has not expired, so a deleted user, key or role stops working at once on every node.
 *
 * Temporary credentials are stateless: the secret of an ASIA key is an HMAC of its id under a
 * key derived from the registry's token key, and the session token is a signed token naming
 * that key id and the credential it rests on. Any node can check them without a lookup.
 */
import { createHmac, randomBytes } from 'node:crypto';
import { BerthError } from '../../core/errors.js';
import type { IdentityStore } from '../../metadata/identity-types.js';
import type { CredentialStore } from '../access/credentials.js';
import type { SecretBox } from '../access/secret-box.js';
import type { TokenService } from '../tokens.js';
import { sessionArn, userArn, type CredentialRef, type Principal } from './principal.js';

const BASE32 = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567';
/** A key's last use is written at most this often (one write per key per minute, not per request). */
const KEY_USE_WRITE_INTERVAL_MS = 60_000;

export function generateKeyId(prefix: 'AKIA' | 'ASIA' | 'AIDA' | 'AROA' | 'AGPA'): string {
  return prefix + Array.from(randomBytes(16), (b) => BASE32[b % 32]).join('');
}

export interface TemporaryCredentials {
  accessKeyId: string;
  secretAccessKey: string;
  sessionToken: string;
  expiration: Date;
}

const unauthenticated = (): BerthError => new BerthError('UNAUTHENTICATED', 'the security token included in the request is invalid');
const expired = (): BerthError => new BerthError('EXPIRED_TOKEN', 'the security token included in the request is expired');

export class Authenticator {
  private sessionKey: Buffer | null = null;
  private readonly verified = new Map<string, { c?: CredentialRef; exp: number }>();

  constructor(
    private readonly identity: IdentityStore,
    private readonly root: CredentialStore,
    private readonly box: SecretBox,
    private readonly tokens: TokenService,
    private readonly accountId: string,
    private readonly now: () => number,
  ) {}

  private async sessionSecret(accessKeyId: string): Promise<string> {
    this.sessionKey ??= await this.tokens.derive('session-secret');
    return createHmac('sha256', this.sessionKey).update(accessKeyId).digest('base64').replace(/\+/g, 'A').replace(/\//g, 'B').slice(0, 40);
  }

  /** The secret SigV4 verification needs, or null when the key is unknown or inactive. */
  async secretOf(accessKeyId: string): Promise<string | null> {
    if (accessKeyId.startsWith('ASIA')) return this.sessionSecret(accessKeyId);
    const rootSecret = await this.root.secretOf(accessKeyId);
    if (rootSecret !== null) return rootSecret;
    const key = await this.identity.getAccessKey(accessKeyId);
    if (!key || key.status !== 'Active') return null;
    try {
      return this.box.open(key.sealedSecret);
    } catch {
      return null; // sealed under another master key: as good as unknown
    }
  }

  /** The principal behind a verified SigV4 signature. */
  async principalOfKey(accessKeyId: string, sessionToken: string | undefined, use: { service: string; region: string }): Promise<Principal> {
    if (accessKeyId.startsWith('ASIA')) {
      if (sessionToken === undefined) throw unauthenticated();
      const payload = await this.tokens.verify<{ k: string; c: CredentialRef }>('session', sessionToken).catch((err: unknown) => {
        throw isExpiry(err) ? expired() : unauthenticated();
      });
      if (payload.k !== accessKeyId) throw unauthenticated();
      return { ...(await this.resolve(payload.c)), accessKeyId };
    }
    const root = this.root.rootPrincipal(accessKeyId);
    if (root) return root;
    const key = await this.identity.getAccessKey(accessKeyId);
    if (!key || key.status !== 'Active') throw unauthenticated();
    const user = await this.identity.getUser(key.userName);
    if (!user) throw unauthenticated();
    const now = this.now();
    if (key.lastUsedAt === null || now - key.lastUsedAt > KEY_USE_WRITE_INTERVAL_MS) await this.identity.recordKeyUse(key.id, now, use.service, use.region);
    return { ...(await this.resolve({ t: 'u', n: user.name, i: user.id, a: key.id })), accessKeyId };
  }

  /** Checks a credential reference again and returns its principal. */
  async resolve(ref: CredentialRef): Promise<Principal> {
    if ('x' in ref && ref.x !== undefined && ref.x <= this.now()) throw expired();
    switch (ref.t) {
      case 'r': {
        const p = this.root.rootPrincipal(ref.a);
        if (!p) throw unauthenticated();
        return { ...p, ref };
      }
      case 'u': {
        const [user, key] = await Promise.all([this.identity.getUser(ref.n), this.identity.getAccessKey(ref.a)]);
        if (!user || user.id !== ref.i || !key || key.userName !== ref.n || key.status !== 'Active') throw unauthenticated();
        return { kind: 'user', arn: userArn(this.accountId, user.path, user.name), accountId: this.accountId, userId: user.id, userName: user.name, accessKeyId: ref.a, ref };
      }
      case 's': {
        const role = await this.identity.getRole(ref.n);
        if (!role || role.id !== ref.i) throw unauthenticated();
        return {
          kind: 'assumed-role',
          arn: sessionArn(this.accountId, role.name, ref.s),
          accountId: this.accountId,
          userId: `${role.id}:${ref.s}`,
          roleName: role.name,
          sessionName: ref.s,
          ref,
        };
      }
    }
  }

  /** Mints temporary credentials resting on `ref` (which carries their expiry in `x`). */
  async mintSession(ref: CredentialRef & { x: number }): Promise<TemporaryCredentials> {
    const accessKeyId = generateKeyId('ASIA');
    const ttl = ref.x - this.now();
    const sessionToken = await this.tokens.sign('session', { k: accessKeyId, c: ref }, ttl);
    return { accessKeyId, secretAccessKey: await this.sessionSecret(accessKeyId), sessionToken, expiration: new Date(ref.x) };
  }

  /**
   * A registry password (GetAuthorizationToken) or bearer token for `principal`, valid for
   * `ttlMs` but never beyond the credential it rests on. It contains no ':' (docker login
   * splits on it).
   */
  async loginToken(principal: Principal, ttlMs: number, purpose: 'login' | 'bearer' = 'login'): Promise<{ token: string; expiresAt: number }> {
    if (!principal.ref) throw new BerthError('ACCESS_DENIED', 'this principal cannot hold registry credentials');
    const limit = 'x' in principal.ref && principal.ref.x !== undefined ? principal.ref.x - this.now() : ttlMs;
    const ttl = Math.min(ttlMs, limit);
    return { token: await this.tokens.sign(purpose, { c: principal.ref }, ttl), expiresAt: this.now() + ttl };
  }

  /** A bearer token for a caller who presented no credentials (the token flow's anonymous pull). */
  async anonymousBearer(ttlMs: number): Promise<{ token: string; expiresAt: number }> {
    return { token: `anon.${await this.tokens.sign('bearer', { anon: true }, ttlMs)}`, expiresAt: this.now() + ttlMs };
  }

  async isAnonymousBearer(token: string): Promise<boolean> {
    return this.tokens
      .verify<{ anon?: boolean }>('bearer', token)
      .then((p) => p.anon === true)
      .catch(() => false);
  }

  /** The principal of a login or bearer token; UNAUTHENTICATED for anything not valid now. */
  async principalOfLoginToken(token: string, purpose: 'login' | 'bearer' = 'login'): Promise<Principal> {
    // A verified token's payload is remembered (the signature cannot change); its expiry and
    // the credential behind it are still checked on every use.
    const key = `${purpose}\n${token}`;
    let payload = this.verified.get(key);
    if (payload === undefined) {
      try {
        payload = await this.tokens.verify<{ c?: CredentialRef }>(purpose, token);
      } catch {
        throw unauthenticated();
      }
      if (this.verified.size >= 10_000) this.verified.clear();
      this.verified.set(key, payload);
    }
    if (payload.exp < this.now()) {
      this.verified.delete(key);
      throw unauthenticated();
    }
    if (!payload.c || typeof payload.c !== 'object') throw unauthenticated();
    return this.resolve(payload.c).catch(() => {
      throw unauthenticated();
    });
  }
}

function isExpiry(err: unknown): boolean {
  return err instanceof BerthError && (err.detail as { expired?: boolean } | undefined)?.expired === true;
}
