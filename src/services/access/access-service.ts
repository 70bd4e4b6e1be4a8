import { repositoryArn } from '../../core/arn.js';

/**
 * The one authorization decision every surface calls (OCI /v2/, ECR, console), so no
 * rule lives in HTTP middleware. Until access control lands (issue 3) every principal is
 * anonymous and every action is allowed; the call sites are already in place.
 */
export interface Principal {
  kind: 'anonymous' | 'root' | 'user' | 'assumed-role';
  arn: string;
  accountId: string;
}

export class AccessService {
  constructor(
    readonly accountId: string,
    readonly region: string,
  ) {}

  /** The ARN an action on `repository` is authorized against (the registry itself when omitted). */
  resourceArn(repository?: string): string {
    return repository === undefined ? `arn:aws:ecr:${this.region}:${this.accountId}:*` : repositoryArn(this.region, this.accountId, repository);
  }

  anonymous(): Principal {
    return { kind: 'anonymous', arn: `arn:aws:iam::${this.accountId}:root`, accountId: this.accountId };
  }

  /** Resolves when `principal` may do `action` on `resourceArn`; throws ACCESS_DENIED otherwise. */
  async authorize(_principal: Principal, _action: string, _resourceArn: string): Promise<void> {}
}
