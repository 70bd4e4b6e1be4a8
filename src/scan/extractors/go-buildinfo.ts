/**
 * Reads the build information the Go linker embeds in executables (what `go version -m` prints), in one pass
 * over a stream, keeping only small windows of the file.
 *
 * The build info starts with a 32-byte header: `\xff Go buildinf:`, pointer size, flags, at a 16-byte aligned
 * offset of the data segment. Two layouts follow the flags:
 * - Go 1.18+ (flag 2, "inline"): the Go version and the module info follow the header as two
 *   varint-length-prefixed strings. They are captured right after the header.
 * - Go 1.13-1.17 ("pointer"): the header holds two addresses of Go string headers (`runtime.buildVersion`,
 *   `runtime.modinfo`), which hold the address and length of the bytes. The string headers lie after the build
 *   info (data segment), but their bytes lie before it (read-only data), already streamed past. So, before the
 *   header is seen, the reader remembers every place where a version (`go1.`, 48 bytes) or a module info (between
 *   the 16-byte sentinels the go command wraps it in) starts, by file offset, and afterwards resolves the
 *   addresses through the ELF program headers to those offsets. Memory: at most `maxCandidates` windows of 48
 *   bytes and `maxInfoCandidates` module-info captures of at most `maxInfoBytes` each, whatever the file holds.
 */
import { fromToolchain } from '../../core/vuln/versions/go.js';
import { ELF_MAGIC, elfHeadNeeded, fileOffsetOf, parseElf, type ElfInfo } from './go-elf.js';

export const BUILDINFO_MAGIC = Buffer.from('\xff Go buildinf:', 'latin1');
export const MODINFO_START = Buffer.from('3077af0c9274080241e1c107e6d618e6', 'hex');
export const MODINFO_END = Buffer.from('f932433186182072008242104116d8f2', 'hex');
const GO_PREFIX = Buffer.from('go1.', 'latin1');
const CARRY = 15; // longest pattern minus one
const VERSION_WINDOW = 48;
const MAX_ELF_HEAD = 64 * 1024;

export interface GoModule {
  path: string;
  version: string;
  sum?: string;
}

export interface GoBuildInfo {
  goVersion: string;
  path?: string;
  main?: GoModule;
  deps: GoModule[];
  settings: Record<string, string>;
}

export interface GoBuildInfoLimits {
  /** Largest build info (inline strings, or one module-info capture). */
  maxInfoBytes: number;
  /** Version windows remembered for the pointer layout. */
  maxCandidates: number;
  /** Module-info captures (each up to `maxInfoBytes`); a real binary has one. */
  maxInfoCandidates: number;
}

interface Tap {
  start: number;
  length: number;
  data: Buffer;
  /** Called after each append; returns true when the tap needs no more bytes. */
  onData?(data: Buffer): boolean;
  onDone(data: Buffer): void;
  closed?: boolean;
}

/** Parses `go version -m` style module info text. */
export function parseModInfo(text: string): Omit<GoBuildInfo, 'goVersion'> {
  const info: Omit<GoBuildInfo, 'goVersion'> = { deps: [], settings: {} };
  let last: GoModule | undefined;
  let lastIsMain = false;
  const mod = (f: string[]): GoModule => {
    const m: GoModule = { path: f[1] ?? '', version: f[2] ?? '' };
    if (f[3]) m.sum = f[3];
    return m;
  };
  for (const line of text.split('\n')) {
    const f = line.split('\t');
    switch (f[0]) {
      case 'path':
        info.path = f[1] ?? '';
        break;
      case 'mod':
        info.main = last = mod(f);
        lastIsMain = true;
        break;
      case 'dep':
        last = mod(f);
        info.deps.push(last);
        lastIsMain = false;
        break;
      case '=>': {
        if (!last) break;
        const r = mod(f);
        if (lastIsMain) info.main = r;
        else info.deps[info.deps.length - 1] = r;
        last = r;
        break;
      }
      case 'build': {
        const kv = f.slice(1).join('\t');
        const eq = kv.indexOf('=');
        if (eq > 0) info.settings[kv.slice(0, eq)] = kv.slice(eq + 1);
        break;
      }
    }
  }
  return info;
}

const stripSentinels = (b: Buffer): Buffer =>
  b.length >= 33 && b.subarray(0, 16).equals(MODINFO_START) && b.subarray(b.length - 16).equals(MODINFO_END) ? b.subarray(16, b.length - 16) : b;

function uvarint(b: Buffer, pos: number): { value: number; next: number } | undefined {
  let value = 0;
  let mul = 1;
  for (let i = pos; i < b.length && i < pos + 10; i++) {
    const byte = b[i] as number;
    value += (byte & 0x7f) * mul;
    if (byte < 0x80) return { value, next: i + 1 };
    mul *= 128;
  }
  return undefined;
}

/** The two strings of the inline layout, or undefined until `b` holds both. */
function inlineStrings(b: Buffer): [Buffer, Buffer] | undefined {
  const l1 = uvarint(b, 0);
  if (!l1 || l1.next + l1.value > b.length) return undefined;
  const l2 = uvarint(b, l1.next + l1.value);
  if (!l2 || l2.next + l2.value > b.length) return undefined;
  return [b.subarray(l1.next, l1.next + l1.value), b.subarray(l2.next, l2.next + l2.value)];
}

export class GoBuildInfoReader {
  private offset = 0;
  private headParts: Buffer[] = [];
  private headLength = 0;
  private elf: ElfInfo | undefined;
  private carry: Buffer = Buffer.alloc(0);
  private taps: Tap[] = [];
  private sawHeader = false;
  private readonly versions = new Map<number, Buffer>();
  private readonly modinfos = new Map<number, Buffer>();
  private candidates = 0;
  private infoCandidates = 0;
  private goVersion: Buffer | undefined;
  private modinfo: Buffer | undefined;
  private done = false;
  /** Why build info that was found could not be read. */
  error: string | undefined;

  constructor(private readonly limits: GoBuildInfoLimits = { maxInfoBytes: 1024 * 1024, maxCandidates: 4096, maxInfoCandidates: 4 }) {}

  /** Feeds the next bytes; false once nothing more is needed (done, failed, or not an ELF file). */
  write(chunk: Buffer): boolean {
    if (this.done) return false;
    if (this.offset === 0 && chunk.length >= 4 && !chunk.subarray(0, 4).equals(ELF_MAGIC)) return this.stop();
    this.collectHead(chunk);
    const base = this.offset - this.carry.length;
    const buf = this.carry.length > 0 ? Buffer.concat([this.carry, chunk]) : chunk;
    this.search(buf, base);
    this.feed(buf, base);
    this.offset += chunk.length;
    this.carry = buf.subarray(Math.max(0, buf.length - CARRY));
    return !this.done;
  }

  /** The build info, once the file ended or `write` returned false; undefined when there is none. */
  result(): GoBuildInfo | undefined {
    if (!this.goVersion) {
      if (this.sawHeader && !this.error) this.error = 'Go build info header found but its strings could not be read';
      return undefined;
    }
    const goVersion = this.goVersion.toString('utf8');
    const text = this.modinfo ? stripSentinels(this.modinfo).toString('utf8') : '';
    return { goVersion, ...parseModInfo(text) };
  }

  private stop(error?: string): false {
    if (error) this.error ??= error;
    this.done = true;
    this.taps = [];
    return false;
  }

  private collectHead(chunk: Buffer): void {
    if (this.elf || this.headLength >= MAX_ELF_HEAD) return;
    this.headParts.push(chunk.subarray(0, MAX_ELF_HEAD - this.headLength));
    this.headLength += Math.min(chunk.length, MAX_ELF_HEAD - this.headLength);
    const head = Buffer.concat(this.headParts);
    const need = elfHeadNeeded(head);
    if (need !== undefined && head.length >= Math.min(need, MAX_ELF_HEAD)) {
      try {
        this.elf = parseElf(head);
      } catch {
        this.stop();
      }
      this.headParts = [];
    }
  }

  private occurrences(buf: Buffer, pattern: Buffer, fn: (i: number) => void): void {
    for (let i = buf.indexOf(pattern); i >= 0; i = buf.indexOf(pattern, i + 1)) {
      if (i + pattern.length > this.carry.length) fn(i); // matches wholly inside the carry were seen before
    }
  }

  private search(buf: Buffer, base: number): void {
    if (this.sawHeader) return;
    let header = buf.length;
    this.occurrences(buf, BUILDINFO_MAGIC, (i) => {
      if (header < buf.length || (base + i) % 16 !== 0) return;
      header = i;
    });
    // Candidates for the pointer layout, whose strings come before the header (in this buffer too).
    this.occurrences(buf, GO_PREFIX, (i) => {
      if (i >= header || this.candidates >= this.limits.maxCandidates) return;
      this.candidates++;
      this.tap(base + i, VERSION_WINDOW, (b) => this.versions.set(base + i, b));
    });
    this.occurrences(buf, MODINFO_START, (i) => {
      if (i >= header || this.infoCandidates >= this.limits.maxInfoCandidates) return;
      this.infoCandidates++;
      const ends = (d: Buffer): number => d.indexOf(MODINFO_END, 16);
      this.tap(base + i, this.limits.maxInfoBytes, (b) => this.modinfos.set(base + i, ends(b) >= 0 ? b.subarray(0, ends(b) + 16) : b), (d) => ends(d) >= 0);
    });
    if (header < buf.length) {
      this.sawHeader = true;
      this.tap(base + header, 32, (h) => this.header(h, base + header + 32));
    }
  }

  private tap(start: number, length: number, onDone: (b: Buffer) => void, until?: (d: Buffer) => boolean): void {
    const t: Tap = { start, length, data: Buffer.alloc(0), onDone };
    if (until) t.onData = until;
    this.taps.push(t);
  }

  /** Appends to every open tap the bytes of `buf` it still needs. New taps made by callbacks are fed in the same pass. */
  private feed(buf: Buffer, base: number): void {
    for (let k = 0; k < this.taps.length && !this.done; k++) {
      const t = this.taps[k] as Tap;
      const next = t.start + t.data.length;
      if (next < base) {
        t.closed = true; // its bytes went by before it was opened
        continue;
      }
      const from = next - base;
      if (from >= buf.length) continue;
      const take = buf.subarray(from, from + (t.length - t.data.length));
      t.data = t.data.length === 0 ? Buffer.from(take) : Buffer.concat([t.data, take]);
      const enough = t.onData?.(t.data) === true;
      if (enough || t.data.length >= t.length) {
        t.closed = true;
        t.onDone(t.data);
      }
    }
    this.taps = this.taps.filter((t) => !t.closed);
  }

  private header(h: Buffer, after: number): void {
    const ptrSize = h[14] as number;
    const flags = h[15] as number;
    if ((flags & 2) !== 0) {
      this.versions.clear();
      this.modinfos.clear();
      this.tap(after, this.limits.maxInfoBytes, () => {
        if (!this.goVersion) this.stop(`Go build info larger than ${this.limits.maxInfoBytes} bytes`);
      }, (d) => {
        const s = inlineStrings(d);
        if (!s) return false;
        [this.goVersion, this.modinfo] = s;
        this.stop();
        return true;
      });
      return;
    }
    if (ptrSize !== 4 && ptrSize !== 8) {
      this.stop(`Go build info with pointer size ${ptrSize}`);
      return;
    }
    if (!this.elf) {
      this.stop('Go build info in pointer format needs the ELF program headers');
      return;
    }
    const elf = this.elf;
    const be = (flags & 1) !== 0;
    const ptr = (b: Buffer, o: number): number =>
      ptrSize === 8 ? Number(be ? b.readBigUInt64BE(o) : b.readBigUInt64LE(o)) : be ? b.readUInt32BE(o) : b.readUInt32LE(o);
    const resolve = (va: number, into: 'goVersion' | 'modinfo', found: Map<number, Buffer>): void => {
      const off = fileOffsetOf(elf, va);
      if (off === undefined) return void this.stop(`Go build info address 0x${va.toString(16)} is not in the file`);
      this.tap(off, 2 * ptrSize, (sh) => {
        const dataVa = ptr(sh, 0);
        const len = ptr(sh, ptrSize);
        if (len === 0) this[into] = Buffer.alloc(0);
        else {
          const dataOff = fileOffsetOf(elf, dataVa);
          const cand = dataOff === undefined ? undefined : found.get(dataOff);
          if (!cand || cand.length < len) return void this.stop(`Go build info string at 0x${dataVa.toString(16)} was not captured`);
          this[into] = cand.subarray(0, len);
        }
        if (this.goVersion && this.modinfo) this.stop();
      });
    };
    resolve(ptr(h, 16), 'goVersion', this.versions);
    resolve(ptr(h, 16 + ptrSize), 'modinfo', this.modinfos);
  }
}

/** The packages a Go binary's build info names: `stdlib` at the Go version, the main module when versioned, and the deps. */
export function goPackages(info: GoBuildInfo): Array<{ name: string; version: string }> {
  const out: Array<{ name: string; version: string }> = [];
  const toolchain = fromToolchain(info.goVersion.split(' ')[0] ?? '');
  if (toolchain) out.push({ name: 'stdlib', version: toolchain });
  if (info.main && info.main.version !== '' && info.main.version !== '(devel)') out.push({ name: info.main.path, version: info.main.version });
  // A dep replaced by a local directory has no version (`=> ../x`): it is the app's own code, not a module release.
  for (const d of info.deps) if (d.version !== '') out.push({ name: d.path, version: d.version });
  return out;
}
