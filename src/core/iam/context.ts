/**
 * Case-insensitive view of a request context, completed with the keys IAM derives from the
 * caller when the caller did not supply them: `aws:PrincipalAccount`, `aws:PrincipalArn`
 * (root and users; for role sessions IAM reports the role ARN, which only the caller knows),
 * `aws:PrincipalType` (`Account`, `User`, `AssumedRole`), `aws:username` (users only),
 * `aws:userid` (the account id for root) and `aws:PrincipalServiceName` (service principals).
 */
import type { ContextScalar, ContextValue, RequestPrincipal } from './types.js';

/** Renders a context value the way string comparisons and policy variables see it. */
export function scalarToString(v: ContextScalar): string {
  if (v instanceof Date) return v.toISOString();
  return String(v);
}

function derivedKeys(p: RequestPrincipal): Record<string, string> {
  const out: Record<string, string> = {};
  if (p.type === 'service') {
    out['aws:PrincipalServiceName'] = p.arn;
    return out;
  }
  if (p.type === 'web-identity' || p.type === 'anonymous') return out;
  out['aws:PrincipalAccount'] = p.accountId;
  if (p.type !== 'assumed-role') out['aws:PrincipalArn'] = p.arn;
  out['aws:PrincipalType'] = p.type === 'root' ? 'Account' : p.type === 'user' ? 'User' : 'AssumedRole';
  if (p.type === 'user' && p.userName !== undefined) out['aws:username'] = p.userName;
  const userId = p.userId ?? (p.type === 'root' ? p.accountId : undefined);
  if (userId !== undefined) out['aws:userid'] = userId;
  return out;
}

/** The request context as the condition and variable evaluators read it. */
export class ContextView {
  private readonly map = new Map<string, ContextValue>();

  constructor(context: Readonly<Record<string, ContextValue>>, principal?: RequestPrincipal) {
    if (principal !== undefined) {
      for (const [k, v] of Object.entries(derivedKeys(principal))) this.map.set(k.toLowerCase(), v);
    }
    for (const [k, v] of Object.entries(context)) this.map.set(k.toLowerCase(), v);
  }

  /** The key's values: undefined when absent, `[]` for an empty multivalued key. */
  values(key: string): readonly ContextScalar[] | undefined {
    const v = this.map.get(key.toLowerCase());
    if (v === undefined) return undefined;
    return isList(v) ? v : [v];
  }

  /** The key's value as a policy variable: undefined when absent or multivalued. */
  variable(key: string): string | undefined {
    const v = this.map.get(key.toLowerCase());
    return v === undefined || isList(v) ? undefined : scalarToString(v);
  }
}

function isList(v: ContextValue): v is readonly string[] {
  return Array.isArray(v);
}
