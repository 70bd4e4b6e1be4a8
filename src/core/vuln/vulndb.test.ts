// Checks the matcher against the real OSV records in ../shared/vulndb (see its
// SOURCES.md) and the package lists in ../shared/fixtures. Both live beside the
// checkout, not in it; without them these suites are skipped.
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { affects, evaluateRange, parseOsvRecord, rangeComparator, type OsvRecord, type PackageQuery } from './osv.js';
import { assess, recordSeverity, severityFromLabel } from './severity.js';

const SHARED = fileURLToPath(new URL('../../../../shared/', import.meta.url));
const DB = join(SHARED, 'vulndb');
const present = existsSync(DB);
const FOLDERS = ['npm', 'pypi', 'go', 'debian'] as const;

const records = new Map<string, OsvRecord>();
const perFolder: Record<string, number> = {};
if (present) {
  for (const folder of FOLDERS) {
    const files = readdirSync(join(DB, folder)).filter((f) => f.endsWith('.json'));
    perFolder[folder] = files.length;
    for (const f of files) records.set(f.replace(/\.json$/, ''), parseOsvRecord(JSON.parse(readFileSync(join(DB, folder, f), 'utf8'))));
  }
}
const get = (id: string): OsvRecord => {
  const r = records.get(id);
  if (!r) throw new Error(`record ${id} not found in ${DB}`);
  return r;
};

const npm = (name: string, version: string): PackageQuery => ({ ecosystem: 'npm', name, version });
const pypi = (name: string, version: string): PackageQuery => ({ ecosystem: 'PyPI', name, version });
const go = (name: string, version: string): PackageQuery => ({ ecosystem: 'Go', name, version });
const deb = (release: string, name: string, version: string, sourceName: string, sourceVersion?: string): PackageQuery =>
  sourceVersion === undefined
    ? { ecosystem: `Debian:${release}`, name, version, sourceName }
    : { ecosystem: `Debian:${release}`, name, version, sourceName, sourceVersion };

const title = present ? `real OSV records (${DB})` : `real OSV records — SKIPPED: ${DB} not found (shared data lives beside the checkout)`;

describe.skipIf(!present)(title, () => {
  it('parses every record the loader should read', () => {
    expect(perFolder).toEqual({ npm: 27, pypi: 175, go: 291, debian: 36 });
    expect(records.size).toBe(529);
  });

  it('puts every introduced/last_affected inside and every fixed outside its own range', () => {
    let checks = 0;
    for (const r of records.values()) {
      for (const a of r.affected) {
        for (const range of a.ranges ?? []) {
          if (range.type === 'GIT' || !a.package) continue;
          const cmp = rangeComparator(range, a.package.ecosystem);
          const at = (k: string): string[] => range.events.flatMap((e) => Object.entries(e).filter(([key]) => key === k).map(([, v]) => v));
          for (const v of [...at('introduced').filter((x) => x !== '0'), ...at('last_affected')]) {
            if (at('fixed').includes(v)) continue;
            expect(evaluateRange(range, v, cmp).vulnerable, `${r.id} ${v}`).toBe(true);
            checks++;
          }
          for (const v of at('fixed')) {
            if (at('introduced').includes(v)) continue;
            expect(evaluateRange(range, v, cmp).vulnerable, `${r.id} ${v}`).toBe(false);
            checks++;
          }
        }
      }
    }
    expect(checks).toBeGreaterThan(900);
  });

  // [record, package, affected, fixedVersion]
  const CASES: [string, PackageQuery, boolean, string?][] = [
    ['GHSA-35jh-r3h4-6jhm', npm('lodash', '4.17.15'), true, '4.17.21'], // fixture version
    ['GHSA-35jh-r3h4-6jhm', npm('lodash', '4.17.21'), false],
    ['GHSA-35jh-r3h4-6jhm', npm('lodash', '4.18.0'), false],
    ['GHSA-35jh-r3h4-6jhm', npm('lodash-es', '4.17.20'), true, '4.17.21'],
    ['GHSA-r683-j2x4-v87g', npm('node-fetch', '2.6.0'), true, '3.1.1'], // 2.6.7 lies in [1.0, 3.1.1)
    ['GHSA-r683-j2x4-v87g', npm('node-fetch', '2.6.7'), true, '3.1.1'],
    ['GHSA-r683-j2x4-v87g', npm('node-fetch', '3.1.1'), false],
    ['GHSA-p8p7-x288-28g6', npm('request', '2.88.2'), true], // last_affected: no fix
    ['GHSA-p8p7-x288-28g6', npm('request', '2.88.3'), false],
    ['GHSA-67hx-6x53-jw92', npm('@babel/traverse', '7.23.0'), true, '7.23.2'],
    ['GHSA-67hx-6x53-jw92', npm('@babel/traverse', '8.0.0-alpha.2'), true, '8.0.0-alpha.4'],
    ['GHSA-67hx-6x53-jw92', npm('@babel/traverse', '8.0.0-alpha.4'), false],
    ['GHSA-67hx-6x53-jw92', npm('babel-traverse', '6.26.0'), true],
    ['GHSA-27h2-hvpr-p74q', npm('jsonwebtoken', '8.5.0'), false], // withdrawn
    ['PYSEC-2023-120', pypi('aiohttp', '3.8.4'), true, '3.8.5'],
    ['PYSEC-2023-120', pypi('aiohttp', '3.8.5'), false],
    ['PYSEC-2023-192', pypi('urllib3', '1.26.12'), true, '1.26.17'], // events listed out of order
    ['PYSEC-2023-192', pypi('urllib3', '2.0.3'), true, '2.0.6'],
    ['PYSEC-2023-192', pypi('urllib3', '2.0.6'), false],
    ['PYSEC-2021-421', pypi('Babel', '2.9.0'), true, '2.9.1'], // PEP 503 name
    ['PYSEC-2021-421', pypi('Babel', '2.10.3'), false],
    ['PYSEC-2022-43059', pypi('aiohttp', '3.8.4'), false], // withdrawn
    ['GO-2023-1621', go('stdlib', 'go1.19.5'), true, '1.19.7'],
    ['GO-2023-1621', go('stdlib', 'go1.20rc1'), true, '1.20.2'],
    ['GO-2023-1621', go('stdlib', 'go1.20.2'), false],
    ['GO-2023-1495', go('golang.org/x/net', 'v0.1.0'), true, '0.1.1-0.20221104162952-702349b0e862'],
    ['GO-2023-1495', go('golang.org/x/net', 'v0.5.0'), false],
    ['GO-2023-1495', go('golang.org/x/net', 'v0.0.0-20220101000000-aaaaaaaaaaaa'), false],
    ['GO-2024-2611', go('google.golang.org/protobuf', 'v1.28.2-0.20220831092852-f930b1dc76e8'), true, '1.33.0'],
    ['GO-2025-3543', go('github.com/opencontainers/runc', 'v1.1.5'), false], // withdrawn
    ['DEBIAN-CVE-2026-7017', deb('12', 'perl-base', '5.36.0-7+deb12u3', 'perl'), true, '5.36.0-7+deb12u4'],
    ['DEBIAN-CVE-2026-7017', deb('12', 'perl-base', '5.36.0-7+deb12u4', 'perl'), false],
    ['DEBIAN-CVE-2026-7017', deb('12', 'perl-base', '5.36.0-7+deb12u5', 'perl'), false],
    ['DEBIAN-CVE-2026-7017', deb('13', 'perl-base', '5.36.0-7+deb12u3', 'perl'), false], // Debian:12-only record
    ['DEBIAN-CVE-2026-0861', deb('12', 'libc6', '2.36-9+deb12u14', 'glibc'), false], // fixture: exactly the fix
    ['DEBIAN-CVE-2026-0861', deb('12', 'libc6', '2.36-9+deb12u13', 'glibc'), true, '2.36-9+deb12u14'],
    ['DSA-6281-1', deb('12', 'libgnutls30', '3.7.9-2+deb12u6', 'gnutls28'), true, '3.7.9-2+deb12u7'],
    ['DSA-6281-1', deb('13', 'libgnutls30t64', '3.7.9-2+deb12u7', 'gnutls28'), true, '3.8.9-3+deb13u4'],
    ['DSA-6281-1', deb('13', 'libgnutls30t64', '3.8.9-3+deb13u4', 'gnutls28'), false],
    ['DSA-5349-1', deb('11', 'libgnutls30', '3.7.1-5', 'gnutls28'), true, '3.7.1-5+deb11u3'],
    ['DSA-5349-1', deb('12', 'libgnutls30', '3.7.1-5', 'gnutls28'), false], // Debian:11-only record
    ['DSA-5650-1', deb('12', 'bsdutils', '1:2.38.1-5', 'util-linux', '2.38.1-5'), true, '2.38.1-5+deb12u1'],
    ['DSA-5650-1', deb('12', 'bsdutils', '1:2.38.1-5', 'util-linux'), false], // binary epoch hides it
    ['DSA-5650-1', deb('12', 'bsdutils', '1:2.38.1-5+deb12u3', 'util-linux', '2.38.1-5+deb12u3'), false],
  ];

  it.each(CASES)('%s vs %o → affected %s, fixed %s', (id, pkg, affected, fixedVersion) => {
    const r = affects(get(id), pkg);
    expect(r.affected).toBe(affected);
    expect(r.fixedVersion).toBe(fixedVersion);
  });

  it('ignores withdrawn records even though their ranges match', () => {
    const w = get('GHSA-27h2-hvpr-p74q');
    const range = w.affected[0]?.ranges?.[0];
    expect(range && evaluateRange(range, '8.5.0', rangeComparator(range, 'npm')).vulnerable).toBe(true);
    expect(w.withdrawn).toBeDefined();
  });

  it('applies the no-fix policy to Debian tracker records', () => {
    expect(assess(get('DEBIAN-CVE-2011-3374'), deb('12', 'apt', '2.6.1', 'apt'))).toEqual({
      id: 'DEBIAN-CVE-2011-3374', aliases: ['CVE-2011-3374'], severity: 'INFORMATIONAL', source: 'vendor', fixAvailable: 'NO', vendorStatus: 'unfixed',
    });
    expect(assess(get('DEBIAN-CVE-2016-2781'), deb('12', 'coreutils', '9.1-1', 'coreutils'))).toMatchObject({
      severity: 'UNDEFINED', fixAvailable: 'NO', vendorStatus: 'ignored',
    });
    expect(assess(get('DEBIAN-CVE-2016-2781'), deb('13', 'coreutils', '9.7-3', 'coreutils'))).toBeUndefined();
  });

  it('agrees with GitHub labels wherever a record has both a label and a v3 vector', () => {
    let n = 0;
    for (const r of records.values()) {
      const label = r.database_specific?.severity;
      const s = recordSeverity(r);
      if (typeof label !== 'string' || s.source !== 'cvss') continue;
      expect(s.severity, r.id).toBe(severityFromLabel(label));
      n++;
    }
    expect(n).toBe(27);
  });
});

const PACKAGES = join(SHARED, 'fixtures/debian/bookworm-minbase-packages.tsv');
describe.skipIf(!present || !existsSync(PACKAGES))('Debian records vs the bookworm minbase fixture', () => {
  it('finds exactly the (record, source) pairs that follow from the versions', () => {
    const rows = readFileSync(PACKAGES, 'utf8').trim().split('\n').slice(1).map((l) => l.split('\t'));
    const found = new Set<string>();
    for (const [name = '', version = '', , source = '', sourceVersion = ''] of rows) {
      for (const [id, r] of records) {
        if (id.startsWith('DEBIAN') || id.startsWith('DSA') || id.startsWith('DLA')) {
          if (assess(r, deb('12', name, version, source, sourceVersion))) found.add(`${id} ${source}`);
        }
      }
    }
    const perl = ['2025-15649', '2026-12087', '2026-13221', '2026-19487', '2026-42496', '2026-42497', '2026-48959', '2026-48962', '2026-57432', '2026-57433', '2026-7010', '2026-7017', '2026-8376'];
    expect([...found].sort()).toEqual(
      [
        ...perl.map((c) => `DEBIAN-CVE-${c} perl`),
        'DEBIAN-CVE-2026-103111 pcre2',
        'DEBIAN-CVE-2026-109518 apt',
        'DEBIAN-CVE-2011-3374 apt',
        'DEBIAN-CVE-2022-0563 util-linux',
        'DEBIAN-CVE-2016-2781 coreutils',
      ].sort(),
    );
  });
});
