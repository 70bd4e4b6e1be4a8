import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { scanLayers } from '../index.js';
import { fixture, readFixture } from '../fixtures.test-support.js';
import { bufferLayer, tarLayer } from '../walker/layers.test-support.js';
import { BUILDINFO_MAGIC, GoBuildInfoReader, goPackages, MODINFO_END, MODINFO_START, parseModInfo, type GoBuildInfo } from './go-buildinfo.js';
import { wantsGoBinary } from './go-binary.js';
import { buildElf } from './go-elf.test-support.js';

const go = fixture('go', 'Go build info of buf and runc (real fixtures)');

/** Feeds a file to the reader in chunks of `size` bytes, as the walker would. */
function read(file: Buffer, size: number): { info: GoBuildInfo | undefined; error: string | undefined } {
  const r = new GoBuildInfoReader();
  for (let i = 0; i < file.length; i += size) if (!r.write(file.subarray(i, i + size))) break;
  return { info: r.result(), error: r.error };
}

/** An ELF whose data segment holds the real `.go.buildinfo` section, after an unaligned decoy of the magic. */
function elfWithSection(section: Buffer): Buffer {
  const decoy = Buffer.concat([Buffer.alloc(3), BUILDINFO_MAGIC, Buffer.from([8, 2, 0, 0]), Buffer.from('\x08go9.9.9\x00')]);
  return buildElf([
    { offset: 0x1000, vaddr: 0x401000, data: Buffer.concat([Buffer.from('rodata go1.0 text'), decoy]) },
    { offset: 0x2000, vaddr: 0x602000, data: section },
  ]);
}

interface ModulesJson {
  go_version: string;
  path: string;
  main: { module: string; version: string } | null;
  deps: Array<{ module: string; version: string; sum: string }>;
  build: Record<string, string>;
}

describe.skipIf(!go.present)(go.title, () => {
  for (const name of ['buf', 'runc']) {
    it(`${name}: Go version, path, modules and build settings as go version -m reports them, whatever the chunking`, () => {
      const expected = JSON.parse(readFixture(`go/${name}.modules.json`)) as ModulesJson;
      const file = elfWithSection(readFileSync(join(go.path, `${name}.go.buildinfo.bin`)));
      for (const size of [1, 7, 16, 4096, file.length]) {
        const { info, error } = read(file, size);
        expect(error, `chunk ${size}`).toBeUndefined();
        expect(info?.goVersion).toBe(expected.go_version);
        expect(info?.path).toBe(expected.path);
        expect(info?.main ? { module: info.main.path, version: info.main.version } : null).toEqual(expected.main);
        expect(info?.deps.map((d) => ({ module: d.path, version: d.version, sum: d.sum }))).toEqual(expected.deps);
        expect(info?.settings).toEqual(expected.build);
      }
    });
  }

  it('reports stdlib at the Go version and every dep as Go packages, found in an executable of an image', async () => {
    const expected = JSON.parse(readFixture('go/buf.modules.json')) as ModulesJson;
    const buf = elfWithSection(readFileSync(join(go.path, 'buf.go.buildinfo.bin')));
    const runc = elfWithSection(readFileSync(join(go.path, 'runc.go.buildinfo.bin')));
    const inv = await scanLayers([
      bufferLayer(
        await tarLayer([
          { name: 'app/node_modules/@bufbuild/buf-linux-x64/bin/buf', content: buf, mode: 0o644 },
          { name: 'usr/sbin/runc', content: runc, mode: 0o755 },
          { name: 'usr/local/bin/script', content: `#!/bin/sh\n${'echo go1.2\n'.repeat(200)}`, mode: 0o755 },
        ]),
      ),
    ]);
    expect(inv.errors).toEqual([]);
    const of = (path: string) => inv.packages.filter((p) => p.path === path).map((p) => [p.ecosystem, p.name, p.version]);
    expect(of('/app/node_modules/@bufbuild/buf-linux-x64/bin/buf')).toEqual([
      ['Go', 'stdlib', 'v1.19.5'],
      ...expected.deps.map((d) => ['Go', d.module, d.version]),
    ]);
    expect(of('/usr/sbin/runc')).toEqual([['Go', 'stdlib', 'v1.19.8']]);
    expect(inv.packages.find((p) => p.name === 'github.com/docker/docker')?.purl).toBe('pkg:golang/github.com/docker/docker@v23.0.0%2Bincompatible');
  });
});

/** A Go 1.13-1.17 style binary: the header points at string headers in .data whose bytes are in .rodata. */
function pointerFormatElf(opts: { is64: boolean; bigEndian: boolean }, version: string, modinfo: string): Buffer {
  const ps = opts.is64 ? 8 : 4;
  const be = opts.bigEndian;
  const ptr = (v: number): Buffer => {
    const b = Buffer.alloc(ps);
    if (ps === 8) (be ? b.writeBigUInt64BE(BigInt(v)) : b.writeBigUInt64LE(BigInt(v)));
    else be ? b.writeUInt32BE(v) : b.writeUInt32LE(v);
    return b;
  };
  const roVa = 0x401000;
  const dataVa = 0x602000;
  const mod = Buffer.concat([MODINFO_START, Buffer.from(modinfo), MODINFO_END]);
  const rodata = Buffer.alloc(0x400);
  rodata.write('go1.99.9 is a decoy', 0x20);
  rodata.write(`${version}0123456789abcdef`, 0x80); // packed: the length tells where the version ends
  mod.copy(rodata, 0x100);
  const data = Buffer.alloc(0x200);
  Buffer.concat([BUILDINFO_MAGIC, Buffer.from([ps, be ? 1 : 0]), ptr(dataVa + 0x100), ptr(dataVa + 0x120)]).copy(data, 0);
  Buffer.concat([ptr(roVa + 0x80), ptr(version.length)]).copy(data, 0x100);
  Buffer.concat([ptr(roVa + 0x100), ptr(mod.length)]).copy(data, 0x120);
  return buildElf(
    [
      { offset: 0x1000, vaddr: roVa, data: rodata },
      { offset: 0x2000, vaddr: dataVa, data },
    ],
    opts,
  );
}

describe('Go build info, pointer format (Go 1.13-1.17)', () => {
  const modinfo = 'path\texample.com/cmd/app\nmod\texample.com\tv1.2.3\th1:x=\ndep\tgolang.org/x/text\tv0.3.5\th1:y=\n=>\tgolang.org/x/text\tv0.3.8\th1:z=\ndep\texample.com/local\tv0.0.0\t\n=>\t../local\t\t\n';
  it.each([
    ['ELF64 little-endian', { is64: true, bigEndian: false }],
    ['ELF32 big-endian', { is64: false, bigEndian: true }],
  ])('%s: resolves the strings through the program headers', (_label, opts) => {
    const file = pointerFormatElf(opts, 'go1.16.15', modinfo);
    for (const size of [1, 5, 64, file.length]) {
      const { info, error } = read(file, size);
      expect(error).toBeUndefined();
      expect(info?.goVersion).toBe('go1.16.15');
      expect(goPackages(info as GoBuildInfo)).toEqual([
        { name: 'stdlib', version: 'v1.16.15' },
        { name: 'example.com', version: 'v1.2.3' },
        { name: 'golang.org/x/text', version: 'v0.3.8' },
      ]);
    }
  });

  it('reports an error, not a guess, when the strings cannot be resolved', () => {
    const file = pointerFormatElf({ is64: true, bigEndian: false }, 'go1.16.15', modinfo);
    file.writeBigUInt64LE(0x999999n, 0x2000 + 16); // version string header pointer outside every segment
    const { info, error } = read(file, 4096);
    expect(info).toBeUndefined();
    expect(error).toMatch(/address 0x999999 is not in the file/);
  });
});

describe('Go binary selection and parsing', () => {
  it('wants executables and files in bin directories, of at least 1 KiB', () => {
    expect(wantsGoBinary({ path: '/ko-app/server', size: 5000, mode: 0o755 })).toBe(true);
    expect(wantsGoBinary({ path: '/x/bin/tool', size: 5000, mode: 0o644 })).toBe(true);
    expect(wantsGoBinary({ path: '/usr/share/doc/readme', size: 5000, mode: 0o644 })).toBe(false);
    expect(wantsGoBinary({ path: '/usr/bin/tiny', size: 100, mode: 0o755 })).toBe(false);
  });

  it('ignores files that are not ELF after their first bytes', () => {
    const r = new GoBuildInfoReader();
    expect(r.write(Buffer.from('#!/bin/sh\n'))).toBe(false);
    expect(r.result()).toBeUndefined();
    expect(r.error).toBeUndefined();
  });

  it('skips (devel) main modules and local replacements; keeps versioned replacements', () => {
    const info = { goVersion: 'go1.21.3 X:boringcrypto', ...parseModInfo('mod\tx\t(devel)\t\ndep\ta\tv1.0.0\t\n=>\tb\tv2.0.0\t\n') };
    expect(goPackages(info)).toEqual([
      { name: 'stdlib', version: 'v1.21.3' },
      { name: 'b', version: 'v2.0.0' },
    ]);
  });
});

describe('Go build info on hostile input', () => {
  it('keeps a bounded number of module-info captures however many sentinels a file holds', () => {
    const junk = Buffer.concat(Array.from({ length: 2000 }, () => Buffer.concat([MODINFO_START, Buffer.alloc(100, 0x61)])));
    const file = buildElf([{ offset: 0x1000, vaddr: 0x401000, data: junk }]);
    const r = new GoBuildInfoReader({ maxInfoBytes: 64 * 1024, maxCandidates: 4096, maxInfoCandidates: 4 });
    for (let i = 0; i < file.length; i += 4096) r.write(file.subarray(i, i + 4096));
    expect((r as unknown as { taps: unknown[] }).taps.length).toBeLessThanOrEqual(4);
    expect(r.result()).toBeUndefined();
  });
});
