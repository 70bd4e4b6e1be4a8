import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { scanLayers } from '../index.js';
import { fixture, treeEntries } from '../fixtures.test-support.js';
import { bufferLayer, gzip, tarLayer } from '../walker/layers.test-support.js';
import { npmLockPackages, wantsNpm } from './npm.js';

const app = fixture('node-app', 'npm app with package-lock v3 and node_modules (real fixture)');
const lockJson = (): unknown => JSON.parse(readFileSync(join(app.path, 'package-lock.json'), 'utf8'));
const key = (p: { name: string; version: string; installPath?: string }): string => `${p.installPath} ${p.name}@${p.version}`;

describe.skipIf(!app.present)(app.title, () => {
  it('reads the 172 lockfile packages with real names for aliases and every nested copy', () => {
    const pkgs = npmLockPackages(lockJson(), '/app');
    expect(pkgs).toHaveLength(172);
    const at = (dir: string) => pkgs.find((p) => p.installPath === `/app/node_modules/${dir}`);
    expect(at('babel-traverse-alpha2')).toMatchObject({ name: '@babel/traverse', version: '8.0.0-alpha.2', purl: 'pkg:npm/%40babel/traverse@8.0.0-alpha.2' });
    expect(at('babel-traverse-alpha4')).toMatchObject({ name: '@babel/traverse', version: '8.0.0-alpha.4' });
    expect(at('@babel/traverse')).toMatchObject({ name: '@babel/traverse', version: '7.23.0' });
    expect(at('jsonwebtoken/node_modules/semver')).toMatchObject({ name: 'semver' });
    for (const [name, version] of [
      ['lodash', '4.17.15'],
      ['minimist', '1.2.0'],
      ['node-fetch', '2.6.0'],
      ['jsonwebtoken', '8.5.0'],
      ['axios', '0.21.0'],
      ['express', '4.17.1'],
      ['request', '2.88.2'],
      ['semver', '7.5.1'],
    ]) {
      expect(at(name as string), name).toMatchObject({ name, version });
    }
  });

  it('finds the same packages, place by place, in the installed package.json files, and keeps one per place', async () => {
    const entries = [
      { name: 'app/package.json', content: readFileSync(join(app.path, 'package.json')) },
      { name: 'app/package-lock.json', content: readFileSync(join(app.path, 'package-lock.json')) },
      ...treeEntries(join(app.path, 'node_modules'), 'app/node_modules'),
    ];
    const lockOnly = npmLockPackages(lockJson(), '/app').map(key).sort();

    const installed = await scanLayers([bufferLayer(gzip(await tarLayer(entries.filter((e) => e.name !== 'app/package-lock.json'))))]);
    expect(installed.errors).toEqual([]);
    expect(installed.packages.map((p) => key({ ...p, installPath: p.path.replace(/\/package\.json$/, '') })).sort()).toEqual(lockOnly);

    const both = await scanLayers([bufferLayer(gzip(await tarLayer(entries)))]);
    expect(both.packages).toHaveLength(172);
    expect(both.packages.every((p) => p.ecosystem === 'npm' && !p.fromLockfile && p.path.endsWith('/package.json'))).toBe(true);

    // With node_modules deleted by a later layer, the lockfile still tells what the app would install.
    const pruned = await scanLayers([
      bufferLayer(gzip(await tarLayer(entries))),
      bufferLayer(await tarLayer([{ name: 'app/.wh.node_modules', content: '' }])),
    ]);
    expect(pruned.packages).toHaveLength(172);
    expect(pruned.packages.every((p) => p.fromLockfile && p.path === '/app/package-lock.json')).toBe(true);
  });
});

describe('npm lockfiles', () => {
  it('reads v1 dependency trees with npm: aliases and nested copies', () => {
    const v1 = {
      lockfileVersion: 1,
      dependencies: {
        lodash: { version: '4.17.15' },
        'old-traverse': { version: 'npm:@babel/traverse@7.0.0' },
        request: { version: '2.88.2', dependencies: { qs: { version: '6.5.3', dev: true } } },
        local: { version: 'file:../local' },
      },
    };
    expect(npmLockPackages(v1, '/srv').map((p) => [p.installPath, p.name, p.version, p.dev ?? false])).toEqual([
      ['/srv/node_modules/lodash', 'lodash', '4.17.15', false],
      ['/srv/node_modules/old-traverse', '@babel/traverse', '7.0.0', false],
      ['/srv/node_modules/request', 'request', '2.88.2', false],
      ['/srv/node_modules/request/node_modules/qs', 'qs', '6.5.3', true],
    ]);
  });

  it('prefers `packages` in v2 and skips the root, workspaces and links', () => {
    const v2 = {
      lockfileVersion: 2,
      packages: {
        '': { name: 'app', version: '1.0.0' },
        'packages/web': { name: 'web', version: '0.1.0' },
        'node_modules/web': { resolved: 'packages/web', link: true },
        'node_modules/minimist': { version: '1.2.0' },
      },
      dependencies: { minimist: { version: '1.2.0' } },
    };
    expect(npmLockPackages(v2, '/').map((p) => [p.installPath, p.name])).toEqual([['/node_modules/minimist', 'minimist']]);
  });

  it('wants lockfiles outside node_modules, the hidden lockfile and package.json files of installed packages only', () => {
    const w = (path: string): boolean => wantsNpm({ path, size: 10, mode: 0o644 });
    expect(w('/app/package-lock.json')).toBe(true);
    expect(w('/app/node_modules/.package-lock.json')).toBe(true);
    expect(w('/app/node_modules/x/package-lock.json')).toBe(false);
    expect(w('/app/node_modules/x/package.json')).toBe(true);
    expect(w('/app/node_modules/@s/x/package.json')).toBe(true);
    expect(w('/app/node_modules/x/node_modules/y/package.json')).toBe(true);
    expect(w('/app/node_modules/x/lib/package.json')).toBe(false);
    expect(w('/app/node_modules/@s/package.json')).toBe(false);
    expect(w('/app/package.json')).toBe(false);
  });
});
