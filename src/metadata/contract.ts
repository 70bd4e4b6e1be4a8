/**
 * The MetadataStore contract suite; each implementation's `*.contract.test.ts` calls it.
 */
import { createHash, randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DEFAULT_REPOSITORY_SETTINGS, type ManifestRow, type MetadataStore } from './types.js';
import { identityContractCases } from './contract-identity.js';
import { jobsVulnDbContractCases } from './contract-jobs-vulndb.js';
import { scansContractCases } from './contract-scans.js';

export interface MetadataStoreFactory {
  open(): Promise<MetadataStore>;
  destroy?(): Promise<void>;
}

const d = (n: number | string): string => `sha256:${String(n).padStart(64, '0')}`;

function manifest(repositoryId: number, digest: string, extra: Partial<ManifestRow> = {}): ManifestRow {
  return {
    repositoryId,
    digest,
    mediaType: 'application/vnd.oci.image.manifest.v1+json',
    size: 10,
    artifactType: null,
    subjectDigest: null,
    annotations: null,
    pushedAt: 1000,
    lastPulledAt: null,
    ...extra,
  };
}

export function describeMetadataStoreContract(name: string, factory: MetadataStoreFactory | null, skipReason = 'no database configured'): void {
  const suiteSkipReason = factory === null ? skipReason : undefined;
  describe.skipIf(suiteSkipReason !== undefined)(`MetadataStore contract: ${name}${suiteSkipReason ? ` (skipped: ${suiteSkipReason})` : ''}`, () => {
    let store: MetadataStore;
    const repoName = (): string => `contract/${randomUUID()}`;

    beforeAll(async () => {
      store = await factory!.open();
    });
    afterAll(async () => {
      await store?.close();
      await factory?.destroy?.();
    });

    identityContractCases(() => store);

    it('purges audit events older than a time, oldest first, in bounded batches', async () => {
      const tag = `purge-${randomUUID()}`;
      for (const at of [1, 2, 3]) await store.audit.record({ at, actor: tag, action: tag });
      await store.audit.record({ at: 4_000_000_000_000, actor: tag, action: tag });
      expect(await store.audit.purgeBefore(3, 1)).toBeGreaterThanOrEqual(1);
      await store.audit.purgeBefore(3, 1000);
      const left = (await store.audit.list({ limit: 100, action: tag })).map((e) => e.at);
      expect(left).toEqual([3, 4_000_000_000_000]);
    });
    jobsVulnDbContractCases(() => store, () => factory!.open());
    scansContractCases(() => store, () => factory!.open());

    it('creates a repository once, even when asked concurrently', async () => {
      const n = repoName();
      const rows = await Promise.all([1, 2, 3, 4].map(() => store.repositories.ensure(n, 5)));
      expect(new Set(rows.map((r) => r.id)).size).toBe(1);
      expect((await store.repositories.get(n))?.name).toBe(n);
      expect(await store.repositories.get(`${n}-missing`)).toBeNull();
    });

    it('lists repositories in byte-wise order with pagination', async () => {
      const prefix = `order${randomUUID().slice(0, 8)}`;
      const names = [`${prefix}/b`, `${prefix}/a-c`, `${prefix}/a`, `${prefix}/a/b`, `${prefix}/_z`, `${prefix}/A`].filter((x) =>
        /^[a-z0-9/_-]+$/.test(x),
      );
      for (const n of names) await store.repositories.ensure(n, 1);
      const all: string[] = [];
      let last: string | undefined = `${prefix}/`;
      for (;;) {
        const page = await store.repositories.list(last === undefined ? { limit: 2 } : { last, limit: 2 });
        const mine = page.filter((p) => p.startsWith(prefix));
        all.push(...mine);
        if (page.length < 2 || mine.length < page.length) break;
        last = page[page.length - 1];
      }
      const expected = [...names].sort((a, b) => (Buffer.compare(Buffer.from(a), Buffer.from(b))));
      expect(all).toEqual(expected);
    });

    it('inserts a blob once and links it per repository', async () => {
      const repo = await store.repositories.ensure(repoName(), 1);
      const other = await store.repositories.ensure(repoName(), 1);
      const digest = d(randomUUID().replace(/-/g, ''));
      const first = await store.blobs.insert({ digest, size: 3, storageKey: 'k1', createdAt: 1 });
      const second = await store.blobs.insert({ digest, size: 3, storageKey: 'k2', createdAt: 2 });
      expect(first.inserted).toBe(true);
      expect(second).toEqual({ inserted: false, row: { digest, size: 3, storageKey: 'k1', createdAt: 1 } });
      await store.blobs.link(repo.id, digest, 3);
      await store.blobs.link(repo.id, digest, 4);
      expect((await store.blobs.getLinked(repo.id, digest))?.storageKey).toBe('k1');
      expect((await store.blobs.getLinkedByName(repo.name, digest))?.storageKey).toBe('k1');
      expect(await store.blobs.getLinkedByName(other.name, digest)).toBeNull();
      expect(await store.blobs.getLinked(other.id, digest)).toBeNull();
      expect([...(await store.blobs.linkedAmong(repo.id, [digest, d(1)]))]).toEqual([digest]);
      // Past the number of digests a statement is prepared for (16), and with repeats.
      const many = [...Array.from({ length: 20 }, (_, i) => d(`f${i}`)), digest, digest];
      expect([...(await store.blobs.linkedAmong(repo.id, many))]).toEqual([digest]);
      expect([...(await store.blobs.linkedAmong(other.id, many))]).toEqual([]);
      expect(await store.blobs.unlink(repo.id, digest)).toBe(true);
      expect(await store.blobs.unlink(repo.id, digest)).toBe(false);
      expect(await store.blobs.getLinked(repo.id, digest)).toBeNull();
      expect(await store.blobs.get(digest)).not.toBeNull();
    });

    it('stores manifests with content, references, tags and referrers', async () => {
      const repo = await store.repositories.ensure(repoName(), 1);
      const m1 = d(`a1${randomUUID().slice(0, 8)}`);
      const m2 = d(`a2${randomUUID().slice(0, 8)}`);
      const content = Buffer.from('{"schemaVersion":2}');
      expect(await store.manifests.put(manifest(repo.id, m1, { annotations: { a: 'b' } }), content, [{ digest: d(7), kind: 'blob' }, { digest: d(7), kind: 'blob' }])).toBe(true);
      expect(await store.manifests.put(manifest(repo.id, m1), content, [])).toBe(false);
      await store.manifests.put(manifest(repo.id, m2, { subjectDigest: m1, artifactType: 'application/x-sig' }), content, [{ digest: m1, kind: 'manifest' }]);
      const got = await store.manifests.get(repo.id, m1);
      expect(got?.content.equals(content)).toBe(true);
      expect(got?.annotations).toEqual({ a: 'b' });
      expect(await store.manifests.parentsOf(repo.id, m1)).toEqual([m2]);
      expect([...(await store.manifests.presentAmong(repo.id, [m1, m2, d(9)]))].sort()).toEqual([m1, m2].sort());
      expect((await store.manifests.referrers(repo.id, m1)).map((r) => r.digest)).toEqual([m2]);
      expect(await store.manifests.referrers(repo.id, m1, 'application/other')).toEqual([]);
      expect(await store.tags.digestOf(repo.id, 'v1')).toBeNull();
      await store.tags.set(repo.id, 'v1', m1, 5);
      expect(await store.tags.digestOf(repo.id, 'v1')).toBe(m1);
      await store.tags.set(repo.id, 'v1', m2, 6);
      expect(await store.tags.digestOf(repo.id, 'v1')).toBe(m2);
      expect((await store.tags.resolve(repo.id, 'v1'))?.digest).toBe(m2);
      expect((await store.tags.resolveByName(repo.name, 'v1'))?.digest).toBe(m2);
      expect(await store.tags.resolveByName(`${repo.name}-x`, 'v1')).toBeNull();
      expect((await store.manifests.getByName(repo.name, m1))?.content.equals(content)).toBe(true);
      await store.tags.set(repo.id, 'latest', m2, 7);
      expect(await store.tags.of(repo.id, m2)).toEqual(['latest', 'v1']);
      expect(await store.manifests.delete(repo.id, m2)).toBe(true);
      expect(await store.tags.resolve(repo.id, 'v1')).toBeNull();
      expect(await store.tags.list(repo.id, { limit: 10 })).toEqual([]);
      expect(await store.manifests.parentsOf(repo.id, m1)).toEqual([]);
      await store.manifests.recordPull(repo.id, m1, 99);
      expect((await store.manifests.get(repo.id, m1))?.lastPulledAt).toBe(99);
    });

    it('reads the parents of many manifests and deletes many manifests with their tags and references at once', async () => {
      const repo = await store.repositories.ensure(repoName(), 1);
      const u = randomUUID().slice(0, 8);
      const [child, other, indexB, indexA, lone] = ['c1', 'c2', 'ib', 'ia', 'l0'].map((p) => d(`${p}${u}`)) as [string, string, string, string, string];
      const content = Buffer.from('{}');
      for (const m of [child, other, lone]) await store.manifests.put(manifest(repo.id, m), content, [{ digest: d(7), kind: 'blob' }]);
      await store.manifests.put(manifest(repo.id, indexB), content, [{ digest: child, kind: 'manifest' }, { digest: other, kind: 'manifest' }]);
      await store.manifests.put(manifest(repo.id, indexA), content, [{ digest: child, kind: 'manifest' }]);
      await store.tags.set(repo.id, 'a', indexA, 2);
      await store.tags.set(repo.id, 'l', lone, 2);
      const parents = await store.manifests.parentsAmong(repo.id, [child, other, lone, child]);
      expect(Object.fromEntries(parents)).toEqual({ [child]: [indexA, indexB].sort(), [other]: [indexB] });
      expect(await store.manifests.deleteMany(repo.id, [indexA, indexB, lone, d(`zz${u}`), lone])).toBe(3);
      expect([...(await store.manifests.presentAmong(repo.id, [child, other, lone, indexA, indexB]))].sort()).toEqual([child, other].sort());
      expect(await store.tags.list(repo.id, { limit: 10 })).toEqual([]);
      expect((await store.manifests.parentsAmong(repo.id, [child, other])).size).toBe(0);
      expect(await store.manifests.deleteMany(repo.id, [])).toBe(0);
    });

    it('lists tags in byte-wise order with pagination', async () => {
      const repo = await store.repositories.ensure(repoName(), 1);
      const m = d(`b${randomUUID().slice(0, 8)}`);
      await store.manifests.put(manifest(repo.id, m), Buffer.from('{}'), []);
      const tags = ['b', 'A', 'a', 'a.1', 'a_1', 'a-1', 'Z9', '_x', '10', '9'];
      for (const t of tags) await store.tags.set(repo.id, t, m, 1);
      const pages: string[][] = [];
      let last: string | undefined;
      for (;;) {
        const page = await store.tags.list(repo.id, last === undefined ? { limit: 3 } : { last, limit: 3 });
        if (page.length === 0) break;
        pages.push(page);
        last = page[page.length - 1];
      }
      expect(pages.flat()).toEqual([...tags].sort((x, y) => Buffer.compare(Buffer.from(x), Buffer.from(y))));
      expect(pages[0]).toHaveLength(3);
      expect(await store.tags.delete(repo.id, 'b')).toBe(true);
      expect(await store.tags.delete(repo.id, 'b')).toBe(false);
    });

    it('advances upload offsets only by compare-and-set', async () => {
      const repo = await store.repositories.ensure(repoName(), 1);
      const id = randomUUID();
      await store.uploads.create({ id, repositoryId: repo.id, storageKey: 'k', offset: 0, createdAt: 1, updatedAt: 1 });
      expect(await store.uploads.advance(id, 0, 10, 2)).toBe(true);
      expect(await store.uploads.advance(id, 0, 20, 3)).toBe(false);
      expect((await store.uploads.get(id))?.offset).toBe(10);
      const stale = await store.uploads.listStale(3, 1000);
      expect(stale.map((u) => u.id)).toContain(id);
      expect(await store.uploads.delete(id)).toBe(true);
      expect(await store.uploads.get(id)).toBeNull();
    });

    it('rolls a transaction back when it throws', async () => {
      const n = repoName();
      await expect(
        store.tx(async (tx) => {
          await tx.repositories.ensure(n, 1);
          throw new Error('boom');
        }),
      ).rejects.toThrow('boom');
      expect(await store.repositories.get(n)).toBeNull();
      const made = await store.tx(async (tx) => tx.repositories.ensure(n, 1));
      expect((await store.repositories.get(n))?.id).toBe(made.id);
    });

    it('creates repositories with settings, updates and deletes them with their content', async () => {
      const n = repoName();
      const settings = { ...DEFAULT_REPOSITORY_SETTINGS, tagMutability: 'IMMUTABLE' as const, resourceTags: { team: 'a' } };
      const first = await store.repositories.create(n, settings, 1);
      expect(first.created).toBe(true);
      expect(first.row.settings).toEqual(settings);
      const again = await store.repositories.create(n, DEFAULT_REPOSITORY_SETTINGS, 2);
      expect(again).toEqual({ created: false, row: first.row });
      await store.repositories.updateSettings(first.row.id, { ...settings, scanOnPush: true });
      expect((await store.repositories.get(n))?.settings.scanOnPush).toBe(true);
      expect((await store.repositories.listRows({ last: n.slice(0, -1), limit: 1000 })).map((r) => r.name)).toContain(n);
      const digest = d(`c${randomUUID().slice(0, 8)}`);
      await store.blobs.insert({ digest, size: 5, storageKey: 'k', createdAt: 1 });
      await store.blobs.link(first.row.id, digest, 1);
      const m = d(`c2${randomUUID().slice(0, 8)}`);
      await store.manifests.put(manifest(first.row.id, m), Buffer.from('{}'), [{ digest, kind: 'blob' }]);
      await store.tags.set(first.row.id, 't', m, 1);
      await store.uploads.create({ id: randomUUID(), repositoryId: first.row.id, storageKey: 'k', offset: 0, createdAt: 1, updatedAt: 1 });
      expect(await store.repositories.delete(first.row.id)).toBe(true);
      expect(await store.repositories.get(n)).toBeNull();
      expect(await store.blobs.get(digest)).not.toBeNull();
    });

    it('lists manifests with tags and sizes', async () => {
      const repo = await store.repositories.ensure(repoName(), 1);
      const b1 = d(`e1${randomUUID().slice(0, 8)}`);
      const b2 = d(`e2${randomUUID().slice(0, 8)}`);
      await store.blobs.insert({ digest: b1, size: 100, storageKey: 'k1', createdAt: 1 });
      await store.blobs.insert({ digest: b2, size: 23, storageKey: 'k2', createdAt: 1 });
      const img = d(`e3${randomUUID().slice(0, 8)}`);
      const idx = d(`e4${randomUUID().slice(0, 8)}`);
      await store.manifests.put(manifest(repo.id, img), Buffer.from('{}'), [{ digest: b1, kind: 'blob' }, { digest: b2, kind: 'blob' }]);
      await store.manifests.put(manifest(repo.id, idx, { mediaType: 'application/vnd.oci.image.index.v1+json' }), Buffer.from('{}'), [{ digest: img, kind: 'manifest' }]);
      await store.tags.set(repo.id, 'b', img, 1);
      await store.tags.set(repo.id, 'a', img, 1);
      expect((await store.manifests.list(repo.id, { limit: 10 })).map((m) => m.digest)).toEqual([img, idx].sort());
      expect((await store.manifests.list(repo.id, { limit: 1 })).length).toBe(1);
      expect(await store.manifests.count(repo.id)).toBe(2);
      expect(await store.manifests.sizes(repo.id, [img, idx])).toEqual(new Map([[img, 123], [idx, 123]]));
      // Past the bound-parameter chunk, the blob bytes are summed by separate queries.
      const wide = d(`e5${randomUUID().slice(0, 8)}`);
      const rowless = Array.from({ length: 5_000 }, (_, i) => ({ digest: d(`e6${i}`), kind: 'blob' as const }));
      await store.manifests.put(manifest(repo.id, wide), Buffer.from('{}'), [{ digest: b1, kind: 'blob' }, ...rowless, { digest: b2, kind: 'blob' }]);
      expect(await store.manifests.sizes(repo.id, [wide])).toEqual(new Map([[wide, 123]]));
      expect(await store.manifests.delete(repo.id, wide)).toBe(true);
      expect(await store.tags.ofMany(repo.id, [img, idx])).toEqual(new Map([[img, ['a', 'b']]]));
      expect(await store.tags.digestOf(repo.id, 'a')).toBe(img);
      expect(await store.tags.digestOf(repo.id, 'zz')).toBeNull();
      expect(await store.manifests.childLinks(repo.id)).toEqual([{ parent: idx, child: img }]);
      expect(await store.manifests.exclusiveBytes(repo.id, [img])).toBe(123);
      const other = await store.repositories.ensure(repoName(), 1);
      await store.manifests.put(manifest(other.id, img), Buffer.from('{}'), [{ digest: b2, kind: 'blob' }]);
      expect(await store.manifests.exclusiveBytes(repo.id, [img])).toBe(100);
      const many = [img, ...Array.from({ length: 40_000 }, (_, i) => d(`zz${i}`))];
      expect(await store.manifests.exclusiveBytes(repo.id, many)).toBe(100);
      await store.blobs.link(repo.id, b1, 1);
      await store.blobs.link(repo.id, b2, 1);
      await store.blobs.link(other.id, b2, 1);
      expect(await store.blobs.usage([repo.id, other.id])).toEqual(new Map([[repo.id, { bytes: 123, sharedBytes: 23 }], [other.id, { bytes: 23, sharedBytes: 23 }]]));
    });

    it('reads a repository whole (inventory) and counts what expiring manifests would free', async () => {
      const repo = await store.repositories.ensure(repoName(), 1);
      const u = randomUUID().slice(0, 8);
      const [b1, b2, b3] = [d(`i1${u}`), d(`i2${u}`), d(`i3${u}`)];
      for (const [digest, size] of [[b1, 100], [b2, 23], [b3, 7]] as const) await store.blobs.insert({ digest, size, storageKey: `k/${digest}`, createdAt: 1 });
      // b1 and b2 linked to the repository, b3 referenced but unlinked, `rowless` without a blob row.
      await store.blobs.link(repo.id, b1, 1);
      await store.blobs.link(repo.id, b2, 1);
      const rowless = d(`i9${u}`);
      const [img, img2, idx, sig] = [d(`i4${u}`), d(`i5${u}`), d(`i6${u}`), d(`i7${u}`)];
      await store.manifests.put(manifest(repo.id, img, { pushedAt: 5, lastPulledAt: 9 }), Buffer.from('{}'), [{ digest: b1, kind: 'blob' }, { digest: b2, kind: 'blob' }]);
      await store.manifests.put(manifest(repo.id, img2), Buffer.from('{}'), [{ digest: b3, kind: 'blob' }, { digest: b2, kind: 'blob' }, { digest: rowless, kind: 'blob' }]);
      await store.manifests.put(manifest(repo.id, idx, { mediaType: 'application/vnd.oci.image.index.v1+json' }), Buffer.from('{}'), [{ digest: img, kind: 'manifest' }, { digest: img2, kind: 'manifest' }]);
      await store.manifests.put(manifest(repo.id, sig, { subjectDigest: img }), Buffer.from('{}'), []);
      for (const t of ['b', 'a', 'c']) await store.tags.set(repo.id, t, t === 'c' ? idx : img, 1);
      const inv = await store.manifests.inventory(repo.id);
      const byDigest = new Map(inv.manifests.map((m) => [m.digest, m]));
      expect([...byDigest.keys()].sort()).toEqual([img, img2, idx, sig].sort());
      expect(byDigest.get(img)).toEqual({ digest: img, isIndex: false, referrerOf: null, pushedAt: 5, lastPulledAt: 9, tags: ['a', 'b'], sizeBytes: 123, childOf: [idx] });
      expect(byDigest.get(idx)).toMatchObject({ isIndex: true, tags: ['c'], sizeBytes: 123, childOf: [] });
      expect(byDigest.get(img2)).toMatchObject({ tags: [], sizeBytes: 30, childOf: [idx] });
      expect(byDigest.get(sig)).toMatchObject({ referrerOf: img, sizeBytes: 0 });
      // The same sizes as `sizes` computes.
      const sizes = await store.manifests.sizes(repo.id, [img, img2, idx, sig]);
      for (const m of inv.manifests) expect(m.sizeBytes).toBe(sizes.get(m.digest));
      expect((await store.manifests.inventory((await store.repositories.ensure(repoName(), 1)).id))).toEqual({ manifests: [] });

      // What expiring sets of manifests would free, counting references from every repository.
      expect(await store.manifests.exclusiveBytes(repo.id, [])).toBe(0);
      expect(await store.manifests.exclusiveBytes(repo.id, [img])).toBe(100); // b2 is img2's too
      expect(await store.manifests.exclusiveBytes(repo.id, [img, img2, idx])).toBe(130); // the row-less blob counts 0
      const other = await store.repositories.ensure(repoName(), 1);
      await store.manifests.put(manifest(other.id, d(`i8${u}`)), Buffer.from('{}'), [{ digest: b2, kind: 'blob' }]);
      await store.manifests.put(manifest(other.id, d(`i10${u}`)), Buffer.from('{}'), [{ digest: b3, kind: 'blob' }]);
      expect(await store.manifests.exclusiveBytes(repo.id, [img, img2])).toBe(100); // b2 and b3 referenced there
      // A set larger than any bound-parameter limit, with repeats and digests of no manifest here.
      const many = [img, img2, img, ...Array.from({ length: 40_000 }, (_, i) => d(`iz${u}${i}`))];
      expect(await store.manifests.exclusiveBytes(repo.id, many)).toBe(100);
      expect(await store.manifests.exclusiveBytes(other.id, many)).toBe(0);
      // Calls at the same time each see their own set.
      expect(await Promise.all([store.manifests.exclusiveBytes(repo.id, [img]), store.manifests.exclusiveBytes(repo.id, [img2]), store.manifests.exclusiveBytes(repo.id, [img, img2])])).toEqual([100, 0, 100]);
    });

    it('reads a snapshot: one consistent view beside writes, freed bytes counted through either side', async () => {
      const repo = await store.repositories.ensure(repoName(), 1);
      const u = randomUUID();
      // Digests spread over the whole digest space (the SQLite store reads it range by range).
      const h = (s: string): string => `sha256:${createHash('sha256').update(`${u}/${s}`).digest('hex')}`;
      const shared = h('shared');
      await store.blobs.insert({ digest: shared, size: 1000, storageKey: `k/${shared}`, createdAt: 1 });
      await store.blobs.link(repo.id, shared, 1);
      const images = Array.from({ length: 40 }, (_, i) => ({ digest: h(`m${i}`), own: h(`b${i}`), size: i + 1 }));
      for (const [i, m] of images.entries()) {
        await store.blobs.insert({ digest: m.own, size: m.size, storageKey: `k/${m.own}`, createdAt: 1 });
        await store.blobs.link(repo.id, m.own, 1);
        await store.manifests.put(manifest(repo.id, m.digest, { pushedAt: i }), Buffer.from('{}'), [{ digest: m.own, kind: 'blob' }, { digest: shared, kind: 'blob' }]);
        if (i % 3 === 0) await store.tags.set(repo.id, `t${i}`, m.digest, 1);
      }
      const late = h('late');
      const ownBytes = (list: typeof images): number => list.reduce((n, m) => n + m.size, 0);
      const seen = await store.snapshot(async (view) => {
        const before = (await view.manifests.inventory(repo.id)).manifests;
        // Written meanwhile, outside the snapshot: a new image on the shared blob, one image gone, a tag moved.
        await store.manifests.put(manifest(repo.id, late), Buffer.from('{}'), [{ digest: shared, kind: 'blob' }]);
        await store.manifests.delete(repo.id, images[1]!.digest);
        await store.tags.set(repo.id, 't0', images[2]!.digest, 2);
        const again = (await view.manifests.inventory(repo.id)).manifests;
        return {
          before,
          again,
          // All but one (through the kept side), one (through the expiring side), all (shared blob too).
          allButFirst: await view.manifests.exclusiveBytes(repo.id, images.slice(1).map((m) => m.digest)),
          first: await view.manifests.exclusiveBytes(repo.id, [images[0]!.digest]),
          all: await view.manifests.exclusiveBytes(repo.id, [...images.map((m) => m.digest), h('not-here')]),
        };
      });
      const summary = (list: typeof seen.before) => list.map((m) => `${m.digest} ${m.tags.join(',')}`).sort();
      expect(seen.before).toHaveLength(40);
      expect(summary(seen.again)).toEqual(summary(seen.before));
      expect(seen.before.find((m) => m.digest === images[0]!.digest)?.tags).toEqual(['t0']);
      expect(seen.allButFirst).toBe(ownBytes(images.slice(1)));
      expect(seen.first).toBe(1);
      expect(seen.all).toBe(ownBytes(images) + 1000);
      // Outside, after it: the writes are there, and the late image keeps the shared blob.
      const now = (await store.manifests.inventory(repo.id)).manifests;
      expect(now.map((m) => m.digest).sort()).toEqual([late, ...images.filter((_, i) => i !== 1).map((m) => m.digest)].sort());
      expect(now.find((m) => m.digest === images[2]!.digest)?.tags).toEqual(['t0']);
      expect(await store.manifests.exclusiveBytes(repo.id, images.map((m) => m.digest))).toBe(ownBytes(images) - images[1]!.size);
      // A snapshot that fails ends, and the next one runs.
      await expect(store.snapshot(async () => Promise.reject(new Error('boom')))).rejects.toThrow('boom');
      expect((await store.snapshot((view) => view.manifests.inventory(repo.id))).manifests.map((m) => m.digest).sort()).toEqual(now.map((m) => m.digest).sort());
    });

    it('keeps registry settings, first writer wins on putIfAbsent', async () => {
      const key = `k-${randomUUID()}`;
      expect(await store.registry.get(key)).toBeNull();
      const results = await Promise.all(['a', 'b', 'c'].map((v) => store.registry.putIfAbsent(key, v)));
      expect(new Set(results).size).toBe(1);
      await store.registry.put(key, 'z');
      expect(await store.registry.get(key)).toBe('z');
      await store.registry.put(`${key}/b`, '2');
      await store.registry.put(`${key}/a`, '1');
      await store.registry.put(`${key}x`, 'other');
      expect(await store.registry.list(`${key}/`)).toEqual([{ key: `${key}/a`, value: '1' }, { key: `${key}/b`, value: '2' }]);
      expect(await store.registry.delete(`${key}/a`)).toBe(true);
      expect(await store.registry.delete(`${key}/a`)).toBe(false);
    });

    it('finds garbage-collection candidates and removes them only while unused and old', async () => {
      const repo = await store.repositories.ensure(repoName(), 1);
      const tag = randomUUID().slice(0, 8);
      const used = d(`f1${tag}`);
      const unused = d(`f2${tag}`);
      const fresh = d(`f3${tag}`);
      for (const [digest, at] of [[used, 10], [unused, 10], [fresh, 10]] as const) {
        await store.blobs.insert({ digest, size: 7, storageKey: `gc/${tag}/${digest.slice(-12)}`, createdAt: at });
        await store.blobs.link(repo.id, digest, at);
      }
      await store.blobs.link(repo.id, fresh, 500);
      await store.manifests.put(manifest(repo.id, d(`f4${tag}`)), Buffer.from('{}'), [{ digest: used, kind: 'blob' }]);
      const candidates = (await store.blobs.gcCandidates(100, undefined, 10_000)).map((b) => b.digest);
      expect(candidates).toContain(unused);
      expect(candidates).not.toContain(used);
      expect(candidates).not.toContain(fresh);
      // The digest-only scan: the same, plus unused blobs whose own row is young (no link keeps them).
      const young = d(`f5${tag}`);
      await store.blobs.insert({ digest: young, size: 7, storageKey: `gc/${tag}/${young.slice(-12)}`, createdAt: 500 });
      const digests = await store.blobs.gcCandidateDigests(100, d(`f1${tag}`), 10_000);
      expect(digests).toEqual(expect.arrayContaining([unused, young]));
      expect(digests).not.toContain(used);
      expect(digests).not.toContain(fresh);
      expect(digests).toEqual([...digests].sort());
      expect(await store.blobs.gcCandidateDigests(100, unused, 1)).not.toContain(unused);
      expect(await store.tx((tx) => tx.blobs.removeIfUnused([used, fresh], 100))).toEqual([]);
      expect((await store.tx((tx) => tx.blobs.removeIfUnused([used, unused, fresh, young], 100))).map((b) => b.digest)).toEqual([unused]);
      expect(await store.blobs.get(young)).not.toBeNull();
      expect(await store.blobs.get(unused)).toBeNull();
      expect(await store.blobs.getLinked(repo.id, unused)).toBeNull();
      expect(await store.blobs.hasStorageKey(`gc/${tag}/${unused.slice(-12)}`)).toBe(false);
      expect(await store.blobs.hasStorageKey(`gc/${tag}/${used.slice(-12)}`)).toBe(true);
    });

    it('fires a due schedule for exactly one of several concurrent claimers', async () => {
      const name = `s-${randomUUID()}`;
      await store.schedules.ensure(name, 1000, 50);
      expect(await store.schedules.claimDue(name, 10)).toBe(false);
      const wins = await Promise.all(Array.from({ length: 6 }, () => store.schedules.claimDue(name, 100)));
      expect(wins.filter(Boolean)).toHaveLength(1);
      expect((await store.schedules.get(name))?.nextRunAt).toBe(1100);
      await store.schedules.finish(name, 120, '{"ok":true}');
      expect((await store.schedules.get(name))?.lastResult).toBe('{"ok":true}');
      await store.schedules.trigger(name);
      expect(await store.schedules.claimDue(name, 130)).toBe(true);
    });

    it('appends audit events and lists them in order', async () => {
      const action = `test.${randomUUID().slice(0, 8)}`;
      await store.audit.record({ at: 1, actor: 'a', action, repository: 'r', detail: { n: 1 } });
      await store.audit.record({ at: 2, actor: 'b', action });
      const events = await store.audit.list({ limit: 10, action });
      expect(events.map((e) => [e.actor, e.repository, e.detail])).toEqual([['a', 'r', { n: 1 }], ['b', null, null]]);
      expect(await store.audit.list({ limit: 10, action, afterId: events[0]!.id })).toHaveLength(1);
      // Many at once (past one insert's 500 rows), in order.
      const many = `test.${randomUUID().slice(0, 8)}`;
      await store.audit.recordMany(Array.from({ length: 1203 }, (_, i) => ({ at: i, actor: `a${i}`, action: many, ...(i % 2 ? { repository: 'r' } : {}), detail: { i } })));
      await store.audit.recordMany([]);
      const listed = await store.audit.list({ limit: 2000, action: many });
      expect(listed.map((e) => (e.detail as { i: number }).i)).toEqual(Array.from({ length: 1203 }, (_, i) => i));
      expect(listed[1]?.repository).toBe('r');
      expect(listed[0]?.repository).toBeNull();
    });

    it('never loses an update among concurrent read-then-CAS transactions', async () => {
      const repo = await store.repositories.ensure(repoName(), 1);
      const id = randomUUID();
      await store.uploads.create({ id, repositoryId: repo.id, storageKey: 'k', offset: 0, createdAt: 1, updatedAt: 1 });
      const results = await Promise.all(
        Array.from({ length: 8 }, () =>
          store.tx(async (tx) => {
            const u = await tx.uploads.get(id);
            return tx.uploads.advance(id, u!.offset, u!.offset + 1, 2);
          }),
        ),
      );
      const won = results.filter(Boolean).length;
      expect(won).toBeGreaterThanOrEqual(1);
      expect((await store.uploads.get(id))?.offset).toBe(won);
    });
  });
}
