// Builds minimal ELF files for the Go build-info tests: an ELF header, a program header table of PT_LOAD
// segments, and each segment's bytes at its file offset. Enough for a reader that maps addresses to offsets.
export interface TestSegment {
  offset: number;
  vaddr: number;
  data: Buffer;
}

export function buildElf(segments: TestSegment[], opts: { is64?: boolean; bigEndian?: boolean; size?: number } = {}): Buffer {
  const is64 = opts.is64 ?? true;
  const be = opts.bigEndian ?? false;
  const ehsize = is64 ? 64 : 52;
  const phentsize = is64 ? 56 : 32;
  const end = Math.max(opts.size ?? 0, ...segments.map((s) => s.offset + s.data.length), ehsize + phentsize * segments.length);
  const f = Buffer.alloc(end);
  const u16 = (v: number, o: number): number => (be ? f.writeUInt16BE(v, o) : f.writeUInt16LE(v, o));
  const u32 = (v: number, o: number): number => (be ? f.writeUInt32BE(v, o) : f.writeUInt32LE(v, o));
  const u64 = (v: number, o: number): number => (be ? f.writeBigUInt64BE(BigInt(v), o) : f.writeBigUInt64LE(BigInt(v), o));
  f.set([0x7f, 0x45, 0x4c, 0x46, is64 ? 2 : 1, be ? 2 : 1, 1], 0);
  u16(2, 16); // ET_EXEC
  u16(is64 ? 62 : 3, 18);
  u32(1, 20);
  if (is64) {
    u64(ehsize, 0x20);
    u16(ehsize, 0x34);
    u16(phentsize, 0x36);
    u16(segments.length, 0x38);
  } else {
    u32(ehsize, 0x1c);
    u16(ehsize, 0x28);
    u16(phentsize, 0x2a);
    u16(segments.length, 0x2c);
  }
  segments.forEach((s, i) => {
    const p = ehsize + i * phentsize;
    u32(1, p); // PT_LOAD
    if (is64) {
      u32(4, p + 4);
      u64(s.offset, p + 8);
      u64(s.vaddr, p + 16);
      u64(s.vaddr, p + 24);
      u64(s.data.length, p + 32);
      u64(s.data.length, p + 40);
    } else {
      u32(s.offset, p + 4);
      u32(s.vaddr, p + 8);
      u32(s.vaddr, p + 12);
      u32(s.data.length, p + 16);
      u32(s.data.length, p + 20);
    }
    s.data.copy(f, s.offset);
  });
  return f;
}
