/**
 * Typed values of the condition operators: numbers, dates, booleans, base64 binaries and ARNs,
 * parsed the same way from policy text and from request-context values.
 */
import { matchGlob } from './wildcard.js';

const NUMBER = /^[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?$/;
const ISO_DATE = /^(\d{4}-\d{2}-\d{2})(?:T(\d{2}:\d{2}(?::\d{2}(?:\.\d{1,9})?)?)(Z|[+-]\d{2}:?\d{2})?)?$/;
const EPOCH = /^-?\d{1,15}$/;
const BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;

/** A decimal number (integer, fraction or exponent form), or undefined. */
export function parseNumber(s: string): number | undefined {
  if (!NUMBER.test(s)) return undefined;
  const n = Number(s);
  return Number.isFinite(n) ? n : undefined;
}

/**
 * An ISO 8601 date or date-time (no zone means UTC) or epoch seconds, as epoch milliseconds.
 * Anything `Date.parse` would guess at ("March 7") is refused.
 */
export function parseDate(s: string): number | undefined {
  if (EPOCH.test(s)) return Number(s) * 1000;
  const m = ISO_DATE.exec(s);
  if (m === null) return undefined;
  const [, date, time, zone] = m;
  const day = date as string;
  const dayMs = Date.parse(day);
  if (Number.isNaN(dayMs) || new Date(dayMs).toISOString().slice(0, 10) !== day) return undefined;
  let iso = day;
  if (time !== undefined) {
    const z = zone === undefined ? 'Z' : zone === 'Z' ? zone : zone.replace(/^([+-]\d{2}):?(\d{2})$/, '$1:$2');
    iso += `T${time}${z}`;
  }
  const ms = Date.parse(iso);
  return Number.isNaN(ms) ? undefined : ms;
}

/** `true`/`false` in any case, or undefined. */
export function parseBool(s: string): boolean | undefined {
  const l = s.toLowerCase();
  return l === 'true' ? true : l === 'false' ? false : undefined;
}

/** Canonical base64 of a base64 string (so equal bytes compare equal), or undefined. */
export function canonicalBase64(s: string): string | undefined {
  if (!BASE64.test(s)) return undefined;
  return Buffer.from(s, 'base64').toString('base64');
}

/** Whether `s` has the six colon-separated parts of an ARN. */
export function isArnShaped(s: string): boolean {
  return s.startsWith('arn:') && s.split(':').length >= 6;
}

function splitArn(s: string): string[] {
  const parts = s.split(':');
  return [...parts.slice(0, 5), parts.slice(5).join(':')];
}

/**
 * ArnEquals/ArnLike matching: each of the six colon-separated parts is matched on its own
 * (so `*` never spans a colon before the resource part), case-sensitively. A policy value
 * that is not ARN-shaped (e.g. `*`) is matched against the whole ARN.
 */
export function matchArn(glob: string, arn: string): boolean {
  if (!isArnShaped(glob)) return matchGlob(glob, arn);
  const want = splitArn(glob);
  const got = splitArn(arn);
  return want.every((w, i) => matchGlob(w, got[i] as string));
}
