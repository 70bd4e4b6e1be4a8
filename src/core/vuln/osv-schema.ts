/**
 * OSV record types (https://ossf.github.io/osv-schema/, schema 1.x) and a
 * validator that turns untrusted JSON into a typed record or refuses it.
 *
 * The validator checks what the matcher relies on and what the schema makes
 * mandatory: `id` and `modified`, RFC 3339 timestamps, the shape of `affected`,
 * range `type` (ECOSYSTEM, SEMVER or GIT; GIT needs `repo`), events with exactly
 * one of introduced / fixed / last_affected / limit, at least one `introduced`,
 * and never both `fixed` and `last_affected` in one range. Unknown top-level
 * fields are allowed (the schema permits additions) but not kept.
 */

/** One `severity[]` entry, e.g. `{ type: 'CVSS_V3', score: 'CVSS:3.1/AV:N/...' }`. */
export interface OsvSeverity {
  type: string;
  score: string;
}

/** One event of a range's timeline; exactly one key is set. */
export type OsvEvent = { introduced: string } | { fixed: string } | { last_affected: string } | { limit: string };

/** `affected[].ranges[]`. */
export interface OsvRange {
  type: 'ECOSYSTEM' | 'SEMVER' | 'GIT';
  repo?: string;
  events: OsvEvent[];
  database_specific?: Record<string, unknown>;
}

/** `affected[].package`. */
export interface OsvPackage {
  ecosystem: string;
  name: string;
  purl?: string;
}

/** One `affected[]` entry. */
export interface OsvAffected {
  package?: OsvPackage;
  severity?: OsvSeverity[];
  ranges?: OsvRange[];
  versions?: string[];
  ecosystem_specific?: Record<string, unknown>;
  database_specific?: Record<string, unknown>;
}

/** A validated OSV record. */
export interface OsvRecord {
  schema_version?: string;
  id: string;
  modified: string;
  published?: string;
  withdrawn?: string;
  aliases?: string[];
  upstream?: string[];
  related?: string[];
  summary?: string;
  details?: string;
  severity?: OsvSeverity[];
  affected: OsvAffected[];
  references?: { type: string; url: string }[];
  database_specific?: Record<string, unknown>;
}

/** Thrown by {@link parseOsvRecord}; `path` locates the offending field (e.g. `affected[0].ranges[1].events`). */
export class OsvRecordError extends Error {
  constructor(
    readonly recordId: string | undefined,
    readonly path: string,
    problem: string,
  ) {
    super(`invalid OSV record${recordId ? ` ${recordId}` : ''}: ${path}: ${problem}`);
    this.name = 'OsvRecordError';
  }
}

const RFC3339 = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(?:\.\d+)?(?:Z|[+-]\d{2}:\d{2})$/i;
const EVENT_KEYS = ['introduced', 'fixed', 'last_affected', 'limit'] as const;
const RANGE_TYPES = ['ECOSYSTEM', 'SEMVER', 'GIT'] as const;

type Obj = Record<string, unknown>;
const isObj = (x: unknown): x is Obj => typeof x === 'object' && x !== null && !Array.isArray(x);

/**
 * Validates `json` as an OSV record and returns it typed.
 * @throws OsvRecordError naming the record and the field when it is malformed.
 */
export function parseOsvRecord(json: unknown): OsvRecord {
  let id: string | undefined;
  const fail = (path: string, problem: string): never => {
    throw new OsvRecordError(id, path, problem);
  };
  const str = (o: Obj, k: string, path: string, required = false): string | undefined => {
    const v = o[k];
    if (v === undefined) return required ? fail(path + k, 'is required') : undefined;
    if (typeof v !== 'string') return fail(path + k, `must be a string, got ${typeof v}`);
    return v;
  };
  const time = (o: Obj, k: string, required = false): string | undefined => {
    const v = str(o, k, '', required);
    if (v !== undefined && !RFC3339.test(v)) fail(k, `must be an RFC 3339 timestamp, got "${v}"`);
    return v;
  };
  const strList = (o: Obj, k: string, path: string): string[] | undefined => {
    const v = o[k];
    if (v === undefined) return undefined;
    if (!Array.isArray(v) || !v.every((x) => typeof x === 'string')) return fail(path + k, 'must be an array of strings');
    return v as string[];
  };
  const obj = (o: Obj, k: string, path: string): Obj | undefined => {
    const v = o[k];
    if (v === undefined) return undefined;
    return isObj(v) ? v : fail(path + k, 'must be an object');
  };
  const list = (o: Obj, k: string, path: string): Obj[] | undefined => {
    const v = o[k];
    if (v === undefined) return undefined;
    if (!Array.isArray(v)) return fail(path + k, 'must be an array');
    v.forEach((x, i) => isObj(x) || fail(`${path}${k}[${i}]`, 'must be an object'));
    return v as Obj[];
  };
  const severities = (o: Obj, path: string): OsvSeverity[] | undefined =>
    list(o, 'severity', path)?.map((s, i) => ({
      type: str(s, 'type', `${path}severity[${i}].`, true) as string,
      score: str(s, 'score', `${path}severity[${i}].`, true) as string,
    }));

  if (!isObj(json)) return fail('(root)', 'must be a JSON object');
  id = typeof json.id === 'string' ? json.id : undefined;
  const rec: OsvRecord = { id: str(json, 'id', '', true) as string, modified: time(json, 'modified', true) as string, affected: [] };
  if (rec.id.trim() === '') fail('id', 'must not be empty');
  const setIf = <K extends keyof OsvRecord>(k: K, v: OsvRecord[K] | undefined): void => {
    if (v !== undefined) rec[k] = v;
  };
  setIf('schema_version', str(json, 'schema_version', ''));
  setIf('published', time(json, 'published'));
  setIf('withdrawn', time(json, 'withdrawn'));
  for (const k of ['aliases', 'upstream', 'related'] as const) setIf(k, strList(json, k, ''));
  setIf('summary', str(json, 'summary', ''));
  setIf('details', str(json, 'details', ''));
  setIf('severity', severities(json, ''));
  setIf('database_specific', obj(json, 'database_specific', ''));
  setIf(
    'references',
    list(json, 'references', '')?.map((r, i) => ({
      type: str(r, 'type', `references[${i}].`, true) as string,
      url: str(r, 'url', `references[${i}].`, true) as string,
    })),
  );
  rec.affected = (list(json, 'affected', '') ?? []).map((a, i) => {
    const p = `affected[${i}].`;
    const out: OsvAffected = {};
    const pkg = obj(a, 'package', p);
    if (pkg) {
      out.package = { ecosystem: str(pkg, 'ecosystem', `${p}package.`, true) as string, name: str(pkg, 'name', `${p}package.`, true) as string };
      const purl = str(pkg, 'purl', `${p}package.`);
      if (purl !== undefined) out.package.purl = purl;
    }
    const sev = severities(a, p);
    if (sev) out.severity = sev;
    const versions = strList(a, 'versions', p);
    if (versions) out.versions = versions;
    const es = obj(a, 'ecosystem_specific', p);
    if (es) out.ecosystem_specific = es;
    const ds = obj(a, 'database_specific', p);
    if (ds) out.database_specific = ds;
    const ranges = list(a, 'ranges', p)?.map((r, j) => parseRange(r, `${p}ranges[${j}]`, fail, str, obj));
    if (ranges) out.ranges = ranges;
    return out;
  });
  return rec;
}

function parseRange(
  r: Obj,
  path: string,
  fail: (path: string, problem: string) => never,
  str: (o: Obj, k: string, path: string, required?: boolean) => string | undefined,
  obj: (o: Obj, k: string, path: string) => Obj | undefined,
): OsvRange {
  const type = str(r, 'type', `${path}.`, true) as string;
  if (!(RANGE_TYPES as readonly string[]).includes(type)) fail(`${path}.type`, `must be one of ${RANGE_TYPES.join(', ')}, got "${type}"`);
  const out: OsvRange = { type: type as OsvRange['type'], events: [] };
  const repo = str(r, 'repo', `${path}.`, type === 'GIT');
  if (repo !== undefined) out.repo = repo;
  const ds = obj(r, 'database_specific', `${path}.`);
  if (ds) out.database_specific = ds;
  const events = r.events;
  if (!Array.isArray(events) || events.length === 0) return fail(`${path}.events`, 'must be a non-empty array');
  out.events = events.map((e, k): OsvEvent => {
    const keys = isObj(e) ? Object.keys(e) : [];
    const key = keys[0];
    if (!isObj(e) || keys.length !== 1 || !(EVENT_KEYS as readonly string[]).includes(key ?? '')) {
      return fail(`${path}.events[${k}]`, `must have exactly one of ${EVENT_KEYS.join(', ')}`);
    }
    const v = e[key as string];
    if (typeof v !== 'string' || v === '') return fail(`${path}.events[${k}].${key}`, 'must be a non-empty string');
    return { [key as string]: v } as OsvEvent;
  });
  const has = (k: string): boolean => out.events.some((e) => k in e);
  if (!has('introduced')) fail(`${path}.events`, 'must contain at least one "introduced" event');
  if (has('fixed') && has('last_affected')) fail(`${path}.events`, 'must not mix "fixed" and "last_affected" events');
  return out;
}
