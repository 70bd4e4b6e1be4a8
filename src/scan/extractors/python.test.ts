import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { scanLayers } from '../index.js';
import { fixture, readTsv, treeEntries } from '../fixtures.test-support.js';
import { bufferLayer, gzip, tarLayer } from '../walker/layers.test-support.js';
import { pipfileLockPackages, poetryLockPackages, requirementsPackages } from './python.js';

const dists = fixture('python/dist-packages', 'Python dist-packages of 33 Debian python3 packages (real fixture)');

describe.skipIf(!dists.present)(dists.title, () => {
  it('finds every distribution at its metadata path, with the name and version it declares', async () => {
    const layer = bufferLayer(gzip(await tarLayer(treeEntries(dists.path, 'usr/lib/python3/dist-packages'))));
    const inv = await scanLayers([layer]);
    expect(inv.errors).toEqual([]);
    const got = inv.packages.map((p) => `${p.path.slice(1)} ${p.name} ${p.version}`).sort();
    const expected = readTsv('python/python-dists.tsv').map((r) => `${r.metadata_path} ${r.dist_name} ${r.dist_version}`).sort();
    expect(got).toEqual(expected);
    expect(new Set(inv.packages.map((p) => p.ecosystem))).toEqual(new Set(['PyPI']));
    expect(inv.packages.find((p) => p.name === 'PyYAML')?.purl).toBe('pkg:pypi/pyyaml@6.0');
    expect(inv.packages.find((p) => p.name === 'scikit-learn')?.path).toBe(join('/usr/lib/python3/dist-packages', 'scikit_learn-1.2.1.egg-info/PKG-INFO'));
  });
});

describe('Python lockfiles', () => {
  it('reads poetry.lock packages, skipping multi-line values and sub-tables', () => {
    const lock = [
      '[[package]]',
      'name = "Django"',
      'version = "4.2.1"',
      'description = "A high-level Python web framework"',
      'optional = false',
      'python-versions = ">=3.8"',
      'files = [',
      '    {file = "Django-4.2.1.tar.gz", hash = "sha256:abc"},',
      ']',
      '',
      '[package.dependencies]',
      'asgiref = ">=3.6.0,<4"',
      '',
      '[[package]]',
      'name = "pytest"',
      'version = "7.3.1"',
      'category = "dev"',
      '',
      '[metadata]',
      'lock-version = "2.0"',
      'content-hash = "x"',
    ].join('\n');
    expect(poetryLockPackages(lock).map((p) => [p.name, p.version, p.dev ?? false, p.purl])).toEqual([
      ['Django', '4.2.1', false, 'pkg:pypi/django@4.2.1'],
      ['pytest', '7.3.1', true, 'pkg:pypi/pytest@7.3.1'],
    ]);
  });

  it('reads Pipfile.lock default and develop sections pinned with ==', () => {
    const lock = { _meta: {}, default: { requests: { version: '==2.28.1', hashes: [] }, 'git-dep': { git: 'https://x' } }, develop: { black: { version: '==23.1.0' } } };
    expect(pipfileLockPackages(lock).map((p) => [p.name, p.version, p.dev ?? false])).toEqual([
      ['requests', '2.28.1', false],
      ['black', '23.1.0', true],
    ]);
  });

  it('reads only pinned requirement lines', () => {
    const txt = [
      '# comment',
      '-r base.txt',
      '--index-url https://example.invalid/simple',
      'Flask==2.2.2  # web',
      'requests[security]==2.28.1 ; python_version >= "3.7" \\',
      '    --hash=sha256:abc',
      'urllib3>=1.26',
      'numpy==1.24.*',
      'six===1.16.0',
      '-e git+https://example.invalid/x.git#egg=x',
    ].join('\n');
    expect(requirementsPackages(txt).map((p) => `${p.name}==${p.version}`)).toEqual(['Flask==2.2.2', 'requests==2.28.1', 'six==1.16.0']);
  });
});
