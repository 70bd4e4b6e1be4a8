/**
 * The AWS query protocol (IAM, STS), driven by the generated model: form parameters are
 * decoded into typed inputs (`A.member.1.B` lists, `A.entry.1.key` maps, nested members)
 * and validated against the model's constraints; outputs are written as XML
 * (`<OpResponse><OpResult>...</OpResult><ResponseMetadata/></OpResponse>`, lists as
 * `<member>`, timestamps in ISO 8601); errors as `<ErrorResponse>` with the model's code.
 */
import { BerthError } from '../../core/errors.js';
import { compiled } from '../ecr/shapes.js';
import type { QueryService, QueryShape } from './generated/query-model.js';

function shapeOf(service: QueryService, name: string): QueryShape {
  const s = service.shapes[name];
  if (!s) throw new Error(`unknown shape ${name}`);
  return s;
}

function invalid(path: string, constraint: string): BerthError {
  return new BerthError('INVALID_PARAMETER', `1 validation error detected: Value at '${path}' failed to satisfy constraint: ${constraint}`, { detail: { member: path, modelValidation: true } });
}

/** Decodes and validates the input of an operation from its form parameters. */
export function decodeInput(service: QueryService, shapeName: string, params: URLSearchParams): Record<string, unknown> {
  const flat = new Map<string, string>();
  for (const [k, v] of params) flat.set(k, v);
  return decodeValue(service, shapeName, flat, '') as Record<string, unknown>;
}

function hasPrefix(flat: Map<string, string>, prefix: string): boolean {
  for (const k of flat.keys()) if (k === prefix || k.startsWith(`${prefix}.`)) return true;
  return false;
}

function decodeValue(service: QueryService, shapeName: string, flat: Map<string, string>, prefix: string): unknown {
  const s = shapeOf(service, shapeName);
  const where = prefix || shapeName;
  switch (s.type) {
    case 'structure': {
      const out: Record<string, unknown> = {};
      for (const [member, ref] of Object.entries(s.members ?? {})) {
        const key = prefix ? `${prefix}.${ref.locationName ?? member}` : (ref.locationName ?? member);
        if (!hasPrefix(flat, key)) continue;
        out[member] = decodeValue(service, ref.shape, flat, key);
      }
      for (const req of s.required ?? []) if (out[req] === undefined) throw invalid(prefix ? `${prefix}.${req}` : req, 'Member must not be null');
      return out;
    }
    case 'list': {
      const items: unknown[] = [];
      const base = s.flattened ? prefix : `${prefix}.${s.memberName ?? 'member'}`;
      for (let i = 1; hasPrefix(flat, `${base}.${i}`); i++) {
        if (i > 1000) throw invalid(where, 'too many list members');
        items.push(decodeValue(service, s.member!, flat, `${base}.${i}`));
      }
      checkLength(where, items.length, s);
      return items;
    }
    case 'map': {
      const out: Record<string, unknown> = {};
      for (let i = 1; hasPrefix(flat, `${prefix}.entry.${i}`); i++) {
        const k = decodeValue(service, s.key!, flat, `${prefix}.entry.${i}.key`) as string;
        out[k] = decodeValue(service, s.value!, flat, `${prefix}.entry.${i}.value`);
      }
      return out;
    }
    default: {
      const raw = flat.get(prefix);
      if (raw === undefined) throw invalid(where, 'Member must not be null');
      return decodeScalar(s, raw, where);
    }
  }
}

function decodeScalar(s: QueryShape, raw: string, where: string): unknown {
  switch (s.type) {
    case 'string': {
      checkLength(where, raw.length, s);
      if (s.enum && !s.enum.includes(raw)) throw invalid(where, `Member must satisfy enum value set: [${s.enum.join(', ')}]`);
      const re = s.pattern ? compiled(s.pattern) : null;
      if (re && !re.test(raw)) throw invalid(where, `Member must satisfy regular expression pattern: ${s.pattern}`);
      return raw;
    }
    case 'integer':
    case 'long': {
      if (!/^-?\d{1,15}$/.test(raw)) throw invalid(where, 'Member must be an integer');
      const n = Number(raw);
      if (s.min !== undefined && n < s.min) throw invalid(where, `Member must have value greater than or equal to ${s.min}`);
      if (s.max !== undefined && n > s.max) throw invalid(where, `Member must have value less than or equal to ${s.max}`);
      return n;
    }
    case 'boolean':
      if (raw !== 'true' && raw !== 'false') throw invalid(where, 'Member must be true or false');
      return raw === 'true';
    case 'timestamp': {
      const t = Date.parse(raw);
      if (Number.isNaN(t)) throw invalid(where, 'Member must be a timestamp');
      return new Date(t);
    }
    case 'blob':
      return Buffer.from(raw, 'base64');
    default:
      throw invalid(where, `unsupported type ${s.type}`);
  }
}

function checkLength(where: string, n: number, s: QueryShape): void {
  if (s.min !== undefined && n < s.min) throw invalid(where, `Member must have length greater than or equal to ${s.min}`);
  if (s.max !== undefined && n > s.max) throw invalid(where, `Member must have length less than or equal to ${s.max}`);
}

const escapeXml = (v: string): string => v.replace(/[&<>"']/g, (c) => `&${{ '&': 'amp', '<': 'lt', '>': 'gt', '"': 'quot', "'": 'apos' }[c]};`);

function encodeValue(service: QueryService, shapeName: string, value: unknown): string {
  const s = shapeOf(service, shapeName);
  switch (s.type) {
    case 'structure': {
      const obj = value as Record<string, unknown>;
      let out = '';
      for (const [member, ref] of Object.entries(s.members ?? {})) {
        const v = obj[member];
        if (v === undefined || v === null) continue;
        const tag = ref.locationName ?? member;
        const inner = shapeOf(service, ref.shape);
        if (inner.type === 'list' && inner.flattened) {
          for (const item of v as unknown[]) out += `<${tag}>${encodeValue(service, inner.member!, item)}</${tag}>`;
        } else {
          out += `<${tag}>${encodeValue(service, ref.shape, v)}</${tag}>`;
        }
      }
      return out;
    }
    case 'list': {
      const tag = s.memberName ?? 'member';
      return (value as unknown[]).map((item) => `<${tag}>${encodeValue(service, s.member!, item)}</${tag}>`).join('');
    }
    case 'map':
      return Object.entries(value as Record<string, unknown>)
        .map(([k, v]) => `<entry><key>${encodeValue(service, s.key!, k)}</key><value>${encodeValue(service, s.value!, v)}</value></entry>`)
        .join('');
    case 'timestamp':
      return (value instanceof Date ? value : new Date(value as number)).toISOString().replace(/\.\d{3}Z$/, 'Z');
    case 'boolean':
      return value ? 'true' : 'false';
    default:
      return escapeXml(String(value));
  }
}

/** The XML body of a successful call. */
export function encodeOutput(service: QueryService, operation: string, output: unknown, requestId: string): string {
  const op = service.operations[operation]!;
  const result = op.output && op.resultWrapper ? `<${op.resultWrapper}>${encodeValue(service, op.output, output ?? {})}</${op.resultWrapper}>` : '';
  return `<${operation}Response xmlns="${service.xmlNamespace}">${result}<ResponseMetadata><RequestId>${escapeXml(requestId)}</RequestId></ResponseMetadata></${operation}Response>`;
}

/** The XML body of an error. */
export function encodeError(service: QueryService, code: string, message: string, sender: boolean, requestId: string): string {
  return (
    `<ErrorResponse xmlns="${service.xmlNamespace}"><Error><Type>${sender ? 'Sender' : 'Receiver'}</Type><Code>${escapeXml(code)}</Code>` +
    `<Message>${escapeXml(message)}</Message></Error><RequestId>${escapeXml(requestId)}</RequestId></ErrorResponse>`
  );
}
