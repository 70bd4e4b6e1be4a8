/**
 * OpenID Connect tokens for AssumeRoleWithWebIdentity: the issuer must be one the registry
 * is configured with; the signature is checked against that issuer's JWKS (from a URL,
 * fetched and cached by `jose`, or from a file); `exp`/`nbf` are enforced with one minute
 * of leeway; when the provider lists audiences (client ids), `aud` must name one. The
 * provider appears in trust policies as `arn:aws:iam::<account>:oidc-provider/<issuer
 * without https://>`, and the claims as `<issuer without https://>:sub`, `:aud`, `:amr`.
 */
import { readFileSync } from 'node:fs';
import { createLocalJWKSet, createRemoteJWKSet, decodeJwt, errors, jwtVerify, type JWTPayload, type JWTVerifyGetKey } from 'jose';
import { BerthError } from '../../core/errors.js';

export interface OidcProviderConfig {
  /** The `iss` value, e.g. https://token.actions.githubusercontent.com */
  issuer: string;
  jwksUrl?: string;
  jwksFile?: string;
  /** Client ids the token's `aud` must name one of (none: any audience; trust policies then decide). */
  audiences?: string[];
}

export interface VerifiedWebIdentity {
  providerArn: string;
  /** The issuer without its scheme: the prefix of the condition keys. */
  providerKey: string;
  subject: string;
  audience: string;
  claims: JWTPayload;
}

const invalid = (message: string): BerthError => new BerthError('INVALID_IDENTITY_TOKEN', message);

export class OidcVerifier {
  private readonly keySets = new Map<string, JWTVerifyGetKey>();

  constructor(
    private readonly providers: readonly OidcProviderConfig[],
    private readonly accountId: string,
    private readonly now: () => number = Date.now,
  ) {}

  private keySet(p: OidcProviderConfig): JWTVerifyGetKey {
    let set = this.keySets.get(p.issuer);
    if (!set) {
      if (p.jwksFile) set = createLocalJWKSet(JSON.parse(readFileSync(p.jwksFile, 'utf8')) as Parameters<typeof createLocalJWKSet>[0]);
      else if (p.jwksUrl) set = createRemoteJWKSet(new URL(p.jwksUrl), { timeoutDuration: 5000, cooldownDuration: 30_000 });
      else throw new BerthError('INTERNAL', `OIDC provider ${p.issuer} has neither jwksUrl nor jwksFile`);
      this.keySets.set(p.issuer, set);
    }
    return set;
  }

  async verify(token: string): Promise<VerifiedWebIdentity> {
    let iss: string | undefined;
    try {
      iss = decodeJwt(token).iss;
    } catch {
      throw invalid('The web identity token is not a well-formed JWT.');
    }
    const provider = this.providers.find((p) => p.issuer === iss);
    if (!provider) throw invalid(`No OpenIDConnect provider found in your account for ${String(iss ?? '(no issuer)').slice(0, 200)}`);
    let payload: JWTPayload;
    try {
      ({ payload } = await jwtVerify(token, this.keySet(provider), {
        issuer: provider.issuer,
        clockTolerance: 60,
        currentDate: new Date(this.now()),
        ...(provider.audiences?.length ? { audience: provider.audiences } : {}),
      }));
    } catch (err) {
      if (err instanceof errors.JWTExpired) throw new BerthError('EXPIRED_TOKEN', 'Token is expired.');
      if (err instanceof errors.JWTClaimValidationFailed && err.claim === 'aud') throw invalid('Incorrect token audience.');
      if (err instanceof errors.JWKSTimeout || (err as { code?: string }).code === 'ERR_JOSE_GENERIC') throw invalid('Could not retrieve the provider keys.');
      throw invalid('The web identity token signature or claims are not valid.');
    }
    if (typeof payload.sub !== 'string' || payload.sub === '') throw invalid('The web identity token has no subject.');
    const key = provider.issuer.replace(/^https?:\/\//, '').replace(/\/$/, '');
    const aud = Array.isArray(payload.aud) ? (payload.aud[0] ?? '') : (payload.aud ?? '');
    return { providerArn: `arn:aws:iam::${this.accountId}:oidc-provider/${key}`, providerKey: key, subject: payload.sub, audience: aud, claims: payload };
  }
}
