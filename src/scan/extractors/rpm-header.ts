/**
 * Reads an rpm header blob as rpmdb stores it (the header without its 8-byte magic; see rpm's
 * `headerImport`): a 4-byte big-endian index count `il`, a 4-byte data length `dl`, `il` index entries of
 * 16 bytes (tag, type, offset, count; big-endian) and `dl` bytes of data. Only the tags a scan needs are read,
 * and every offset is checked against the blob, so a corrupt header throws instead of reading out of bounds.
 */

export const RPMTAG = {
  NAME: 1000,
  VERSION: 1001,
  RELEASE: 1002,
  EPOCH: 1003,
  VENDOR: 1011,
  ARCH: 1022,
  SOURCERPM: 1044,
} as const;

const TYPE_INT32 = 4;
const TYPE_STRING = 6;
const TYPE_STRING_ARRAY = 8;
const TYPE_I18NSTRING = 9;
const MAX_INDEX = 0xffff;

export interface RpmHeaderFields {
  name?: string;
  version?: string;
  release?: string;
  epoch?: number;
  arch?: string;
  sourceRpm?: string;
  vendor?: string;
}

export function readRpmHeader(blob: Buffer): RpmHeaderFields {
  if (blob.length < 8) throw new Error('rpm header shorter than 8 bytes');
  const il = blob.readUInt32BE(0);
  const dl = blob.readUInt32BE(4);
  if (il === 0 || il > MAX_INDEX) throw new Error(`rpm header index count ${il} out of range`);
  const dataStart = 8 + il * 16;
  if (dataStart + dl > blob.length) throw new Error('rpm header data beyond the blob');
  const data = blob.subarray(dataStart, dataStart + dl);
  const cstring = (off: number): string => {
    if (off < 0 || off >= data.length) throw new Error('rpm header string offset out of range');
    const end = data.indexOf(0, off);
    if (end < 0) throw new Error('rpm header string not terminated');
    return data.toString('utf8', off, end);
  };
  const out: RpmHeaderFields = {};
  for (let i = 0; i < il; i++) {
    const e = 8 + i * 16;
    const tag = blob.readUInt32BE(e);
    const type = blob.readUInt32BE(e + 4);
    const off = blob.readInt32BE(e + 8);
    const count = blob.readUInt32BE(e + 12);
    const str = (): string | undefined =>
      type === TYPE_STRING || ((type === TYPE_STRING_ARRAY || type === TYPE_I18NSTRING) && count > 0) ? cstring(off) : undefined;
    switch (tag) {
      case RPMTAG.NAME: {
        const v = str();
        if (v !== undefined) out.name = v;
        break;
      }
      case RPMTAG.VERSION: {
        const v = str();
        if (v !== undefined) out.version = v;
        break;
      }
      case RPMTAG.RELEASE: {
        const v = str();
        if (v !== undefined) out.release = v;
        break;
      }
      case RPMTAG.ARCH: {
        const v = str();
        if (v !== undefined) out.arch = v;
        break;
      }
      case RPMTAG.SOURCERPM: {
        const v = str();
        if (v !== undefined) out.sourceRpm = v;
        break;
      }
      case RPMTAG.VENDOR: {
        const v = str();
        if (v !== undefined) out.vendor = v;
        break;
      }
      case RPMTAG.EPOCH:
        if (type === TYPE_INT32 && count >= 1) {
          if (off < 0 || off + 4 > data.length) throw new Error('rpm header epoch offset out of range');
          out.epoch = data.readInt32BE(off);
        }
        break;
    }
  }
  return out;
}

/** `openssl-3.0.7-24.el9.src.rpm` → name `openssl`, version `3.0.7`, release `24.el9`. */
export function parseSourceRpm(file: string): { name: string; version: string; release: string } | undefined {
  const m = /^(.+)-([^-]+)-([^-]+)\.(?:no)?src\.rpm$/.exec(file);
  return m ? { name: m[1] as string, version: m[2] as string, release: m[3] as string } : undefined;
}
