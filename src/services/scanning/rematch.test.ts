import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { OsvRecord } from '../../core/vuln/osv.js';
import type { KyselyMetadataStore } from '../../metadata/kysely/kysely-metadata-store.js';
import { openSqliteMetadataStore } from '../../metadata/sqlite.js';
import type { InventoryPackage, ScanInventory } from '../../scan/index.js';
import { ScanIndexer } from './indexer.js';
import { matchVersions, packageKey, toVersion } from './matcher.js';
import { Rematcher } from './rematch.js';

let dir: string;
let meta: KyselyMetadataStore;
let clock: number;
const now = (): number => clock;

beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'berth-rematch-'));
  meta = await openSqliteMetadataStore(join(dir, 'meta.db'), { synchronous: 'normal' });
  clock = 1_000_000;
});
afterEach(async () => {
  await meta.close();
  await rm(dir, { recursive: true, force: true });
});

const pkg = (ecosystem: string, name: string, version: string, extra: Partial<InventoryPackage> = {}): InventoryPackage => ({
  ecosystem,
  name,
  version,
  purl: `pkg:generic/${name}@${version}`,
  path: `/x/${name}`,
  layerDigest: 'sha256:' + 'a'.repeat(64),
  extractor: 'test',
  ...extra,
});

const inventory = (packages: InventoryPackage[]): ScanInventory => ({ packages, layers: [], errors: [], partial: false });

let modified = 0;
function record(id: string, affected: OsvRecord['affected'], extra: Partial<OsvRecord> = {}): OsvRecord {
  modified += 1;
  return { id, modified: new Date(Date.UTC(2024, 0, 1) + modified * 1000).toISOString(), affected, ...extra };
}
const range = (ecosystem: string, name: string, events: Array<Record<string, string>>): OsvRecord['affected'][number] => ({
  package: { ecosystem, name },
  ranges: [{ type: 'ECOSYSTEM', events: events as never }],
});

const upsert = (records: OsvRecord[]): Promise<unknown> => meta.tx((tx) => tx.vulndb.upsert(records, clock));
const findingIds = async (digest: string): Promise<string[]> => (await meta.scans.findings(digest)).map((f) => `${f.vulnId}@${f.pkg}`).sort();

const bash = pkg('Debian:12', 'bash', '5.2.15-2+b2', { sourceName: 'bash', sourceVersion: '5.2.15-2' });
const libc = pkg('Debian:12', 'libc6', '2.36-9+deb12u4', { sourceName: 'glibc' });
const lodash = pkg('npm', 'lodash', '4.17.15');

describe('matching package versions', () => {
  it('matches by source package and release, honours fixes, other releases and withdrawn records', async () => {
    await upsert([
      record('DSA-1', [range('Debian:12', 'glibc', [{ introduced: '0' }, { fixed: '2.36-9+deb12u7' }])]),
      record('DSA-OTHER-RELEASE', [range('Debian:13', 'glibc', [{ introduced: '0' }, { fixed: '2.40-1' }])]),
      record('DSA-FIXED', [range('Debian:12', 'glibc', [{ introduced: '0' }, { fixed: '2.36-9+deb12u3' }])]),
      record('DSA-WITHDRAWN', [range('Debian:12', 'glibc', [{ introduced: '0' }])], { withdrawn: '2024-02-01T00:00:00Z' }),
      record('DEB-BINARY-NAME', [range('Debian:12', 'libc6', [{ introduced: '0' }])]),
      record('GHSA-1', [range('npm', 'lodash', [{ introduced: '0' }, { fixed: '4.17.19' }])]),
      record('GHSA-OUTSIDE', [range('npm', 'lodash', [{ introduced: '4.17.16' }, { fixed: '4.17.21' }])]),
    ]);
    const m = await matchVersions(meta.vulndb, [libc, bash, lodash].map(toVersion));
    expect(m.get(packageKey(libc))).toEqual([{ vulnId: 'DSA-1', severity: 'UNDEFINED', fixedVersion: '2.36-9+deb12u7' }]);
    expect(m.get(packageKey(bash))).toEqual([]);
    expect(m.get(packageKey(lodash))).toEqual([{ vulnId: 'GHSA-1', severity: 'UNDEFINED', fixedVersion: '4.17.19' }]);
  });

  it('keys a version by what matching depends on only', () => {
    expect(packageKey(bash)).toBe(packageKey({ ...bash, path: '/elsewhere', layerDigest: 'sha256:' + 'b'.repeat(64) } as InventoryPackage));
    expect(packageKey(bash)).not.toBe(packageKey({ ...bash, sourceVersion: '5.2.15-3' }));
  });
});

describe('indexing and re-matching', () => {
  const indexer = (): ScanIndexer => new ScanIndexer(meta, undefined as never, { now });

  it('stores each image once and shares package versions; findings are per image package', async () => {
    await upsert([record('GHSA-1', [range('npm', 'lodash', [{ introduced: '0' }, { fixed: '4.17.19' }])])]);
    await indexer().store('sha256:img1', inventory([bash, lodash]));
    await indexer().store('sha256:img2', inventory([lodash, { ...lodash, path: '/other/lodash' }]));
    expect(await findingIds('sha256:img1')).toEqual(['GHSA-1@1']);
    expect(await findingIds('sha256:img2')).toEqual(['GHSA-1@0', 'GHSA-1@1']);
    const s = await meta.scans.summaries(['sha256:img1', 'sha256:img2', 'sha256:none']);
    expect(s.get('sha256:img1')?.counts).toEqual({ UNDEFINED: 1 });
    expect(s.get('sha256:img2')?.counts).toEqual({ UNDEFINED: 2 });
    expect(s.has('sha256:none')).toBe(false);
    expect((await meta.scans.getInventory('sha256:img1'))?.inventory).toEqual(inventory([bash, lodash]));
  });

  it('applies new, changed, withdrawn and narrowed advisories to every image without reading it again', async () => {
    await upsert([record('GHSA-1', [range('npm', 'lodash', [{ introduced: '0' }, { fixed: '4.17.19' }])])]);
    for (const d of ['sha256:a', 'sha256:b']) await indexer().store(d, inventory([libc, lodash]));
    await indexer().store('sha256:c', inventory([bash]));
    const rematcher = new Rematcher(meta, { now });
    expect(await rematcher.due()).toBe(false);

    clock += 1000;
    await upsert([
      record('DSA-9', [range('Debian:12', 'glibc', [{ introduced: '0' }, { fixed: '2.36-9+deb12u9' }])], {
        severity: [{ type: 'CVSS_V3', score: 'CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H' }],
      }),
      record('DSA-13', [range('Debian:13', 'bash', [{ introduced: '0' }])]),
    ]);
    expect(await rematcher.due()).toBe(true);
    const r1 = await rematcher.run();
    expect(r1).toMatchObject({ advisories: 2, appeared: 1, disappeared: 0 });
    // One package version evaluated, both images that have it see the finding.
    for (const d of ['sha256:a', 'sha256:b']) expect(await findingIds(d)).toEqual(['DSA-9@0', 'GHSA-1@1']);
    expect(await findingIds('sha256:c')).toEqual([]);
    expect((await meta.scans.summaries(['sha256:a'])).get('sha256:a')?.counts).toEqual({ CRITICAL: 1, UNDEFINED: 1 });
    const changes = await meta.scans.findingChanges({ digest: 'sha256:a', limit: 10 });
    expect(changes.map((c) => [c.vulnId, c.change, c.pkg, c.severity])).toEqual([['DSA-9', 'appeared', 0, 'CRITICAL']]);
    expect(await rematcher.due()).toBe(false);
    expect((await rematcher.run()).advisories).toBe(0);

    // Withdrawn: gone. Narrowed so that the installed version is outside: gone. Both recorded.
    clock += 1000;
    await upsert([
      record('DSA-9', [range('Debian:12', 'glibc', [{ introduced: '0' }, { fixed: '2.36-9+deb12u9' }])], { withdrawn: '2024-03-01T00:00:00Z' }),
      record('GHSA-1', [range('npm', 'lodash', [{ introduced: '4.17.16' }, { fixed: '4.17.19' }])]),
    ]);
    const r2 = await rematcher.run();
    expect(r2).toMatchObject({ appeared: 0, disappeared: 2 });
    expect(await findingIds('sha256:a')).toEqual([]);
    const all = await meta.scans.findingChanges({ digest: 'sha256:b', limit: 10 });
    expect(all.map((c) => `${c.vulnId}:${c.change}`)).toEqual(['DSA-9:appeared', 'DSA-9:disappeared', 'GHSA-1:disappeared']);

    // A record that stops naming the package at all still takes its match away.
    clock += 1000;
    await upsert([record('GHSA-2', [range('npm', 'lodash', [{ introduced: '0' }])])]);
    await rematcher.run();
    expect(await findingIds('sha256:a')).toEqual(['GHSA-2@1']);
    await upsert([record('GHSA-2', [range('npm', 'underscore', [{ introduced: '0' }])])]);
    await rematcher.run();
    expect(await findingIds('sha256:a')).toEqual([]);
  });

  it('updates severity and fix in place and keeps when the finding was first seen', async () => {
    await upsert([record('GHSA-3', [range('npm', 'lodash', [{ introduced: '0' }])])]);
    await indexer().store('sha256:a', inventory([lodash]));
    const first = (await meta.scans.findings('sha256:a'))[0]!;
    clock += 5000;
    await upsert([record('GHSA-3', [range('npm', 'lodash', [{ introduced: '0' }, { fixed: '4.17.21' }])], { database_specific: { severity: 'HIGH' } })]);
    const r = await new Rematcher(meta, { now }).run();
    expect(r).toMatchObject({ changed: 1, appeared: 0, disappeared: 0 });
    const after = (await meta.scans.findings('sha256:a'))[0]!;
    expect(after).toMatchObject({ severity: 'HIGH', fixedVersion: '4.17.21', firstSeenAt: first.firstSeenAt });
  });

  it('catches up versions whose scan matched an older generation (a scan that raced an import)', async () => {
    // Index while the database is empty, then import: the stored version lags behind.
    await indexer().store('sha256:a', inventory([lodash]));
    await upsert([record('GHSA-4', [range('npm', 'lodash', [{ introduced: '0' }])])]);
    // A second image with the same version does not re-match the stored version...
    await indexer().store('sha256:b', inventory([lodash]));
    expect(await findingIds('sha256:b')).toEqual([]);
    // ...the re-match does, for both.
    await new Rematcher(meta, { now }).run();
    expect(await findingIds('sha256:a')).toEqual(['GHSA-4@0']);
    expect(await findingIds('sha256:b')).toEqual(['GHSA-4@0']);
    expect(await meta.scans.minPackageGeneration()).toBe((await meta.vulndb.status()).generation);
  });

  it('re-matches thousands of images by package version, not by image', async () => {
    const shared = Array.from({ length: 50 }, (_, i) => pkg('npm', `dep-${i}`, '1.0.0'));
    const n = 1000;
    for (let i = 0; i < n; i++) {
      const own = pkg('npm', `app-${i}`, '1.0.0');
      await meta.tx((tx) => tx.scans.putInventory({ digest: `sha256:${i}`, scanner: 't', inventory: {}, layerErrors: 0, indexedAt: clock, generation: 0, sourceUpdatedAt: null }, [...shared, own].map(toVersion), new Map([...shared, own].map((p) => [packageKey(p), []])), clock));
    }
    await upsert(Array.from({ length: 20 }, (_, i) => record(`GHSA-D${i}`, [range('npm', `dep-${i}`, [{ introduced: '0' }])])));
    const t0 = performance.now();
    const r = await new Rematcher(meta, { now }).run();
    const ms = performance.now() - t0;
    expect(r).toMatchObject({ advisories: 20, packageVersions: 20, appeared: 20 });
    expect((await meta.scans.summaries([`sha256:${n - 1}`])).get(`sha256:${n - 1}`)?.counts).toEqual({ UNDEFINED: 20 });
    // Generous bound (shared 2-core machine): the work is 20 evaluations and 20 rows, whatever n is.
    expect(ms).toBeLessThan(5000);
  }, 60_000);
});
