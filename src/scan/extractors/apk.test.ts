import { describe, expect, it } from 'vitest';
import { scanLayers } from '../index.js';
import { bufferLayer, tarLayer } from '../walker/layers.test-support.js';
import { apkPackages } from './apk.js';

const DB = [
  'C:Q1abc=\nP:musl\nV:1.2.4_git20230717-r4\nA:x86_64\nS:383152\nI:622592\nT:the musl c library\no:musl\nm:Timo\nF:lib\nR:ld-musl-x86_64.so.1\n',
  'C:Q1def=\nP:libcrypto3\nV:3.1.4-r5\nA:x86_64\no:openssl\nF:usr/lib\nR:libcrypto.so.3\n',
  'P:busybox-binsh\nV:1.36.1-r15\nA:x86_64\n',
].join('\n');

describe('apk installed database', () => {
  it('reads name, version, arch and origin (the source package)', () => {
    expect(apkPackages(DB)).toEqual([
      { osManager: 'apk', name: 'musl', version: '1.2.4_git20230717-r4', arch: 'x86_64', sourceName: 'musl', sourceVersion: '1.2.4_git20230717-r4' },
      { osManager: 'apk', name: 'libcrypto3', version: '3.1.4-r5', arch: 'x86_64', sourceName: 'openssl', sourceVersion: '3.1.4-r5' },
      { osManager: 'apk', name: 'busybox-binsh', version: '1.36.1-r15', arch: 'x86_64', sourceName: 'busybox-binsh', sourceVersion: '1.36.1-r15' },
    ]);
  });

  it('scopes packages to the Alpine release of the image', async () => {
    const inv = await scanLayers([
      bufferLayer(
        await tarLayer([
          { name: 'etc/os-release', content: 'NAME="Alpine Linux"\nID=alpine\nVERSION_ID=3.19.1\n' },
          { name: 'lib/apk/db/installed', content: DB },
        ]),
      ),
    ]);
    expect(inv.packages.map((p) => [p.ecosystem, p.name, p.sourceName])).toEqual([
      ['Alpine:v3.19', 'musl', 'musl'],
      ['Alpine:v3.19', 'libcrypto3', 'openssl'],
      ['Alpine:v3.19', 'busybox-binsh', 'busybox-binsh'],
    ]);
    expect(inv.packages[1]?.purl).toBe('pkg:apk/alpine/libcrypto3@3.1.4-r5?arch=x86_64&distro=alpine-3.19.1');
  });
});
