/**
 * Condition operators and their evaluation, following IAM's documented semantics:
 * - values listed under one key are OR'ed; keys, and operators, are AND'ed;
 * - negated operators (`StringNotEquals`, `NotIpAddress`, `ArnNotLike`, ...) are the exact
 *   complement: true when the context value matches none of the listed values, and true when
 *   the key is absent;
 * - `...IfExists`: true when the key is absent, otherwise the operator decides;
 * - `ForAnyValue:` true when at least one context value satisfies the operator (absent or empty
 *   key: false); `ForAllValues:` true when every context value does (absent or empty: true);
 * - without a set prefix a multivalued context key acts like ForAnyValue for positive
 *   operators and like ForAllValues for negated ones (keeping negation a complement);
 * - `Null: "true"` holds when the key is absent (or an empty list), `"false"` when present;
 * - a context value of the wrong type (a non-number for `NumericLessThan`) satisfies neither
 *   the operator nor its negation;
 * - policy variables are substituted (Version 2012-10-17) in String, Bool and Arn values only,
 *   as IAM documents; a value whose variable cannot be resolved matches nothing.
 */
import { scalarToString, type ContextView } from './context.js';
import { ipInNetwork, parseCidr, parseIpAddress } from './ip.js';
import type { BaseOperator, ConditionClause, ContextScalar, PolicyVersion, SetOperator } from './types.js';
import { canonicalBase64, isArnShaped, matchArn, parseBool, parseDate, parseNumber } from './values.js';
import { parseTemplate, resolvePolicyString, type Resolved } from './variables.js';
import { matchGlob } from './wildcard.js';

type Resolve = (raw: string) => Resolved | undefined;
/** Per context value: undefined for a type mismatch, else whether it matches a policy value. */
type Matcher = (v: ContextScalar) => boolean | undefined;
type Kind = 'string' | 'number' | 'date' | 'bool' | 'binary' | 'ip' | 'arn';

interface OperatorSpec {
  readonly kind: Kind;
  readonly negated: boolean;
  readonly make: (raws: readonly string[], resolve: Resolve) => Matcher;
}

function family<C, P>(
  coerce: (v: ContextScalar) => C | undefined,
  prepare: (raw: string, resolve: Resolve) => P | undefined,
  test: (c: C, p: P) => boolean,
): OperatorSpec['make'] {
  return (raws, resolve) => {
    const ps: P[] = [];
    for (const raw of raws) {
      const p = prepare(raw, resolve);
      if (p !== undefined) ps.push(p);
    }
    return (v) => {
      const c = coerce(v);
      return c === undefined ? undefined : ps.some((p) => test(c, p));
    };
  };
}

const asString = (v: ContextScalar): string => scalarToString(v);
const asText = (raw: string, r: Resolve): string | undefined => r(raw)?.text;
const asGlob = (raw: string, r: Resolve): string | undefined => r(raw)?.glob;
const asNumber = (v: ContextScalar): number | undefined =>
  typeof v === 'number' ? (Number.isFinite(v) ? v : undefined) : typeof v === 'string' ? parseNumber(v) : undefined;
const asDate = (v: ContextScalar): number | undefined => {
  if (v instanceof Date) return Number.isNaN(v.getTime()) ? undefined : v.getTime();
  if (typeof v === 'number') return Number.isFinite(v) ? v * 1000 : undefined;
  return typeof v === 'string' ? parseDate(v) : undefined;
};
const asBool = (v: ContextScalar): boolean | undefined =>
  typeof v === 'boolean' ? v : typeof v === 'string' ? parseBool(v) : undefined;

const stringEq = family(asString, asText, (c, p) => c === p);
const stringEqCi = family(asString, (raw, r) => asText(raw, r)?.toLowerCase(), (c, p) => c.toLowerCase() === p);
const stringLike = family(asString, asGlob, (c, p) => matchGlob(p, c));
const num = (t: (c: number, p: number) => boolean): OperatorSpec['make'] => family(asNumber, (raw) => parseNumber(raw), t);
const date = (t: (c: number, p: number) => boolean): OperatorSpec['make'] => family(asDate, (raw) => parseDate(raw), t);
const bool = family(asBool, (raw, r) => { const t = asText(raw, r); return t === undefined ? undefined : parseBool(t); }, (c, p) => c === p);
const binary = family((v) => (typeof v === 'string' ? canonicalBase64(v) : undefined), (raw) => canonicalBase64(raw), (c, p) => c === p);
const ip = family((v) => (typeof v === 'string' ? parseIpAddress(v) : undefined), (raw) => parseCidr(raw), ipInNetwork);
const arn = family((v) => (typeof v === 'string' && isArnShaped(v) ? v : undefined), asGlob, (c, p) => matchArn(p, c));

const eq = (c: number, p: number): boolean => c === p;
const op = (kind: Kind, negated: boolean, make: OperatorSpec['make']): OperatorSpec => ({ kind, negated, make });

const OPERATORS: Readonly<Record<Exclude<BaseOperator, 'Null'>, OperatorSpec>> = {
  StringEquals: op('string', false, stringEq),
  StringNotEquals: op('string', true, stringEq),
  StringEqualsIgnoreCase: op('string', false, stringEqCi),
  StringNotEqualsIgnoreCase: op('string', true, stringEqCi),
  StringLike: op('string', false, stringLike),
  StringNotLike: op('string', true, stringLike),
  NumericEquals: op('number', false, num(eq)),
  NumericNotEquals: op('number', true, num(eq)),
  NumericLessThan: op('number', false, num((c, p) => c < p)),
  NumericLessThanEquals: op('number', false, num((c, p) => c <= p)),
  NumericGreaterThan: op('number', false, num((c, p) => c > p)),
  NumericGreaterThanEquals: op('number', false, num((c, p) => c >= p)),
  DateEquals: op('date', false, date(eq)),
  DateNotEquals: op('date', true, date(eq)),
  DateLessThan: op('date', false, date((c, p) => c < p)),
  DateLessThanEquals: op('date', false, date((c, p) => c <= p)),
  DateGreaterThan: op('date', false, date((c, p) => c > p)),
  DateGreaterThanEquals: op('date', false, date((c, p) => c >= p)),
  Bool: op('bool', false, bool),
  BinaryEquals: op('binary', false, binary),
  IpAddress: op('ip', false, ip),
  NotIpAddress: op('ip', true, ip),
  ArnEquals: op('arn', false, arn),
  ArnLike: op('arn', false, arn),
  ArnNotEquals: op('arn', true, arn),
  ArnNotLike: op('arn', true, arn),
};

/** Every base operator name IAM defines. */
export const CONDITION_OPERATORS: readonly BaseOperator[] = [...(Object.keys(OPERATORS) as BaseOperator[]), 'Null'];

/** The parts of an operator name such as `ForAllValues:StringLikeIfExists`. */
export interface ParsedOperator {
  readonly base: BaseOperator;
  readonly set?: SetOperator;
  readonly ifExists: boolean;
}

/**
 * Splits an operator name into set prefix, base operator and IfExists suffix. Returns a string
 * (the error message) for names IAM refuses: unknown operators, `NullIfExists`, `ForAnyValue:Null`.
 */
export function parseOperator(name: string): ParsedOperator | string {
  const m = /^(?:(ForAnyValue|ForAllValues):)?(.+?)(IfExists)?$/.exec(name);
  const base = m?.[2];
  if (m === null || base === undefined || !(CONDITION_OPERATORS as readonly string[]).includes(base)) {
    return 'unknown condition operator';
  }
  const set = m[1] as SetOperator | undefined;
  const ifExists = m[3] !== undefined;
  if (base === 'Null' && ifExists) return 'IfExists cannot be used with Null';
  if (base === 'Null' && set !== undefined) return `${set} cannot be used with Null`;
  const parsed = { base: base as BaseOperator, ifExists };
  return set === undefined ? parsed : { ...parsed, set };
}

const SUBSTITUTES: ReadonlySet<Kind> = new Set(['string', 'bool', 'arn']);

/** Checks one policy value for an operator; returns an error message or undefined. */
export function checkConditionValue(base: BaseOperator, raw: string, version: PolicyVersion): string | undefined {
  const kind = base === 'Null' ? 'null' : OPERATORS[base].kind;
  const variable = version === '2012-10-17' && raw.includes('${') && SUBSTITUTES.has(kind as Kind);
  if (variable) {
    try {
      parseTemplate(raw);
      return undefined;
    } catch (err) {
      return (err as Error).message;
    }
  }
  const bad = (what: string): string => `${JSON.stringify(raw)} is not ${what}`;
  switch (kind) {
    case 'number': return parseNumber(raw) === undefined ? bad('a number') : undefined;
    case 'date': return parseDate(raw) === undefined ? bad('an ISO 8601 date or epoch seconds') : undefined;
    case 'bool':
    case 'null': return parseBool(raw) === undefined ? bad('"true" or "false"') : undefined;
    case 'binary': return canonicalBase64(raw) === undefined ? bad('base64') : undefined;
    case 'ip': return parseCidr(raw) === undefined ? bad('an IPv4 or IPv6 address or CIDR block') : undefined;
    default: return undefined;
  }
}

/** Evaluates one operator/key clause against the request context. */
export function evaluateClause(clause: ConditionClause, ctx: ContextView, version: PolicyVersion): boolean {
  const values = ctx.values(clause.key);
  const present = values !== undefined && values.length > 0;
  if (clause.base === 'Null') return clause.values.some((v) => parseBool(v) === !present);
  const spec = OPERATORS[clause.base];
  if (values === undefined || values.length === 0) {
    if (clause.set === 'ForAllValues' || clause.ifExists) return true;
    return clause.set === 'ForAnyValue' ? false : spec.negated;
  }
  const resolve: Resolve = (raw) => resolvePolicyString(raw, version, (k) => ctx.variable(k));
  const matcher = spec.make(clause.values, resolve);
  const satisfied = (v: ContextScalar): boolean => {
    const hit = matcher(v);
    return hit === undefined ? false : spec.negated ? !hit : hit;
  };
  if (clause.set === 'ForAllValues') return values.every(satisfied);
  if (clause.set === 'ForAnyValue') return values.some(satisfied);
  return spec.negated ? values.every(satisfied) : values.some(satisfied);
}

/** Whether every clause of a statement's Condition holds (an empty Condition always holds). */
export function conditionsHold(
  clauses: readonly ConditionClause[],
  ctx: ContextView,
  version: PolicyVersion,
): boolean {
  return clauses.every((c) => evaluateClause(c, ctx, version));
}
