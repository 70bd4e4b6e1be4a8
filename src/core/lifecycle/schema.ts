/**
 * Small JSON-shape checks for the lifecycle-policy parser. Failures throw ECR's error shape,
 * `Invalid parameter at 'LifecyclePolicyText' failed to satisfy constraint: 'Lifecycle policy
 * validation failure: <where>: <what>'`, with `<what>` phrased like the JSON-schema validator
 * behind ECR (e.g. `object has missing required properties (["rules"])`) and `<where>` a path
 * such as `rules[0].selection.countNumber` (array indexes count from 0).
 */
import { BerthError } from '../errors.js';

const PREFIX =
  "Invalid parameter at 'LifecyclePolicyText' failed to satisfy constraint: 'Lifecycle policy validation failure: ";

/** Largest integer ECR's (Java `int`) model accepts for `rulePriority` and `countNumber`. */
export const MAX_INT = 2147483647;

/** Throws the INVALID_PARAMETER error for a failure `what` at path `where` ('' for the whole text). */
export function fail(where: string, what: string): never {
  const detail = where === '' ? what : `${where}: ${what}`;
  throw new BerthError('INVALID_PARAMETER', `${PREFIX}${detail}'`, { detail: { path: where, reason: what } });
}

/** JSON-schema type name of a parsed JSON value. */
export function jsonType(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'array';
  if (typeof value === 'number') return Number.isInteger(value) ? 'integer' : 'number';
  return typeof value;
}

function wrongType(where: string, value: unknown, allowed: string): never {
  const found = jsonType(value);
  return fail(where, `instance type (${found}) does not match any allowed primitive type (allowed: ["${allowed}"])`);
}

/** Checks an object's shape: type, required properties (all reported at once), then unknown ones. */
export function object(
  value: unknown,
  where: string,
  required: readonly string[],
  optional: readonly string[],
): Record<string, unknown> {
  if (jsonType(value) !== 'object') wrongType(where, value, 'object');
  const obj = value as Record<string, unknown>;
  const keys = Object.keys(obj);
  const missing = required.filter((k) => !keys.includes(k)).sort();
  if (missing.length > 0) fail(where, `object has missing required properties (${JSON.stringify(missing)})`);
  const unknown = keys.filter((k) => !required.includes(k) && !optional.includes(k)).sort();
  if (unknown.length > 0) {
    fail(where, `object instance has properties which are not allowed by the schema: (${JSON.stringify(unknown)})`);
  }
  return obj;
}

/** Checks an integer within [min, MAX_INT]. */
export function integer(value: unknown, where: string, min: number): number {
  if (jsonType(value) !== 'integer') wrongType(where, value, 'integer');
  const n = value as number;
  if (n < min) fail(where, `numeric instance is lower than the required minimum (minimum: ${min}, found: ${n})`);
  if (n > MAX_INT) fail(where, `numeric instance is greater than the required maximum (maximum: ${MAX_INT}, found: ${n})`);
  return n;
}

/** Checks a string, optionally non-empty. */
export function string(value: unknown, where: string, minLength = 0): string {
  if (typeof value !== 'string') wrongType(where, value, 'string');
  const s = value as string;
  if (s.length < minLength) {
    fail(where, `string ${JSON.stringify(s)} is too short (length: ${s.length}, required minimum: ${minLength})`);
  }
  return s;
}

/** Checks a boolean. */
export function boolean(value: unknown, where: string): boolean {
  if (typeof value !== 'boolean') wrongType(where, value, 'boolean');
  return value as boolean;
}

/** Checks a string from a fixed set. */
export function oneOf<T extends string>(value: unknown, where: string, allowed: readonly T[]): T {
  const s = string(value, where);
  if (!(allowed as readonly string[]).includes(s)) {
    fail(where, `instance value (${JSON.stringify(s)}) not found in enum (possible values: ${JSON.stringify(allowed)})`);
  }
  return s as T;
}

/** Checks a non-empty array of non-empty strings. */
export function stringList(value: unknown, where: string): string[] {
  if (!Array.isArray(value)) wrongType(where, value, 'array');
  const list = value as unknown[];
  if (list.length === 0) {
    fail(where, 'array is too short: must have at least 1 elements but instance has 0 elements');
  }
  return list.map((item, i) => string(item, `${where}[${i}]`, 1));
}
