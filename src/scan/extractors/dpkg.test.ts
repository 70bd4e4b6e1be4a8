import { describe, expect, it } from 'vitest';
import { scanLayers } from '../index.js';
import { fixture, readFixture, readTsv } from '../fixtures.test-support.js';
import { bufferLayer, gzip, tarLayer } from '../walker/layers.test-support.js';
import { dpkgPackages } from './dpkg.js';

const debian = fixture('debian-bookworm-minbase.dpkg-status', 'Debian 12 minbase dpkg status (real fixture)');

describe.skipIf(!debian.present)(debian.title, () => {
  it('lists every installed package with version, architecture and source as dpkg-query does', () => {
    const expected = readTsv('debian/bookworm-minbase-packages.tsv');
    const got = dpkgPackages(readFixture('debian-bookworm-minbase.dpkg-status'));
    expect(got).toHaveLength(88);
    expect(got.map((p) => ({ package: p.name, version: p.version, architecture: p.arch, source: p.sourceName, source_version: p.sourceVersion }))).toEqual(
      expected,
    );
    expect(new Set(got.map((p) => `${p.sourceName} ${p.sourceVersion}`))).toEqual(
      new Set(readTsv('debian/bookworm-minbase-sources.tsv').map((r) => `${r.source} ${r.source_version}`)),
    );
  });

  it('puts them in the Debian:12 ecosystem when packed in an image with its os-release', async () => {
    const inv = await scanLayers([
      bufferLayer(
        gzip(
          await tarLayer([
            { name: 'usr/lib/os-release', content: readFixture('debian/os-release') },
            { name: 'etc/os-release', type: 'symlink', linkname: '../usr/lib/os-release' },
            { name: 'var/lib/dpkg/status', content: readFixture('debian-bookworm-minbase.dpkg-status') },
          ]),
        ),
      ),
    ]);
    expect(inv.os).toMatchObject({ id: 'debian', versionId: '12', ecosystem: 'Debian:12', path: '/usr/lib/os-release' });
    expect(inv.packages).toHaveLength(88);
    expect(new Set(inv.packages.map((p) => p.ecosystem))).toEqual(new Set(['Debian:12']));
    const bsdutils = inv.packages.find((p) => p.name === 'bsdutils');
    expect(bsdutils).toMatchObject({ sourceName: 'util-linux', purl: 'pkg:deb/debian/bsdutils@1:2.38.1-5%2Bdeb12u3?arch=amd64&distro=debian-12' });
  });
});

describe('dpkg status parsing', () => {
  it('skips packages that are not installed and reads Source with and without a version', () => {
    const text = [
      'Package: gone\nStatus: deinstall ok config-files\nVersion: 1.0\n',
      'Package: libfoo1\nStatus: install ok installed\nSource: foo (1.2-3)\nVersion: 1.2-3+b1\nArchitecture: amd64\nDescription: x\n long text\n .\n more\n',
      'Package: bar-utils\nStatus: hold ok installed\nSource: bar\nVersion: 2.0\n',
      'Package: half\nStatus: install ok half-configured\nVersion: 1\n',
    ].join('\n');
    expect(dpkgPackages(text)).toEqual([
      { osManager: 'dpkg', name: 'libfoo1', version: '1.2-3+b1', sourceName: 'foo', sourceVersion: '1.2-3', arch: 'amd64' },
      { osManager: 'dpkg', name: 'bar-utils', version: '2.0', sourceName: 'bar', sourceVersion: '2.0' },
    ]);
  });

  it('reads distroless status.d files (no Status field) and ignores their md5sums', async () => {
    const inv = await scanLayers([
      bufferLayer(
        await tarLayer([
          { name: 'etc/os-release', content: 'ID=debian\nVERSION_ID="12"\n' },
          { name: 'var/lib/dpkg/status.d/libc6', content: 'Package: libc6\nVersion: 2.36-9+deb12u7\nArchitecture: amd64\nSource: glibc\n' },
          { name: 'var/lib/dpkg/status.d/libc6.md5sums', content: 'd41d8cd98f00b204e9800998ecf8427e  lib/x\n' },
          { name: 'var/lib/dpkg/status.d/tzdata', content: 'Package: tzdata\nVersion: 2024a-0+deb12u1\nArchitecture: all\n' },
        ]),
      ),
    ]);
    expect(inv.packages.map((p) => [p.ecosystem, p.name, p.version, p.sourceName])).toEqual([
      ['Debian:12', 'libc6', '2.36-9+deb12u7', 'glibc'],
      ['Debian:12', 'tzdata', '2024a-0+deb12u1', 'tzdata'],
    ]);
    expect(inv.errors).toEqual([]);
  });
});
