/**
 * Signed, self-contained tokens: any node can verify them with the registry's key (kept
 * in the metadata database, so every node has the same one) without a lookup. Used for
 * pagination tokens (opaque, tamper-proof), registry passwords (GetAuthorizationToken)
 * and short-lived download URLs.
 *
 * Format: base64url(JSON payload) "." base64url(HMAC-SHA256(purpose "\n" payload)). The
 * alphabet has no ':' (a docker password must not contain one).
 */
import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import { BerthError } from '../core/errors.js';
import type { RegistrySettingsStore } from '../metadata/types.js';

export type TokenPurpose = 'page' | 'login' | 'download' | 'session' | 'bearer' | 'upload';

export class TokenService {
  private key: Buffer | null = null;

  constructor(
    private readonly settings: RegistrySettingsStore,
    private readonly now: () => number,
  ) {}

  private async secret(): Promise<Buffer> {
    if (!this.key) {
      const stored = await this.settings.putIfAbsent('token-key', randomBytes(32).toString('hex'));
      this.key = Buffer.from(stored, 'hex');
    }
    return this.key;
  }

  /** A key for another use, derived from the registry's token key (`label` keeps uses apart). */
  async derive(label: string): Promise<Buffer> {
    return createHmac('sha256', await this.secret()).update(`derive\n${label}`).digest();
  }

  /** Signs `payload` for `purpose`, valid for `ttlMs` (expiry stored as `exp`, epoch ms). */
  async sign(purpose: TokenPurpose, payload: Record<string, unknown>, ttlMs: number): Promise<string> {
    const body = Buffer.from(JSON.stringify({ ...payload, exp: this.now() + ttlMs })).toString('base64url');
    const mac = createHmac('sha256', await this.secret()).update(`${purpose}\n${body}`).digest('base64url');
    return `${body}.${mac}`;
  }

  /** Returns the payload, or throws INVALID_TOKEN when the token was altered, is for another purpose, or expired. */
  async verify<T extends Record<string, unknown>>(purpose: TokenPurpose, token: string): Promise<T & { exp: number }> {
    // Made only when needed: an Error's stack capture costs more than the HMAC on the pull path.
    const bad = (): BerthError => new BerthError('INVALID_TOKEN', `invalid or expired ${purpose === 'page' ? 'nextToken' : 'token'}`);
    const dot = token.indexOf('.');
    if (dot <= 0 || token.length > 8192) throw bad();
    const body = token.slice(0, dot);
    const given = Buffer.from(token.slice(dot + 1), 'base64url');
    const expected = createHmac('sha256', await this.secret()).update(`${purpose}\n${body}`).digest();
    if (given.length !== expected.length || !timingSafeEqual(given, expected)) throw bad();
    let payload: T & { exp: number };
    try {
      payload = JSON.parse(Buffer.from(body, 'base64url').toString('utf8')) as T & { exp: number };
    } catch {
      throw bad();
    }
    if (typeof payload.exp !== 'number') throw bad();
    if (payload.exp < this.now()) throw new BerthError('INVALID_TOKEN', bad().message, { detail: { expired: true } });
    return payload;
  }
}
