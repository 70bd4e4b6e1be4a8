/**
 * Matching a resource policy's Principal / NotPrincipal against the caller.
 *
 * A caller is seen as a chain of identities, as IAM does: a user is {user ARN, its account};
 * a role session is {session ARN, its role, its account}; root is {its account}; a service is
 * {its service name}; a web-identity caller is {its OIDC provider ARN} (`Federated`). `Principal` matches when any listed entry matches any identity of the
 * chain, so the account (`"123456789012"` or `arn:aws:iam::123456789012:root`) matches every
 * principal of that account, and a role ARN matches all of its sessions (role paths are
 * ignored: session ARNs do not carry them). `NotPrincipal` applies when some identity of the
 * chain is matched by no entry, which is why IAM's documentation says a NotPrincipal that
 * exempts a user must also list the user's account.
 */
import type { PrincipalSpec, RequestPrincipal } from './types.js';

type Identity =
  | { readonly kind: 'account'; readonly account: string }
  | { readonly kind: 'arn'; readonly arn: string }
  | { readonly kind: 'role'; readonly account: string; readonly role: string }
  | { readonly kind: 'service'; readonly name: string }
  | { readonly kind: 'federated'; readonly provider: string };

/** How a Principal matched: `direct` (everyone, the exact identity, its role or service) or via its `account`. */
export type PrincipalMatch = 'direct' | 'account';

const SESSION = /^arn:[^:]+:sts::(\d{12}):assumed-role\/([^/]+)\/.+$/;
const ROOT = /^arn:[^:]+:iam::(\d{12}):root$/;
const ROLE = /^arn:[^:]+:iam::(\d{12}):role\/(?:.*\/)?([^/]+)$/;

function chain(p: RequestPrincipal): Identity[] {
  const account: Identity = { kind: 'account', account: p.accountId };
  switch (p.type) {
    case 'root': return [account];
    case 'user': return [{ kind: 'arn', arn: p.arn }, account];
    case 'service': return [{ kind: 'service', name: p.arn.toLowerCase() }];
    case 'web-identity': return [{ kind: 'federated', provider: p.arn }];
    case 'anonymous': return [];
    case 'assumed-role': {
      const m = SESSION.exec(p.arn);
      const role: Identity[] = m === null ? [] : [{ kind: 'role', account: m[1] as string, role: m[2] as string }];
      return [{ kind: 'arn', arn: p.arn }, ...role, account];
    }
  }
}

/** Which identity kinds one Principal entry can match; `*` is handled by the callers. */
function entryMatches(type: string, entry: string, id: Identity): boolean {
  if (type === 'Service') return id.kind === 'service' && id.name === entry.toLowerCase();
  if (type === 'Federated') return id.kind === 'federated' && id.provider === entry;
  if (type !== 'AWS') return false; // CanonicalUser callers do not exist in Berth
  if (entry === '*') return true;
  const root = ROOT.exec(entry);
  if (root !== null) return id.kind === 'account' && id.account === root[1];
  const role = ROLE.exec(entry);
  if (role !== null && id.kind === 'role') return id.account === role[1] && id.role === role[2];
  return id.kind === 'arn' && id.arn === entry;
}

function entries(spec: Exclude<PrincipalSpec, '*'>): [string, string][] {
  return Object.entries(spec).flatMap(([type, list]) => (list ?? []).map((e): [string, string] => [type, e]));
}

/**
 * Whether a `Principal` element matches the caller, and how. `"*"` and `{"AWS": "*"}` match
 * everyone (IAM documents them as equivalent); undefined means no match.
 */
export function matchPrincipal(spec: PrincipalSpec, p: RequestPrincipal): PrincipalMatch | undefined {
  if (spec === '*' || (spec.AWS ?? []).includes('*')) return 'direct';
  const ids = chain(p);
  let result: PrincipalMatch | undefined;
  for (const [type, entry] of entries(spec)) {
    for (const id of ids) {
      if (!entryMatches(type, entry, id)) continue;
      if (id.kind !== 'account' || p.type === 'root') return 'direct';
      result = 'account';
    }
  }
  return result;
}

/** Whether a statement with this `NotPrincipal` element applies to the caller. */
export function notPrincipalApplies(spec: PrincipalSpec, p: RequestPrincipal): boolean {
  if (spec === '*') return false;
  const list = entries(spec);
  return chain(p).some((id) => !list.some(([type, entry]) => entryMatches(type, entry, id)));
}
