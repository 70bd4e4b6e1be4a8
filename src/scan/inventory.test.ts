import { describe, expect, it } from 'vitest';
import { affects, parseOsvRecord } from '../core/vuln/osv.js';
import { buildInventory } from './inventory.js';
import { golangPurl, npmPurl, purl } from './purl.js';
import type { ExtractedPackage } from './walker/types.js';
import type { FileFindings, WalkResult } from './walker/walker.js';

const file = (path: string, extractor: string, packages: ExtractedPackage[], layerDigest = 'sha256:l1'): FileFindings => ({
  path,
  layerDigest,
  layerIndex: 0,
  outputs: [{ extractor, result: { packages } }],
});
const walk = (files: FileFindings[]): WalkResult => ({ files, layers: [], extractorErrors: [], extractorErrorCount: 0 });
const npm = (name: string, version: string, installPath: string, fromLockfile = false): ExtractedPackage => ({
  ecosystem: 'npm',
  name,
  version,
  purl: npmPurl(name, version),
  installPath,
  ...(fromLockfile ? { fromLockfile } : {}),
});

describe('inventory', () => {
  it('keeps the installed copy over lockfile entries for the same place, and every nested copy', () => {
    const inv = buildInventory(
      walk([
        file('/app/node_modules/.package-lock.json', 'npm', [npm('a', '1.0.0', '/app/node_modules/a', true), npm('b', '2.0.0', '/app/node_modules/b', true)]),
        file('/app/node_modules/a/package.json', 'npm', [npm('a', '1.0.0', '/app/node_modules/a')], 'sha256:l2'),
        file('/app/package-lock.json', 'npm', [
          npm('a', '1.0.0', '/app/node_modules/a', true),
          npm('b', '2.0.0', '/app/node_modules/b', true),
          npm('c', '3.0.0', '/app/node_modules/x/node_modules/c', true),
          npm('c', '3.0.0', '/app/node_modules/y/node_modules/c', true),
        ]),
      ]),
    );
    expect(inv.packages.map((p) => `${p.name} ${p.path} ${p.layerDigest}`)).toEqual([
      'b /app/node_modules/.package-lock.json sha256:l1',
      'a /app/node_modules/a/package.json sha256:l2',
      'c /app/package-lock.json sha256:l1',
      'c /app/package-lock.json sha256:l1',
    ]);
    expect(inv.packages[0]).not.toHaveProperty('installPath');
  });

  it('gives OS packages the ecosystem an OSV Debian:12 record matches by source, and no other release', () => {
    const inv = buildInventory(
      walk([
        { path: '/etc/os-release', layerDigest: 'sha256:l1', layerIndex: 0, outputs: [{ extractor: 'os-release', result: { os: { id: 'debian', versionId: '12' } } }] },
        file('/var/lib/dpkg/status', 'dpkg', [
          { osManager: 'dpkg', name: 'bsdutils', version: '1:2.38.1-5+b1', sourceName: 'util-linux', sourceVersion: '2.38.1-5', arch: 'amd64' },
        ]),
      ]),
    );
    const pkg = inv.packages[0];
    expect(pkg).toMatchObject({ ecosystem: 'Debian:12', purl: 'pkg:deb/debian/bsdutils@1:2.38.1-5%2Bb1?arch=amd64&distro=debian-12' });
    const record = (ecosystem: string) =>
      parseOsvRecord({
        id: 'TEST-1',
        modified: '2024-01-01T00:00:00Z',
        affected: [{ package: { ecosystem, name: 'util-linux' }, ranges: [{ type: 'ECOSYSTEM', events: [{ introduced: '0' }, { fixed: '2.38.1-5+deb12u1' }] }] }],
      });
    expect(affects(record('Debian:12'), pkg as NonNullable<typeof pkg>)).toMatchObject({ affected: true, fixedVersion: '2.38.1-5+deb12u1' });
    expect(affects(record('Debian:13'), pkg as NonNullable<typeof pkg>).affected).toBe(false);
  });

  it('collects layer and extractor errors and marks the inventory partial', () => {
    const inv = buildInventory({
      files: [],
      layers: [
        { digest: 'sha256:a', status: 'partial', error: 'Unexpected end of data', compressedBytes: 1, decompressedBytes: 1, entries: 1, refused: [], refusedCount: 0, notes: [], noteCount: 0 },
      ],
      extractorErrors: [{ extractor: 'npm', path: '/x/package-lock.json', layer: 'sha256:a', message: 'bad json' }],
      extractorErrorCount: 1,
    });
    expect(inv.partial).toBe(true);
    expect(inv.errors).toEqual([
      { kind: 'layer', layerDigest: 'sha256:a', message: 'Unexpected end of data' },
      { kind: 'extractor', layerDigest: 'sha256:a', extractor: 'npm', path: '/x/package-lock.json', message: 'bad json' },
    ]);
  });
});

describe('purl', () => {
  it('encodes namespaces, names, versions and sorted qualifiers', () => {
    expect(npmPurl('@babel/traverse', '7.23.0')).toBe('pkg:npm/%40babel/traverse@7.23.0');
    expect(golangPurl('github.com/docker/cli', 'v20.10.23+incompatible')).toBe('pkg:golang/github.com/docker/cli@v20.10.23%2Bincompatible');
    expect(purl('rpm', 'redhat', 'openssl', '3.0.7-27.el9', { epoch: '1', arch: 'x86_64', distro: undefined })).toBe(
      'pkg:rpm/redhat/openssl@3.0.7-27.el9?arch=x86_64&epoch=1',
    );
  });
});
