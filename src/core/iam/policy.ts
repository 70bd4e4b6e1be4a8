/**
 * The IAM JSON policy grammar: `parsePolicy` validates a policy document and returns it as a
 * {@link Policy}. Element names are case-sensitive as in IAM; a key that differs only in case
 * from a known one is reported with a hint. Error messages start with the JSON path of the
 * problem (`Statement[1].Effect: must be "Allow" or "Deny"`); a single Statement object is
 * addressed as `Statement[0]`.
 */
import { BerthError } from '../errors.js';
import { fail, isObject, parseActions, parseCondition, parsePrincipal, parseResources } from './elements.js';
import type { Policy, PolicyKind, PolicyVersion, Statement } from './types.js';

export type { Policy, PolicyKind, PolicyVersion, Statement } from './types.js';

/** ECR's limit on repository and registry policy text (`RepositoryPolicyText`, `RegistryPolicyText`). */
export const ECR_POLICY_MAX_LENGTH = 10_240;

/** Options of {@link parsePolicy}. */
export interface ParsePolicyOptions {
  /** Maximum length in Unicode code points (as Smithy counts); default {@link ECR_POLICY_MAX_LENGTH}. */
  readonly maxLength?: number;
}

const TOP_LEVEL = ['Version', 'Id', 'Statement'] as const;
const STATEMENT_KEYS = [
  'Sid', 'Effect', 'Principal', 'NotPrincipal', 'Action', 'NotAction', 'Resource', 'NotResource', 'Condition',
] as const;
const VERSIONS: readonly PolicyVersion[] = ['2012-10-17', '2008-10-17'];

function checkKeys(obj: Record<string, unknown>, known: readonly string[], prefix: string, what: string): void {
  for (const key of Object.keys(obj)) {
    if (known.includes(key)) continue;
    const near = known.find((k) => k.toLowerCase() === key.toLowerCase());
    fail(`${prefix}${key}`, `unknown ${what} element${near === undefined ? '' : ` (did you mean "${near}"?)`}`);
  }
}

function exactlyOne(
  st: Record<string, unknown>,
  path: string,
  a: string,
  b: string,
  required: boolean,
): { value: unknown; not: boolean } | undefined {
  const hasA = st[a] !== undefined;
  const hasB = st[b] !== undefined;
  if (hasA && hasB) fail(path, `${a} and ${b} cannot both be present`);
  if (!hasA && !hasB) {
    if (required) fail(path, `exactly one of ${a} or ${b} is required`);
    return undefined;
  }
  return { value: hasA ? st[a] : st[b], not: !hasA };
}

function parseStatement(raw: unknown, index: number, kind: PolicyKind, version: PolicyVersion): Statement {
  const path = `Statement[${index}]`;
  if (!isObject(raw)) fail(path, 'must be an object');
  checkKeys(raw, STATEMENT_KEYS, `${path}.`, 'statement');
  const { Sid: sid, Effect: effect } = raw;
  if (sid !== undefined) {
    if (typeof sid !== 'string') fail(`${path}.Sid`, 'must be a string');
    if (kind === 'identity' && !/^[A-Za-z0-9]*$/.test(sid)) {
      fail(`${path}.Sid`, 'must contain only letters and digits in an identity policy');
    }
  }
  if (effect === undefined) fail(`${path}.Effect`, 'is required');
  if (effect !== 'Allow' && effect !== 'Deny') fail(`${path}.Effect`, 'must be "Allow" or "Deny"');

  let principal: Statement['principal'];
  if (kind === 'identity') {
    for (const key of ['Principal', 'NotPrincipal']) {
      if (raw[key] !== undefined) fail(`${path}.${key}`, 'is not allowed in an identity policy');
    }
  } else {
    const p = exactlyOne(raw, path, 'Principal', 'NotPrincipal', true);
    if (p !== undefined) principal = { not: p.not, spec: parsePrincipal(p.value, `${path}.${p.not ? 'Not' : ''}Principal`) };
  }
  const a = exactlyOne(raw, path, 'Action', 'NotAction', true);
  if (a === undefined) return fail(path, 'exactly one of Action or NotAction is required');
  const action = { not: a.not, patterns: parseActions(a.value, `${path}.${a.not ? 'Not' : ''}Action`) };
  const r = exactlyOne(raw, path, 'Resource', 'NotResource', kind === 'identity');
  const resourcePath = `${path}.${r?.not === true ? 'Not' : ''}Resource`;
  const resource = r === undefined ? undefined : { not: r.not, patterns: parseResources(r.value, resourcePath, version) };
  const conditions = raw['Condition'] === undefined ? [] : parseCondition(raw['Condition'], `${path}.Condition`, version);
  return {
    index,
    effect,
    action,
    conditions,
    ...(sid === undefined ? {} : { sid }),
    ...(principal === undefined ? {} : { principal }),
    ...(resource === undefined ? {} : { resource }),
  };
}

function codePoints(text: string, max: number): number {
  if (text.length <= max) return text.length;
  let n = 0;
  for (const _ of text) n++;
  return n;
}

/**
 * Parses and validates an IAM policy document.
 *
 * @param text the policy JSON.
 * @param kind `identity` (user/group/role policies: no Principal, Resource required) or
 *   `resource` (repository and registry policies: Principal required, Resource optional).
 * @throws BerthError INVALID_PARAMETER naming the offending element and what is wrong.
 */
export function parsePolicy(text: string, kind: PolicyKind, options: ParsePolicyOptions = {}): Policy {
  const max = options.maxLength ?? ECR_POLICY_MAX_LENGTH;
  const length = codePoints(text, max);
  if (length > max) {
    throw new BerthError('INVALID_PARAMETER', `policy: ${length} characters is more than the limit of ${max}`);
  }
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch (err) {
    throw new BerthError('INVALID_PARAMETER', `policy: not valid JSON (${(err as Error).message})`, { cause: err });
  }
  if (!isObject(doc)) fail('policy', 'must be a JSON object');
  checkKeys(doc, TOP_LEVEL, '', 'policy');
  const { Version: rawVersion, Id: id, Statement: rawStatements } = doc;
  if (rawVersion !== undefined && !VERSIONS.includes(rawVersion as PolicyVersion)) {
    fail('Version', 'must be "2012-10-17" or "2008-10-17"');
  }
  const version = (rawVersion ?? '2008-10-17') as PolicyVersion;
  if (id !== undefined && typeof id !== 'string') fail('Id', 'must be a string');
  if (rawStatements === undefined) fail('Statement', 'is required');
  const list = Array.isArray(rawStatements) ? rawStatements : [rawStatements];
  if (list.length === 0) fail('Statement', 'must contain at least one statement');
  const statements = list.map((s, i) => parseStatement(s, i, kind, version));
  const sids = new Map<string, number>();
  for (const s of statements) {
    if (s.sid === undefined) continue;
    const first = sids.get(s.sid);
    if (first !== undefined) fail(`Statement[${s.index}].Sid`, `duplicate Sid "${s.sid}" (also Statement[${first}])`);
    sids.set(s.sid, s.index);
  }
  return { kind, version, statements, ...(id === undefined ? {} : { id }) };
}
