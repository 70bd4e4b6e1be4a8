/**
 * STS: temporary credentials. Durations are 15 minutes to 12 hours (AssumeRole and
 * AssumeRoleWithWebIdentity: up to the role's MaxSessionDuration, one hour when a role
 * session assumes another role, as IAM limits role chaining). AssumeRole is allowed as IAM
 * allows it: the role's trust policy is the resource policy of `sts:AssumeRole` on the role
 * (naming the caller grants; naming the account delegates to the caller's identity
 * policies), and an explicit deny anywhere refuses. Session policies and session tags are
 * not supported and are refused rather than ignored.
 */
import { BerthError } from '../../core/errors.js';
import { evaluate, parsePolicy } from '../../core/iam/index.js';
import type { IamRoleRow, IdentityStore } from '../../metadata/identity-types.js';
import type { AccessService } from '../access/access-service.js';
import type { Authenticator, TemporaryCredentials } from './authenticator.js';
import type { OidcVerifier } from './oidc.js';
import { roleArn, sessionArn, type Principal } from './principal.js';

const MIN_SECONDS = 900;
const MAX_SECONDS = 43_200;

export interface AssumedRole {
  credentials: TemporaryCredentials;
  assumedRoleUser: { assumedRoleId: string; arn: string };
}

export class StsService {
  constructor(
    private readonly identity: IdentityStore,
    private readonly auth: Authenticator,
    private readonly access: AccessService,
    private readonly oidc: OidcVerifier,
    private readonly accountId: string,
    private readonly now: () => number,
  ) {}

  callerIdentity(p: Principal): { userId: string; account: string; arn: string } {
    return { userId: p.userId ?? p.accountId, account: p.accountId, arn: p.arn };
  }

  async sessionToken(p: Principal, durationSeconds = MAX_SECONDS): Promise<TemporaryCredentials> {
    if (p.kind === 'assumed-role' || !p.ref) throw new BerthError('ACCESS_DENIED', 'Cannot call GetSessionToken with session credentials');
    if ('x' in p.ref && p.ref.x !== undefined) throw new BerthError('ACCESS_DENIED', 'Cannot call GetSessionToken with session credentials');
    checkDuration(durationSeconds, MAX_SECONDS);
    const x = this.now() + durationSeconds * 1000;
    return this.auth.mintSession({ ...p.ref, x });
  }

  async assumeRole(
    p: Principal,
    o: { roleArn: string; sessionName: string; durationSeconds?: number; externalId?: string; policy?: string; tags?: unknown[] },
    sourceIp: string,
  ): Promise<AssumedRole> {
    if (o.policy !== undefined || (o.tags?.length ?? 0) > 0) throw new BerthError('INVALID_PARAMETER', 'Berth does not support session policies or session tags');
    const role = await this.roleOf(o.roleArn);
    const target = roleArn(this.accountId, role.path, role.name);
    const denied = new BerthError('ACCESS_DENIED', `User: ${p.arn} is not authorized to perform: sts:AssumeRole on resource: ${target}`);
    if (p.kind === 'anonymous') throw denied;
    const allowed = await this.access.allows(p, 'sts:AssumeRole', {
      resource: target,
      resourcePolicy: role.trustPolicy,
      sourceIp,
      context: { 'sts:RoleSessionName': o.sessionName, ...(o.externalId !== undefined ? { 'sts:ExternalId': o.externalId } : {}) },
    });
    if (!allowed) throw denied;
    const max = p.kind === 'assumed-role' ? 3600 : role.maxSessionSeconds;
    return this.mint(role, o.sessionName, o.durationSeconds ?? 3600, max);
  }

  async assumeRoleWithWebIdentity(
    o: { roleArn: string; sessionName: string; webIdentityToken: string; durationSeconds?: number; policy?: string },
  ): Promise<AssumedRole & { subject: string; audience: string; provider: string }> {
    if (o.policy !== undefined) throw new BerthError('INVALID_PARAMETER', 'Berth does not support session policies');
    const who = await this.oidc.verify(o.webIdentityToken);
    const role = await this.roleOf(o.roleArn).catch(() => {
      throw new BerthError('ACCESS_DENIED', 'Not authorized to perform sts:AssumeRoleWithWebIdentity');
    });
    const context: Record<string, string | readonly string[]> = {
      [`${who.providerKey}:sub`]: who.subject,
      [`${who.providerKey}:aud`]: Array.isArray(who.claims.aud) ? who.claims.aud : who.audience,
      ...(typeof who.claims.amr === 'string' || Array.isArray(who.claims.amr) ? { [`${who.providerKey}:amr`]: who.claims.amr as string | string[] } : {}),
      'aws:FederatedProvider': who.providerArn,
      'sts:RoleSessionName': o.sessionName,
    };
    const decision = evaluate(
      {
        principal: { arn: who.providerArn, accountId: this.accountId, type: 'web-identity' },
        action: 'sts:AssumeRoleWithWebIdentity',
        resource: roleArn(this.accountId, role.path, role.name),
        context: { ...context, 'aws:CurrentTime': new Date(this.now()) },
      },
      { identity: [], resource: parsePolicy(role.trustPolicy, 'resource') },
    );
    if (decision.decision !== 'Allow') throw new BerthError('ACCESS_DENIED', 'Not authorized to perform sts:AssumeRoleWithWebIdentity');
    const assumed = await this.mint(role, o.sessionName, o.durationSeconds ?? 3600, role.maxSessionSeconds);
    return { ...assumed, subject: who.subject, audience: who.audience, provider: who.providerArn };
  }

  private async mint(role: IamRoleRow, sessionName: string, durationSeconds: number, maxSeconds: number): Promise<AssumedRole> {
    checkDuration(durationSeconds, maxSeconds);
    const x = this.now() + durationSeconds * 1000;
    const credentials = await this.auth.mintSession({ t: 's', n: role.name, i: role.id, s: sessionName, x });
    return { credentials, assumedRoleUser: { assumedRoleId: `${role.id}:${sessionName}`, arn: sessionArn(this.accountId, role.name, sessionName) } };
  }

  private async roleOf(arn: string): Promise<IamRoleRow> {
    const m = /^arn:aws:iam::(\d{12}):role\/(?:.*\/)?([\w+=,.@-]+)$/.exec(arn);
    if (!m || m[1] !== this.accountId) throw new BerthError('ACCESS_DENIED', `Not authorized to assume ${arn.slice(0, 300)}`);
    const role = await this.identity.getRole(m[2]!);
    if (!role) throw new BerthError('ACCESS_DENIED', `Not authorized to assume ${arn.slice(0, 300)}`);
    return role;
  }
}

function checkDuration(seconds: number, max: number): void {
  if (seconds < MIN_SECONDS || seconds > Math.min(max, MAX_SECONDS)) {
    throw new BerthError('INVALID_PARAMETER', `The requested DurationSeconds exceeds the limits: it must be between ${MIN_SECONDS} and ${Math.min(max, MAX_SECONDS)} seconds`);
  }
}
