/**
 * Who is asking. A principal is always resolved from a credential that is checked again on
 * every use (a `CredentialRef` inside a login token or a session token names the user and key,
 * or the role and its id), so deleting a user, a key or a role ends its access at once, on
 * every node, without a revocation list.
 */
import type { RequestPrincipal } from '../../core/iam/index.js';

export interface Principal {
  kind: 'anonymous' | 'root' | 'user' | 'assumed-role';
  arn: string;
  accountId: string;
  /** IAM's user id: AIDA... for users, `AROA...:session` for role sessions, the account for root. */
  userId?: string;
  userName?: string;
  roleName?: string;
  sessionName?: string;
  /** The access key the request was signed with (long-term or temporary), for the audit log. */
  accessKeyId?: string;
  /** What the principal's credentials rest on; a login token carries it. */
  ref?: CredentialRef;
}

/**
 * A compact, signable description of a credential:
 * - `r`: the root key `a`, optionally only until `x` (GetSessionToken);
 * - `u`: user `n` (id `i`) through its access key `a`, optionally only until `x` (GetSessionToken);
 * - `s`: a session of role `n` (id `i`) named `s`, until `x`.
 */
export type CredentialRef =
  | { t: 'r'; a: string; x?: number }
  | { t: 'u'; n: string; i: string; a: string; x?: number }
  | { t: 's'; n: string; i: string; s: string; x: number };

export function userArn(accountId: string, path: string, name: string): string {
  return `arn:aws:iam::${accountId}:user${path}${name}`;
}

export function roleArn(accountId: string, path: string, name: string): string {
  return `arn:aws:iam::${accountId}:role${path}${name}`;
}

export function groupArn(accountId: string, path: string, name: string): string {
  return `arn:aws:iam::${accountId}:group${path}${name}`;
}

export function sessionArn(accountId: string, role: string, session: string): string {
  return `arn:aws:sts::${accountId}:assumed-role/${role}/${session}`;
}

export function anonymousPrincipal(accountId: string): Principal {
  return { kind: 'anonymous', arn: 'anonymous', accountId };
}

/** The policy evaluator's view of a principal. */
export function requestPrincipal(p: Principal): RequestPrincipal {
  return {
    arn: p.arn,
    accountId: p.accountId,
    type: p.kind,
    ...(p.userName !== undefined ? { userName: p.userName } : {}),
    ...(p.userId !== undefined ? { userId: p.userId } : {}),
  };
}
