/**
 * Validation of the individual statement elements (Principal, Action, Resource, Condition).
 * Every failure is a BerthError INVALID_PARAMETER whose message starts with the JSON path of
 * the offending element, e.g. `Statement[0].Condition.StringEqualz: unknown condition operator`.
 */
import { BerthError } from '../errors.js';
import { checkConditionValue, parseOperator } from './conditions.js';
import type { ConditionClause, PolicyVersion, PrincipalSpec, PrincipalType } from './types.js';
import { parseTemplate } from './variables.js';

/** Throws the policy validation error for `path`. */
export function fail(path: string, message: string): never {
  throw new BerthError('INVALID_PARAMETER', `${path}: ${message}`, { detail: { path } });
}

/** Whether `v` is a plain JSON object. */
export function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** A string or non-empty array of strings, with the path of each item. */
function stringList(value: unknown, path: string): [string, string][] {
  if (typeof value === 'string') return [[value, path]];
  if (!Array.isArray(value) || value.length === 0) fail(path, 'must be a string or a non-empty array of strings');
  return value.map((v, i): [string, string] => {
    if (typeof v !== 'string') fail(`${path}[${i}]`, 'must be a string');
    return [v, `${path}[${i}]`];
  });
}

const PRINCIPAL_TYPES: readonly PrincipalType[] = ['AWS', 'Service', 'Federated', 'CanonicalUser'];
const AWS_PRINCIPAL =
  /^arn:[a-z-]+:(?:iam::\d{12}:(?:root|user\/.+|role\/.+)|sts::\d{12}:(?:assumed-role\/[^/]+\/.+|federated-user\/.+))$/;

function awsPrincipal(entry: string, path: string): string {
  if (entry === '*') return entry;
  if (/^\d{12}$/.test(entry)) return `arn:aws:iam::${entry}:root`;
  if (/[*?]/.test(entry)) fail(path, 'wildcards are not allowed in principals (use "*" with a Condition on aws:PrincipalArn)');
  if (!AWS_PRINCIPAL.test(entry)) {
    fail(path, `${JSON.stringify(entry)} is not "*", a 12-digit account id, or an IAM root, user, role or assumed-role ARN`);
  }
  return entry;
}

/** Parses a Principal/NotPrincipal value: `"*"` or `{"AWS"|"Service"|"Federated"|"CanonicalUser": ...}`. */
export function parsePrincipal(value: unknown, path: string): PrincipalSpec {
  if (value === '*') return '*';
  if (!isObject(value)) fail(path, 'must be "*" or an object such as {"AWS": "123456789012"}');
  const keys = Object.keys(value);
  if (keys.length === 0) fail(path, 'must name at least one principal');
  const spec: { [T in PrincipalType]?: string[] } = {};
  for (const key of keys) {
    const type = PRINCIPAL_TYPES.find((t) => t === key);
    if (type === undefined) fail(`${path}.${key}`, 'unknown principal type (expected AWS, Service, Federated or CanonicalUser)');
    spec[type] = stringList(value[key], `${path}.${type}`).map(([entry, at]) => {
      if (type === 'AWS') return awsPrincipal(entry, at);
      if (entry === '' || /[\s*?]/.test(entry)) fail(at, `${JSON.stringify(entry)} is not a valid ${type} principal`);
      return entry;
    });
  }
  return spec;
}

const ACTION = /^[A-Za-z0-9-]+:[A-Za-z0-9*?]+$/;

/** Parses an Action/NotAction value: `"*"` or `service:Action` patterns. */
export function parseActions(value: unknown, path: string): string[] {
  return stringList(value, path).map(([a, at]) => {
    if (a !== '*' && !ACTION.test(a)) fail(at, `${JSON.stringify(a)} is not a valid action (expected "*" or "service:Action")`);
    return a;
  });
}

/** Parses a Resource/NotResource value: `"*"` or ARN patterns, checking policy variables. */
export function parseResources(value: unknown, path: string, version: PolicyVersion): string[] {
  return stringList(value, path).map(([r, at]) => {
    if (r !== '*' && !(r.startsWith('arn:') && r.split(':').length >= 6)) {
      fail(at, `${JSON.stringify(r)} is not "*" or an ARN (arn:partition:service:region:account:resource)`);
    }
    if (version === '2012-10-17' && r.includes('${')) {
      try {
        parseTemplate(r);
      } catch (err) {
        fail(at, (err as Error).message);
      }
    }
    return r;
  });
}

function conditionValues(value: unknown, path: string): [string, string][] {
  const scalar = (v: unknown): v is string | number | boolean =>
    typeof v === 'string' || typeof v === 'boolean' || (typeof v === 'number' && Number.isFinite(v));
  if (scalar(value)) return [[String(value), path]];
  if (!Array.isArray(value) || value.length === 0) fail(path, 'must be a string, number, boolean or a non-empty array of them');
  return value.map((v, i): [string, string] => {
    if (!scalar(v)) fail(`${path}[${i}]`, 'must be a string, number or boolean');
    return [String(v), `${path}[${i}]`];
  });
}

/** Parses a Condition block into one clause per operator/key pair. */
export function parseCondition(value: unknown, path: string, version: PolicyVersion): ConditionClause[] {
  if (!isObject(value)) fail(path, 'must be an object mapping condition operators to {key: values}');
  const clauses: ConditionClause[] = [];
  for (const [operator, block] of Object.entries(value)) {
    const at = `${path}.${operator}`;
    const parsed = parseOperator(operator);
    if (typeof parsed === 'string') fail(at, parsed);
    if (!isObject(block) || Object.keys(block).length === 0) fail(at, 'must be a non-empty object mapping condition keys to values');
    const seen = new Map<string, string>();
    for (const [key, raw] of Object.entries(block)) {
      const keyPath = `${at}.${key}`;
      if (!/^[A-Za-z0-9.-]+:\S+$/.test(key)) fail(keyPath, 'condition keys have the form "service:key"');
      const other = seen.get(key.toLowerCase());
      if (other !== undefined) fail(keyPath, `duplicate condition key (key names are case-insensitive; also "${other}")`);
      seen.set(key.toLowerCase(), key);
      const values = conditionValues(raw, keyPath).map(([v, vPath]) => {
        const problem = checkConditionValue(parsed.base, v, version);
        if (problem !== undefined) fail(vPath, problem);
        return v;
      });
      clauses.push({ operator, ...parsed, key, values });
    }
  }
  return clauses;
}
