/**
 * ScanStore cases of the MetadataStore contract (run on SQLite and PostgreSQL). The suite's
 * store is shared by every case, so each case uses its own names and digests and checks
 * only what it wrote.
 */
import { randomUUID } from 'node:crypto';
import { expect, it } from 'vitest';
import type { InventoryRecord, PackageVersionInput, VulnMatch } from './scans-types.js';
import { DEFAULT_REPOSITORY_SETTINGS, type MetadataStore } from './types.js';

const uid = (): string => randomUUID().replace(/-/g, '').slice(0, 12);
const digest = (): string => `sha256:${randomUUID().replace(/-/g, '')}${randomUUID().replace(/-/g, '')}`;

const version = (ecosystem: string, name: string, v: string, extra: Partial<PackageVersionInput> = {}): PackageVersionInput => ({
  key: `k-${uid()}`,
  ecosystem,
  name,
  version: v,
  ...extra,
});

const record = (d: string, extra: Partial<InventoryRecord> = {}): InventoryRecord => ({
  digest: d,
  scanner: 'contract/1',
  inventory: { packages: [{ name: 'x', note: 'ünïcode' }], layers: [] },
  layerErrors: 0,
  indexedAt: 100,
  generation: 3,
  sourceUpdatedAt: 50,
  ...extra,
});

export function scansContractCases(store: () => MetadataStore, second: () => Promise<MetadataStore>): void {
  const put = (s: MetadataStore, r: InventoryRecord, pkgs: PackageVersionInput[], matches: [string, VulnMatch[]][], now = 200): Promise<Set<string>> =>
    s.tx((tx) => tx.scans.putInventory(r, pkgs, new Map(matches), now));

  it('scans: an inventory is stored once per digest, package versions once, with the matches of new versions only', async () => {
    const s = store();
    const [a, b] = [version('npm', `lib-${uid()}`, '1.0.0'), version('Debian:12', `bin-${uid()}`, '1:2.0-1', { sourceName: 'src', sourceVersion: '2.0-1' })];
    const [d1, d2] = [digest(), digest()];
    const inserted = await put(s, record(d1), [a, b, a], [
      [a.key, [{ vulnId: 'V-1', severity: 'HIGH', fixedVersion: '1.0.1' }]],
      [b.key, []],
    ]);
    expect(inserted).toEqual(new Set([a.key, b.key]));
    expect(await s.scans.knownPackageVersions([a.key, b.key, 'k-unknown'])).toEqual(new Set([a.key, b.key]));
    // A second image with a known version: its matches argument is ignored, the stored ones stay.
    expect(await put(s, record(d2), [a], [[a.key, [{ vulnId: 'V-IGNORED', severity: 'LOW' }]]])).toEqual(new Set());
    expect((await s.scans.findings(d2)).map((f) => [f.vulnId, f.pkg, f.severity, f.fixedVersion, f.firstSeenAt])).toEqual([['V-1', 0, 'HIGH', '1.0.1', 200]]);
    expect((await s.scans.findings(d1)).map((f) => f.pkg).sort()).toEqual([0, 2]);
    // A version unknown to the store and without matches is refused (it may have been pruned while the caller matched).
    await expect(put(s, record(digest()), [version('npm', 'ghost', '1')], [])).rejects.toThrow(/vanished/);

    const got = await s.scans.getInventory(d1);
    expect(got).toEqual(record(d1));
    // Replacing the inventory replaces the image's packages.
    await put(s, record(d1, { indexedAt: 300, layerErrors: 1, inventory: { v: 2 } }), [b], []);
    expect(await s.scans.findings(d1)).toEqual([]);
    expect(await s.scans.getInventory(d1)).toMatchObject({ indexedAt: 300, layerErrors: 1, inventory: { v: 2 } });
    const sum = await s.scans.summaries([d1, d2, digest()]);
    expect([...sum.keys()].sort()).toEqual([d1, d2].sort());
    expect(sum.get(d2)).toEqual({ indexedAt: 100, sourceUpdatedAt: 50, layerErrors: 0, counts: { HIGH: 1 } });
    expect(sum.get(d1)?.counts).toEqual({});
    expect((await s.scans.summaries([d2], { counts: false })).get(d2)).toEqual({ indexedAt: 100, sourceUpdatedAt: 50, layerErrors: 0, counts: {} });
  });

  it('scans: two nodes storing the same new version concurrently insert it once', async () => {
    const other = await second();
    try {
      const v = version('npm', `race-${uid()}`, '1.0.0');
      const [d1, d2] = [digest(), digest()];
      const m: [string, VulnMatch[]][] = [[v.key, [{ vulnId: 'V-R', severity: 'LOW' }]]];
      // SQLite has one writer, and better-sqlite3 waits for a lock synchronously: two stores in one process take turns.
      const [x, y] =
        store().dialect === 'sqlite'
          ? [await put(store(), record(d1), [v], m), await put(other, record(d2), [v], m)]
          : await Promise.all([put(store(), record(d1), [v], m), put(other, record(d2), [v], m)]);
      expect(x.size + y.size).toBe(1);
      expect((await store().scans.findings(d1)).map((f) => f.vulnId)).toEqual(['V-R']);
      expect((await store().scans.findings(d2)).map((f) => f.vulnId)).toEqual(['V-R']);
    } finally {
      await other.close();
    }
  });

  it('scans: statuses are per repository image, move conditionally, and go with the manifest', async () => {
    const s = store();
    const repo = (await s.repositories.create(`contract/scans-${uid()}`, { ...DEFAULT_REPOSITORY_SETTINGS }, 1)).row;
    const d = digest();
    const manifest = { repositoryId: repo.id, digest: d, mediaType: 'application/vnd.oci.image.manifest.v1+json', size: 2, artifactType: null, subjectDigest: null, annotations: null, pushedAt: 1, lastPulledAt: null };
    await s.manifests.put(manifest, Buffer.from('{}'), []);
    const row = { repositoryId: repo.id, digest: d, status: 'PENDING' as const, description: null, trigger: 'push', requestedAt: 10, startedAt: null, completedAt: null };
    await s.scans.putStatus(row);
    await s.scans.putStatus({ ...row, status: 'IN_PROGRESS', startedAt: 11 });
    expect(await s.scans.transitionStatus({ ...row, status: 'IN_PROGRESS', description: '50%', startedAt: 11 }, ['IN_PROGRESS'])).toBe(true);
    expect(await s.scans.transitionStatus({ ...row, status: 'COMPLETE' }, ['PENDING'])).toBe(false);
    expect((await s.scans.statuses(repo.id, [d, digest()])).get(d)).toEqual({ ...row, status: 'IN_PROGRESS', description: '50%', startedAt: 11 });
    await expect(s.scans.putStatus({ ...row, digest: digest() })).rejects.toThrow(); // only for stored manifests
    await s.manifests.delete(repo.id, d);
    expect((await s.scans.statuses(repo.id, [d])).size).toBe(0);
  });

  it('scans: package versions are found by vulnerability-database index key', async () => {
    const s = store();
    const n = uid();
    const pypi = version('PyPI', `Zope.Interface_${n}`, '5.0');
    const deb = version('Debian:12', `libfoo-${n}`, '1.0-1', { sourceName: `foo-${n}` });
    const rh = version('Red Hat', `openssl-libs-${n}`, '1:3.0.7-1.el9', { sourceName: `openssl-${n}` });
    await put(s, record(digest()), [pypi, deb, rh], [pypi, deb, rh].map((v) => [v.key, []]));
    const keys = (ks: { base: string; name: string }[]) => s.scans.packageVersionsNamed(ks).then((vs) => vs.map((v) => v.key).sort());
    expect(await keys([{ base: 'PyPI', name: `zope-interface-${n}` }])).toEqual([pypi.key]);
    expect(await keys([{ base: 'Debian', name: `foo-${n}` }])).toEqual([deb.key]);
    expect(await keys([{ base: 'Debian', name: `libfoo-${n}` }])).toEqual([]);
    expect(await keys([{ base: 'Red Hat', name: `openssl-${n}` }])).toEqual([rh.key]);
    expect(await keys([{ base: 'Red Hat', name: `openssl-libs-${n}` }])).toEqual([rh.key]);
    const [row] = await s.scans.packageVersionsNamed([{ base: 'Debian', name: `foo-${n}` }]);
    expect(row).toMatchObject({ ecosystem: 'Debian:12', name: `libfoo-${n}`, version: '1.0-1', sourceName: `foo-${n}`, generation: 3 });
    expect(row?.sourceVersion).toBeUndefined();
  });

  it('scans: applyMatches keeps when a match was first seen and records changes each image sees after its indexing', async () => {
    const s = store();
    const v = version('npm', `m-${uid()}`, '2.0.0');
    const [early, late] = [digest(), digest()];
    await put(s, record(early, { indexedAt: 100 }), [v], [[v.key, [{ vulnId: 'V-A', severity: 'LOW' }]]], 100);
    const vuln = `V-B-${uid()}`;
    await s.tx((tx) => tx.scans.applyMatches({
      upserts: [{ packageKey: v.key, vulnId: vuln, severity: 'MEDIUM' }, { packageKey: v.key, vulnId: 'V-A', severity: 'HIGH', fixedVersion: '2.0.1' }],
      deletes: [],
      changes: [{ packageKey: v.key, vulnId: vuln, change: 'appeared', severity: 'MEDIUM' }],
      fullyMatched: [v.key],
      generation: 7,
      now: 500,
    }));
    expect((await s.scans.matchesOf([v.key])).map((m) => [m.vulnId, m.severity, m.fixedVersion, m.firstSeenAt]).sort()).toEqual(
      [['V-A', 'HIGH', '2.0.1', 100], [vuln, 'MEDIUM', undefined, 500]].sort(),
    );
    expect((await s.scans.matchesOf(undefined, [vuln])).map((m) => m.packageKey)).toEqual([v.key]);
    expect((await s.scans.packageVersionsNamed([{ base: 'npm', name: v.name }]))[0]?.generation).toBe(7);
    await put(s, record(late, { indexedAt: 600 }), [v], [], 600);
    await s.tx((tx) => tx.scans.applyMatches({ upserts: [], deletes: [{ packageKey: v.key, vulnId: vuln }], changes: [{ packageKey: v.key, vulnId: vuln, change: 'disappeared', severity: 'MEDIUM' }], generation: 8, now: 700 }));
    expect((await s.scans.findingChanges({ digest: early, limit: 10 })).map((c) => [c.change, c.at, c.generation, c.pkg])).toEqual([['appeared', 500, 7, 0], ['disappeared', 700, 8, 0]]);
    // The later image did not exist when the finding appeared.
    expect((await s.scans.findingChanges({ digest: late, limit: 10 })).map((c) => c.change)).toEqual(['disappeared']);
    const first = (await s.scans.findingChanges({ digest: early, limit: 1 }))[0]!;
    expect((await s.scans.findingChanges({ digest: early, afterId: first.id, limit: 10 })).map((c) => c.change)).toEqual(['disappeared']);
  });

  it('scans: finishRematch raises only versions up to the seq it was given, and records the state', async () => {
    const s = store();
    const [a, b] = [version('npm', `g-${uid()}`, '1'), version('npm', `g-${uid()}`, '1')];
    await put(s, record(digest(), { generation: 0 }), [a], [[a.key, []]]);
    const maxSeq = await s.tx((tx) => tx.scans.maxPackageSeq());
    await put(s, record(digest(), { generation: 0 }), [b], [[b.key, []]]);
    expect(await s.scans.minPackageGeneration(maxSeq)).toBe(0);
    const target = 1_000_000 + Math.floor(Math.random() * 1000);
    expect(await s.scans.finishRematch({ generation: target, maxSeq, sourceUpdatedAt: 42, now: 43 })).toBeGreaterThanOrEqual(1);
    const gen = async (v: PackageVersionInput): Promise<number | undefined> => (await s.scans.packageVersionsNamed([{ base: 'npm', name: v.name }]))[0]?.generation;
    expect(await gen(a)).toBe(target);
    expect(await gen(b)).toBe(0);
    expect(await s.scans.rematchState()).toMatchObject({ sourceUpdatedAt: 42, at: 43 });
    expect((await s.scans.rematchState()).generation).toBeGreaterThanOrEqual(target);
  });

  it('scans: pruneOrphans drops inventories of digests no repository holds, then versions no image uses', async () => {
    const s = store();
    const repo = (await s.repositories.create(`contract/prune-${uid()}`, { ...DEFAULT_REPOSITORY_SETTINGS }, 1)).row;
    const [held, gone] = [digest(), digest()];
    await s.manifests.put({ repositoryId: repo.id, digest: held, mediaType: 'application/vnd.oci.image.manifest.v1+json', size: 2, artifactType: null, subjectDigest: null, annotations: null, pushedAt: 1, lastPulledAt: null }, Buffer.from('{}'), []);
    const [shared, only] = [version('npm', `p-${uid()}`, '1'), version('npm', `p-${uid()}`, '1')];
    await put(s, record(held), [shared], [[shared.key, [{ vulnId: 'V-P', severity: 'LOW' }]]]);
    await put(s, record(gone), [shared, only], [[only.key, [{ vulnId: 'V-P', severity: 'LOW' }]]]);
    const pruned = await s.tx((tx) => tx.scans.pruneOrphans());
    expect(pruned.inventories).toBeGreaterThanOrEqual(1);
    expect(await s.scans.getInventory(gone)).toBeNull();
    expect(await s.scans.getInventory(held)).not.toBeNull();
    expect(await s.scans.knownPackageVersions([shared.key, only.key])).toEqual(new Set([shared.key]));
    expect(await s.scans.matchesOf([only.key])).toEqual([]);
  });
}
