// The layer walker on layers built here: compression detection, OCI whiteouts and opaque directories,
// layer attribution, and hostile layers (bombs, escaping paths, links out of the tree, truncation, huge
// headers), each of which must end as a recorded layer status, never as a crash or a hang.
import { Readable } from 'node:stream';
import { gzipSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { scanLayers } from '../index.js';
import type { InventoryPackage } from '../inventory.js';
import { dpkgExtractor } from '../extractors/dpkg.js';
import { npmExtractor } from '../extractors/npm.js';
import { osReleaseExtractor } from '../extractors/os-release.js';
import {
  bufferLayer,
  generatedLayer,
  gzip,
  rawTarHeader,
  TAR_END,
  tarBlocks,
  tarLayer,
  zstdCli,
  zstdCliPath,
  zstdRleBomb,
  zstdStored,
} from './layers.test-support.js';
import type { Extractor } from './types.js';
import { walkLayers } from './walker.js';

const status = (...pkgs: Array<[string, string]>): string =>
  pkgs.map(([n, v]) => `Package: ${n}\nStatus: install ok installed\nArchitecture: amd64\nVersion: ${v}\n`).join('\n');
const npmPkg = (name: string, version: string): string => JSON.stringify({ name, version });
const OS = 'ID=debian\nVERSION_ID="12"\n';
const names = (pkgs: InventoryPackage[]): string[] => pkgs.map((p) => `${p.name}@${p.version}`).sort();

describe('compression', () => {
  const layerTar = (): Promise<Buffer> =>
    tarLayer([
      { name: 'etc/os-release', content: OS },
      { name: 'var/lib/dpkg/status', content: status(['bash', '5.2.15-2+b2'], ['zlib1g', '1:1.2.13.dfsg-1']) },
    ]);

  it.each([
    ['plain tar', (b: Buffer) => b, 'none'],
    ['gzip', gzip, 'gzip'],
    ['zstd (stored blocks)', (b: Buffer) => zstdStored(b), 'zstd'],
  ] as const)('reads a %s layer, detected from its bytes', async (_label, compress, expected) => {
    const layer = bufferLayer(compress(await layerTar()), 100, 'application/vnd.oci.image.layer.v1.tar');
    const inv = await scanLayers([layer]);
    expect(inv.layers[0]).toMatchObject({ status: 'ok', compression: expected });
    expect(inv.partial).toBe(false);
    expect(inv.packages.map((p) => [p.ecosystem, p.name, p.version])).toEqual([
      ['Debian:12', 'bash', '5.2.15-2+b2'],
      ['Debian:12', 'zlib1g', '1:1.2.13.dfsg-1'],
    ]);
  });

  it.skipIf(!zstdCliPath)(`reads a layer compressed by the zstd command${zstdCliPath ? '' : ' — SKIPPED: no zstd command on this machine'}`, async () => {
    const big = Buffer.from(status(...Array.from({ length: 3000 }, (_, i): [string, string] => [`pkg${i}`, `1.${i}`])));
    const inv = await scanLayers([bufferLayer(zstdCli(await tarLayer([{ name: 'var/lib/dpkg/status', content: big }])))]);
    expect(inv.layers[0]).toMatchObject({ status: 'ok', compression: 'zstd' });
    expect(inv.packages).toHaveLength(3000);
  });

  it('reads multi-frame zstd and multi-member gzip streams', async () => {
    const tarBytes = await layerTar();
    const half = Math.floor(tarBytes.length / 2);
    const zst = Buffer.concat([zstdStored(tarBytes.subarray(0, half)), zstdStored(tarBytes.subarray(half))]);
    const gz = Buffer.concat([gzipSync(tarBytes.subarray(0, half)), gzipSync(tarBytes.subarray(half))]);
    for (const bytes of [zst, gz]) {
      const inv = await scanLayers([bufferLayer(bytes, 7)]);
      expect(inv.layers[0]?.status).toBe('ok');
      expect(inv.packages).toHaveLength(2);
    }
  });
});

describe('layer order', () => {
  it('drops files deleted by a whiteout in a later layer', async () => {
    const l1 = bufferLayer(
      gzip(
        await tarLayer([
          { name: 'app/node_modules/lodash/package.json', content: npmPkg('lodash', '4.17.15') },
          { name: 'app/node_modules/minimist/package.json', content: npmPkg('minimist', '1.2.0') },
        ]),
      ),
    );
    const l2 = bufferLayer(gzip(await tarLayer([{ name: 'app/node_modules/.wh.lodash', content: '' }])));
    const inv = await scanLayers([l1, l2]);
    expect(names(inv.packages)).toEqual(['minimist@1.2.0']);
    // Without the second layer lodash is there: the whiteout is what removed it.
    expect(names((await scanLayers([l1])).packages)).toEqual(['lodash@4.17.15', 'minimist@1.2.0']);
  });

  it('hides lower content of an opaque directory but keeps the same layer entries, in any order', async () => {
    const l1 = bufferLayer(
      await tarLayer([
        { name: 'app/node_modules/a/package.json', content: npmPkg('a', '1.0.0') },
        { name: 'app/node_modules/b/package.json', content: npmPkg('b', '1.0.0') },
        { name: 'srv/node_modules/z/package.json', content: npmPkg('z', '1.0.0') },
      ]),
    );
    const l2 = bufferLayer(
      await tarLayer([
        { name: 'app/node_modules/c/package.json', content: npmPkg('c', '2.0.0') },
        { name: 'app/node_modules/.wh..wh..opq', content: '' },
        { name: 'app/node_modules/d/package.json', content: npmPkg('d', '2.0.0') },
      ]),
    );
    const inv = await scanLayers([l1, l2]);
    expect(names(inv.packages)).toEqual(['c@2.0.0', 'd@2.0.0', 'z@1.0.0']);
  });

  it('records the last layer that wrote a file: an upgrade in a later layer wins', async () => {
    const base = bufferLayer(
      await tarLayer([
        { name: 'etc/os-release', content: OS },
        { name: 'var/lib/dpkg/status', content: status(['openssl', '3.0.11-1~deb12u1'], ['bash', '5.2.15-2+b2']) },
      ]),
    );
    const upgrade = bufferLayer(gzip(await tarLayer([{ name: 'var/lib/dpkg/status', content: status(['openssl', '3.0.15-1~deb12u1'], ['bash', '5.2.15-2+b2']) }])));
    const inv = await scanLayers([base, upgrade]);
    expect(names(inv.packages)).toEqual(['bash@5.2.15-2+b2', 'openssl@3.0.15-1~deb12u1']);
    expect(new Set(inv.packages.map((p) => p.layerDigest))).toEqual(new Set([upgrade.digest]));
    expect(inv.os).toMatchObject({ id: 'debian', ecosystem: 'Debian:12', layerDigest: base.digest });
  });

  it('a later non-file entry at a path replaces the file (and a file replaces a directory)', async () => {
    const l1 = bufferLayer(
      await tarLayer([
        { name: 'etc/os-release', content: OS },
        { name: 'app/node_modules/a/package.json', content: npmPkg('a', '1.0.0') },
      ]),
    );
    const l2 = bufferLayer(
      await tarLayer([
        { name: 'etc/os-release', type: 'symlink', linkname: '../usr/lib/os-release' },
        { name: 'app/node_modules', content: 'now a file' },
      ]),
    );
    const inv = await scanLayers([l1, l2]);
    expect(inv.os).toBeUndefined();
    expect(inv.packages).toEqual([]);
  });

  it('a hard link inside the tree reuses its target results when its own path is wanted', async () => {
    const inv = await scanLayers([
      bufferLayer(
        await tarLayer([
          { name: 'usr/lib/os-release', content: OS },
          { name: 'etc/os-release', type: 'link', linkname: 'usr/lib/os-release' },
          { name: 'app/node_modules/a/package.json', content: npmPkg('a', '1.0.0') },
          { name: 'srv/node_modules/a/package.json', type: 'link', linkname: 'app/node_modules/a/package.json' },
          // The target was not read (no extractor wanted /tmp/status), so the link yields nothing: links are not followed.
          { name: 'tmp/status', content: status(['bash', '5.2']) },
          { name: 'var/lib/dpkg/status', type: 'link', linkname: 'tmp/status' },
        ]),
      ),
    ]);
    expect(inv.os?.path).toBe('/etc/os-release');
    expect(inv.packages.map((p) => `${p.name} ${p.path}`)).toEqual(['a /app/node_modules/a/package.json', 'a /srv/node_modules/a/package.json']);
  });
});

describe('hostile layers', { timeout: 60_000 }, () => {
  const sampleHeap = (): { stop: () => number } => {
    const base = process.memoryUsage();
    let peak = 0;
    const t = setInterval(() => {
      const m = process.memoryUsage();
      peak = Math.max(peak, m.heapUsed + m.arrayBuffers - (base.heapUsed + base.arrayBuffers));
    }, 10);
    return { stop: () => (clearInterval(t), peak) };
  };

  it('stops a gzip bomb at the decompressed-size cap with bounded memory', async () => {
    // A 512 MiB file of zeros, as 32 gzip members of 16 MiB each (about 16 KiB apiece).
    const member = gzipSync(Buffer.alloc(16 * 1024 * 1024), { level: 9 });
    const header = gzipSync(rawTarHeader('var/lib/dpkg/status', 512 * 1024 * 1024, '0'));
    const layer = generatedLayer('sha256:bomb', function* () {
      yield header;
      for (let i = 0; i < 32; i++) yield member;
    });
    const heap = sampleHeap();
    const inv = await scanLayers([layer], { limits: { maxLayerBytes: 256 * 1024 * 1024, maxRatio: 1e9 } });
    const peak = heap.stop();
    expect(inv.layers[0]).toMatchObject({ status: 'partial', compression: 'gzip' });
    expect(inv.layers[0]?.error).toMatch(/exceeds the limit of 268435456 bytes/);
    expect(inv.layers[0]?.decompressedBytes).toBeLessThanOrEqual(256 * 1024 * 1024 + 256 * 1024) // one decoder chunk past the cap;
    expect(inv.errors.find((e) => e.kind === 'extractor')?.message).toMatch(/exceeds the 8388608-byte cap; not read/);
    expect(peak).toBeLessThan(96 * 1024 * 1024);
  });

  it('stops a bomb by its compression ratio long before the size cap', async () => {
    const member = gzipSync(Buffer.alloc(4 * 1024 * 1024), { level: 9 });
    const header = gzipSync(rawTarHeader('big', 1024 * 1024 * 1024, '0'));
    const layer = generatedLayer('sha256:ratio', function* () {
      yield header;
      for (let i = 0; i < 256; i++) yield member;
    });
    const inv = await scanLayers([layer], { limits: { maxRatio: 100, ratioCheckAfterBytes: 16 * 1024 * 1024 } });
    expect(inv.layers[0]?.error).toMatch(/ratio exceeds 100:1/);
    expect(inv.layers[0]?.decompressedBytes).toBeLessThan(32 * 1024 * 1024);
  });

  it('stops a zstd RLE bomb (4 bytes per 128 KiB) at the cap', async () => {
    const bomb = zstdRleBomb(rawTarHeader('x', 4 * 1024 * 1024 * 1024, '0'), 16 * 1024); // 2 GiB from 64 KiB
    const heap = sampleHeap();
    const inv = await scanLayers([bufferLayer(bomb)], { limits: { maxLayerBytes: 64 * 1024 * 1024 } });
    expect(heap.stop()).toBeLessThan(64 * 1024 * 1024);
    expect(inv.layers[0]).toMatchObject({ status: 'partial', compression: 'zstd' });
    expect(inv.layers[0]?.error).toMatch(/exceeds the limit/);
  });

  it('refuses a zstd frame whose window exceeds the limit before allocating it', async () => {
    const frame = zstdStored(await tarLayer([{ name: 'etc/os-release', content: OS }]), 28); // declares a 256 MiB window
    const inv = await scanLayers([bufferLayer(frame)]);
    expect(inv.layers[0]).toMatchObject({ status: 'failed' });
    expect(inv.layers[0]?.error).toMatch(/zstd window of 268435456 bytes exceeds/);
    const ok = await scanLayers([bufferLayer(frame)], { limits: { maxZstdWindowBytes: 2 ** 28 } });
    expect(ok.os?.id).toBe('debian');
  });

  it('refuses entries that climb out of the root and normalizes absolute ones', async () => {
    const tarBytes = Buffer.concat([
      rawTarHeader('../../etc/passwd', 4, '0'),
      tarBlocks(Buffer.from('evil')),
      rawTarHeader('app/../../x/package-lock.json', 2, '0'),
      tarBlocks(Buffer.from('{}')),
      rawTarHeader('/etc/os-release', OS.length, '0'),
      tarBlocks(Buffer.from(OS)),
      rawTarHeader('./var/lib/./dpkg/../dpkg/status', status(['bash', '5.2']).length, '0'),
      tarBlocks(Buffer.from(status(['bash', '5.2']))),
      TAR_END,
    ]);
    const inv = await scanLayers([bufferLayer(tarBytes)]);
    const layer = inv.layers[0];
    expect(layer?.status).toBe('partial');
    expect(layer?.refused).toEqual([
      { path: '../../etc/passwd', reason: 'path escapes the image root' },
      { path: 'app/../../x/package-lock.json', reason: 'path escapes the image root' },
    ]);
    expect(inv.os?.path).toBe('/etc/os-release');
    expect(inv.packages.map((p) => [p.name, p.path])).toEqual([['bash', '/var/lib/dpkg/status']]);
  });

  it('never follows symlinks; notes those leaving the root and refuses hard links that do', async () => {
    const inv = await scanLayers([
      bufferLayer(
        await tarLayer([
          { name: 'etc/os-release', type: 'symlink', linkname: '../../../../../host/etc/os-release' },
          { name: 'var/lib/dpkg/status', type: 'symlink', linkname: '/var/lib/dpkg/status-real' },
          { name: 'app/package-lock.json', type: 'link', linkname: '../../outside/package-lock.json' },
        ]),
      ),
    ]);
    const layer = inv.layers[0];
    expect(layer?.notes).toEqual([{ path: '/etc/os-release', reason: 'symlink to "../../../../../host/etc/os-release" leaves the image root (not followed)' }]);
    expect(layer?.refused).toEqual([{ path: '/app/package-lock.json', reason: 'hard link to "../../outside/package-lock.json" leaves the image root' }]);
    expect(layer?.status).toBe('partial');
    expect(inv.os).toBeUndefined();
    expect(inv.packages).toEqual([]);
  });

  it('marks a truncated gzip stream partial and keeps what came before the cut', async () => {
    const filler = Buffer.from(Array.from({ length: 200_000 }, (_, i) => String.fromCharCode(33 + ((i * 7919) % 90))).join(''));
    const gz = gzip(
      await tarLayer([
        { name: 'etc/os-release', content: OS },
        { name: 'filler', content: filler },
        { name: 'var/lib/dpkg/status', content: status(['bash', '5.2']) },
      ]),
    );
    const inv = await scanLayers([bufferLayer(gz.subarray(0, Math.floor(gz.length * 0.6)))]);
    expect(inv.layers[0]?.status).toBe('partial');
    expect(inv.layers[0]?.error).toMatch(/unexpected end of file/);
    expect(inv.partial).toBe(true);
    expect(inv.os?.id).toBe('debian');
    expect(inv.packages).toEqual([]);
  });

  it('marks a tar cut inside an entry, or between entries without its end marker, partial', async () => {
    const t = await tarLayer([
      { name: 'etc/os-release', content: OS },
      { name: 'var/lib/dpkg/status', content: status(['bash', '5.2']) },
    ]);
    const midEntry = await scanLayers([bufferLayer(t.subarray(0, 512 + 512 + 512 + 100))]);
    expect(midEntry.layers[0]).toMatchObject({ status: 'partial', error: 'Unexpected end of data' });
    expect(midEntry.os?.id).toBe('debian');
    const betweenEntries = await scanLayers([bufferLayer(t.subarray(0, 1024))]);
    expect(betweenEntries.layers[0]).toMatchObject({ status: 'partial' });
    expect(betweenEntries.layers[0]?.error).toMatch(/end-of-archive marker/);
    expect((await scanLayers([bufferLayer(t)])).layers[0]?.status).toBe('ok');
  });

  it('refuses a PAX header over 4 MiB and a path longer than the limit', async () => {
    const record = (k: string, v: string): Buffer => {
      const body = ` ${k}=${v}\n`;
      let n = body.length + 1;
      while (`${n}${body}`.length !== n) n = `${n}${body}`.length;
      return Buffer.from(`${n}${body}`);
    };
    const hugePax = record('comment', 'x'.repeat(5 * 1024 * 1024));
    const huge = Buffer.concat([rawTarHeader('PaxHeader', hugePax.length, 'x'), tarBlocks(hugePax), rawTarHeader('a', 0, '0'), TAR_END]);
    const first = await scanLayers([bufferLayer(gzip(huge))]);
    expect(first.layers[0]).toMatchObject({ status: 'failed', error: 'Header exceeds max size' });

    const longPath = record('path', `${'d/'.repeat(50_000)}package-lock.json`);
    const long = Buffer.concat([
      rawTarHeader('PaxHeader', longPath.length, 'x'),
      tarBlocks(longPath),
      rawTarHeader('ignored', 2, '0'),
      tarBlocks(Buffer.from('{}')),
      rawTarHeader('etc/os-release', OS.length, '0'),
      tarBlocks(Buffer.from(OS)),
      TAR_END,
    ]);
    const second = await scanLayers([bufferLayer(long)]);
    expect(second.layers[0]?.status).toBe('partial');
    expect(second.layers[0]?.refused[0]?.reason).toBe('name longer than 4096 bytes');
    expect(second.os?.id).toBe('debian');
  });

  it('fails a layer that is not a tar, or cannot be opened, and goes on with the next', async () => {
    const good = bufferLayer(await tarLayer([{ name: 'etc/os-release', content: OS }]));
    const noise = bufferLayer(Buffer.from(Array.from({ length: 4096 }, (_, i) => (i * 31 + 7) % 256)));
    const missing = { digest: 'sha256:missing', open: async (): Promise<Readable> => Promise.reject(new Error('blob not found')) };
    const xz = bufferLayer(Buffer.from([0xfd, 0x37, 0x7a, 0x58, 0x5a, 0x00, 0, 0]));
    const inv = await scanLayers([noise, missing, xz, good]);
    expect(inv.layers.map((l) => l.status)).toEqual(['failed', 'failed', 'failed', 'ok']);
    expect(inv.layers[1]?.error).toBe('blob not found');
    expect(inv.layers[2]?.error).toBe('unsupported layer compression: xz');
    expect(inv.os?.id).toBe('debian');
    expect(inv.partial).toBe(true);
  });
});

describe('extractor failures', () => {
  it('records a throwing extractor and lets the others and the scan go on', async () => {
    const broken: Extractor = {
      name: 'broken',
      wants: (e) => e.path === '/var/lib/dpkg/status',
      open: () => ({
        write: () => true,
        finish: () => {
          throw new Error('boom');
        },
      }),
    };
    const layer = bufferLayer(
      await tarLayer([
        { name: 'var/lib/dpkg/status', content: status(['bash', '5.2']) },
        { name: 'app/node_modules/x/package.json', content: '{not json' },
        { name: 'app/node_modules/y/package.json', content: npmPkg('y', '1.0.0') },
      ]),
    );
    const walk = await walkLayers([layer], { extractors: [broken, dpkgExtractor, npmExtractor, osReleaseExtractor] });
    expect(walk.extractorErrors.map((e) => [e.extractor, e.path])).toEqual([
      ['broken', '/var/lib/dpkg/status'],
      ['npm', '/app/node_modules/x/package.json'],
    ]);
    expect(walk.layers[0]?.status).toBe('ok');
    expect(walk.files.map((f) => f.path)).toEqual(['/app/node_modules/y/package.json', '/var/lib/dpkg/status']);
  });

  it('aborts the walk when the signal aborts', async () => {
    const ac = new AbortController();
    ac.abort();
    const layer = bufferLayer(await tarLayer([{ name: 'etc/os-release', content: OS }]));
    await expect(scanLayers([layer], { signal: ac.signal })).rejects.toThrow();
  });
});
