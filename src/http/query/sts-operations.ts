/** STS query-API handlers. */
import type { StsService } from '../../services/identity/sts-service.js';
import type { TemporaryCredentials } from '../../services/identity/authenticator.js';
import type { Principal } from '../../services/identity/principal.js';

export interface StsCall {
  sts: StsService;
  /** Null for AssumeRoleWithWebIdentity, which is not signed. */
  principal: Principal | null;
  sourceIp: string;
}

type Input = Record<string, unknown>;

const credentials = (c: TemporaryCredentials): Record<string, unknown> => ({
  AccessKeyId: c.accessKeyId,
  SecretAccessKey: c.secretAccessKey,
  SessionToken: c.sessionToken,
  Expiration: c.expiration,
});

export const STS_HANDLERS: Record<string, (call: StsCall, input: Input) => Promise<Record<string, unknown>>> = {
  async GetCallerIdentity(call) {
    const id = call.sts.callerIdentity(call.principal!);
    return { UserId: id.userId, Account: id.account, Arn: id.arn };
  },
  async GetSessionToken(call, input) {
    return { Credentials: credentials(await call.sts.sessionToken(call.principal!, input.DurationSeconds as number | undefined)) };
  },
  async AssumeRole(call, input) {
    const r = await call.sts.assumeRole(
      call.principal!,
      {
        roleArn: input.RoleArn as string,
        sessionName: input.RoleSessionName as string,
        ...(input.DurationSeconds !== undefined ? { durationSeconds: input.DurationSeconds as number } : {}),
        ...(input.ExternalId !== undefined ? { externalId: input.ExternalId as string } : {}),
        ...(input.Policy !== undefined ? { policy: input.Policy as string } : {}),
        ...(input.Tags !== undefined ? { tags: input.Tags as unknown[] } : {}),
      },
      call.sourceIp,
    );
    return { Credentials: credentials(r.credentials), AssumedRoleUser: { AssumedRoleId: r.assumedRoleUser.assumedRoleId, Arn: r.assumedRoleUser.arn } };
  },
  async AssumeRoleWithWebIdentity(call, input) {
    const r = await call.sts.assumeRoleWithWebIdentity({
      roleArn: input.RoleArn as string,
      sessionName: input.RoleSessionName as string,
      webIdentityToken: input.WebIdentityToken as string,
      ...(input.DurationSeconds !== undefined ? { durationSeconds: input.DurationSeconds as number } : {}),
      ...(input.Policy !== undefined ? { policy: input.Policy as string } : {}),
    });
    return {
      Credentials: credentials(r.credentials),
      AssumedRoleUser: { AssumedRoleId: r.assumedRoleUser.assumedRoleId, Arn: r.assumedRoleUser.arn },
      SubjectFromWebIdentityToken: r.subject,
      Audience: r.audience,
      Provider: r.provider,
    };
  },
};
