/**
 * Reads and writes JSON 1.1 bodies by walking the generated shape table: inputs are
 * validated against the model's constraints (required members, types, lengths,
 * patterns, enums, ranges) and timestamps become Dates; outputs turn Dates into epoch
 * seconds. Unknown input members are ignored, as AWS's JSON services do.
 */
import { BerthError } from '../../core/errors.js';
import { SHAPES, type ShapeSpec } from './generated/ecr-model.js';

const patterns = new Map<string, RegExp | null>();

/** A model's `pattern` as an anchored RegExp, cached; null for Java-only syntax JavaScript cannot compile. */
export function compiled(pattern: string): RegExp | null {
  if (!patterns.has(pattern)) {
    let re: RegExp | null;
    try {
      re = new RegExp(`^(?:${pattern})$`, 'u');
    } catch {
      re = null; // a Java-only construct: the handler's own checks apply instead
    }
    patterns.set(pattern, re);
  }
  return patterns.get(pattern) ?? null;
}

function invalid(path: string, constraint: string): BerthError {
  return new BerthError('INVALID_PARAMETER', `Invalid parameter at '${path}' failed to satisfy constraint: '${constraint}'`, {
    detail: { member: path },
  });
}

function shape(name: string): ShapeSpec {
  const s = SHAPES[name];
  if (!s) throw new Error(`unknown shape ${name}`);
  return s;
}

/** Validates `value` against the input shape and returns it with timestamps as Dates. */
export function readInput(shapeName: string, value: unknown, path = ''): unknown {
  const s = shape(shapeName);
  const where = path || shapeName;
  switch (s.type) {
    case 'structure': {
      if (typeof value !== 'object' || value === null || Array.isArray(value)) throw invalid(where, 'must be an object');
      const obj = value as Record<string, unknown>;
      const out: Record<string, unknown> = {};
      for (const req of s.required ?? []) {
        if (obj[req] === undefined || obj[req] === null) throw invalid(path ? `${path}.${req}` : req, 'Member must not be null');
      }
      for (const [member, memberShape] of Object.entries(s.members ?? {})) {
        const v = obj[member];
        if (v === undefined || v === null) continue;
        out[member] = readInput(memberShape, v, path ? `${path}.${member}` : member);
      }
      return out;
    }
    case 'string': {
      if (typeof value !== 'string') throw invalid(where, 'must be a string');
      checkLength(where, value.length, s);
      if (s.enum && !s.enum.includes(value)) throw invalid(where, `Member must satisfy enum value set: [${s.enum.join(', ')}]`);
      if (s.pattern) {
        const re = compiled(s.pattern);
        if (re && !re.test(value)) throw invalid(where, `must satisfy regular expression '${s.pattern}'`);
      }
      return value;
    }
    case 'blob': {
      if (typeof value !== 'string' || !/^[A-Za-z0-9+/]*={0,2}$/.test(value)) throw invalid(where, 'must be base64');
      checkLength(where, Math.floor((value.length * 3) / 4), s);
      return value;
    }
    case 'integer':
    case 'long':
    case 'double':
    case 'float': {
      if (typeof value !== 'number' || !Number.isFinite(value)) throw invalid(where, 'must be a number');
      if ((s.type === 'integer' || s.type === 'long') && !Number.isInteger(value)) throw invalid(where, 'must be an integer');
      if (s.min !== undefined && value < s.min) throw invalid(where, `Member must have value greater than or equal to ${s.min}`);
      if (s.max !== undefined && value > s.max) throw invalid(where, `Member must have value less than or equal to ${s.max}`);
      return value;
    }
    case 'boolean':
      if (typeof value !== 'boolean') throw invalid(where, 'must be a boolean');
      return value;
    case 'timestamp': {
      if (typeof value === 'number') return new Date(value * 1000);
      if (typeof value === 'string' && !Number.isNaN(Date.parse(value))) return new Date(value);
      throw invalid(where, 'must be a timestamp (epoch seconds)');
    }
    case 'list': {
      if (!Array.isArray(value)) throw invalid(where, 'must be a list');
      checkLength(where, value.length, s);
      return value.map((v, i) => readInput(s.member!, v, `${where}[${i}]`));
    }
    case 'map': {
      if (typeof value !== 'object' || value === null || Array.isArray(value)) throw invalid(where, 'must be a map');
      const entries = Object.entries(value as Record<string, unknown>);
      checkLength(where, entries.length, s);
      return Object.fromEntries(entries.map(([k, v]) => [readInput(s.key!, k, `${where}.key`), readInput(s.value!, v, `${where}.${k}`)]));
    }
    default:
      throw new Error(`unsupported shape type ${s.type}`);
  }
}

function checkLength(where: string, n: number, s: ShapeSpec): void {
  if (s.min !== undefined && n < s.min) throw invalid(where, `Member must have length greater than or equal to ${s.min}`);
  if (s.max !== undefined && n > s.max) throw invalid(where, `Member must have length less than or equal to ${s.max}`);
}

/** Serializes an output value: Dates as epoch seconds, undefined members dropped. */
export function writeOutput(value: unknown): unknown {
  if (value instanceof Date) return value.getTime() / 1000;
  if (Array.isArray(value)) return value.map(writeOutput);
  if (typeof value === 'object' && value !== null) {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value)) if (v !== undefined) out[k] = writeOutput(v);
    return out;
  }
  return value;
}
