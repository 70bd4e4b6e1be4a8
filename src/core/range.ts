import { BerthError } from './errors.js';

export interface ByteRange {
  start: number;
  /** Inclusive end. */
  end: number;
}

/**
 * Parses an HTTP `Range: bytes=...` header against an object of `size` bytes.
 * Returns null when the header is absent or not a single byte range (served in full,
 * as RFC 9110 allows); throws RANGE_NOT_SATISFIABLE when it cannot be satisfied.
 */
export function parseRangeHeader(header: string | undefined, size: number): ByteRange | null {
  if (header === undefined) return null;
  const m = /^bytes=(\d*)-(\d*)$/.exec(header.trim());
  if (!m || (m[1] === '' && m[2] === '')) return null;
  let start: number;
  let end: number;
  if (m[1] === '') {
    const suffix = Number(m[2]);
    if (suffix === 0) throw unsatisfiable(size);
    start = Math.max(0, size - suffix);
    end = size - 1;
  } else {
    start = Number(m[1]);
    end = m[2] === '' ? size - 1 : Math.min(Number(m[2]), size - 1);
    if (m[2] !== '' && Number(m[2]) < start) return null;
  }
  if (!Number.isSafeInteger(start) || start >= size) throw unsatisfiable(size);
  return { start, end };
}

function unsatisfiable(size: number): BerthError {
  return new BerthError('RANGE_NOT_SATISFIABLE', `requested range is not satisfiable for ${size} bytes`, { detail: { size } });
}

/**
 * Parses an upload chunk's `Content-Range` (`start-end`, optionally prefixed by `bytes ` or `bytes=`).
 */
export function parseChunkRange(header: string): ByteRange {
  const m = /^(?:bytes[ =])?(\d+)-(\d+)(?:\/(?:\d+|\*))?$/.exec(header.trim());
  if (!m) throw new BerthError('UPLOAD_INVALID', `invalid Content-Range "${header.slice(0, 100)}"`);
  const start = Number(m[1]);
  const end = Number(m[2]);
  if (end < start) throw new BerthError('UPLOAD_OUT_OF_ORDER', `Content-Range ${start}-${end} ends before it starts`);
  return { start, end };
}
