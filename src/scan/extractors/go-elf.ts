/**
 * The part of an ELF file the Go build-info reader needs: the loadable segments (file offset ↔ virtual address),
 * from the program header table near the start of the file. ELF32/ELF64, either byte order.
 */

export interface ElfSegment {
  offset: number;
  vaddr: number;
  filesz: number;
}

export interface ElfInfo {
  bigEndian: boolean;
  is64: boolean;
  segments: ElfSegment[];
}

export const ELF_MAGIC = Buffer.from([0x7f, 0x45, 0x4c, 0x46]);
const PT_LOAD = 1;

/** Bytes needed from the file's start to read its program headers, or undefined if `head` is too short to tell. */
export function elfHeadNeeded(head: Buffer): number | undefined {
  if (head.length < 64) return undefined;
  const is64 = head[4] === 2;
  const be = head[5] === 2;
  const u16 = (o: number): number => (be ? head.readUInt16BE(o) : head.readUInt16LE(o));
  const phoff = is64 ? Number(be ? head.readBigUInt64BE(0x20) : head.readBigUInt64LE(0x20)) : be ? head.readUInt32BE(0x1c) : head.readUInt32LE(0x1c);
  const phentsize = u16(is64 ? 0x36 : 0x2a);
  const phnum = u16(is64 ? 0x38 : 0x2c);
  return phoff + phentsize * phnum;
}

/** Parses the ELF header and program headers; `head` must hold `elfHeadNeeded(head)` bytes. */
export function parseElf(head: Buffer): ElfInfo {
  if (!head.subarray(0, 4).equals(ELF_MAGIC)) throw new Error('not an ELF file');
  const is64 = head[4] === 2;
  const be = head[5] === 2;
  const u16 = (o: number): number => (be ? head.readUInt16BE(o) : head.readUInt16LE(o));
  const u32 = (o: number): number => (be ? head.readUInt32BE(o) : head.readUInt32LE(o));
  const u64 = (o: number): number => Number(be ? head.readBigUInt64BE(o) : head.readBigUInt64LE(o));
  const phoff = is64 ? u64(0x20) : u32(0x1c);
  const phentsize = u16(is64 ? 0x36 : 0x2a);
  const phnum = u16(is64 ? 0x38 : 0x2c);
  const segments: ElfSegment[] = [];
  for (let i = 0; i < phnum; i++) {
    const p = phoff + i * phentsize;
    if (p + (is64 ? 56 : 32) > head.length) break;
    if (u32(p) !== PT_LOAD) continue;
    segments.push(
      is64
        ? { offset: u64(p + 8), vaddr: u64(p + 16), filesz: u64(p + 32) }
        : { offset: u32(p + 4), vaddr: u32(p + 8), filesz: u32(p + 16) },
    );
  }
  return { bigEndian: be, is64, segments };
}

/** The file offset holding virtual address `va`, or undefined when no loadable segment maps it from the file. */
export function fileOffsetOf(elf: ElfInfo, va: number): number | undefined {
  for (const s of elf.segments) if (va >= s.vaddr && va < s.vaddr + s.filesz) return s.offset + (va - s.vaddr);
  return undefined;
}
