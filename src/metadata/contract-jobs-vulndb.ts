/**
 * JobStore and VulnDbStore cases of the MetadataStore contract (run on SQLite and PostgreSQL).
 * `second` opens another store over the same database: another node, for the claim race.
 */
import { randomUUID } from 'node:crypto';
import { expect, it } from 'vitest';
import { parseOsvRecord, type OsvRecord } from '../core/vuln/osv-schema.js';
import type { MetadataStore } from './types.js';

const uid = (): string => randomUUID().replace(/-/g, '').slice(0, 12);

function rec(id: string, modified: string, pkgs: [string, string][], extra: Record<string, unknown> = {}): OsvRecord {
  return parseOsvRecord({
    id,
    modified,
    affected: pkgs.map(([ecosystem, name]) => ({ package: { ecosystem, name }, ranges: [{ type: 'ECOSYSTEM', events: [{ introduced: '0' }] }] })),
    ...extra,
  });
}

export function jobsVulnDbContractCases(store: () => MetadataStore, second: () => Promise<MetadataStore>): void {
  it('jobs: a queued key is enqueued once, even concurrently; a running one does not block a new queued job', async () => {
    const jobs = store().jobs;
    const key = `scan:${uid()}`;
    const results = await Promise.all(Array.from({ length: 6 }, (_, i) => jobs.enqueue({ kind: 'k', key, payload: { i }, runAfter: 500 - i }, 10)));
    expect(results.filter((r) => r.created)).toHaveLength(1);
    expect(new Set(results.map((r) => r.job.id)).size).toBe(1);
    const again = await jobs.enqueue({ kind: 'k', key, runAfter: 100 }, 20);
    expect(again.created).toBe(false);
    expect(again.job.runAfter).toBe(100); // moved earlier, never later
    expect((await jobs.enqueue({ kind: 'k', key, runAfter: 900 }, 20)).job.runAfter).toBe(100);
    const kind = `dedupe-${uid()}`;
    const a = await jobs.enqueue({ kind, key: `${key}-b`, payload: { deep: [1, 'x'] }, maxAttempts: 3 }, 30);
    expect(a.job).toMatchObject({ kind, state: 'queued', attempts: 0, maxAttempts: 3, runAfter: 30, payload: { deep: [1, 'x'] }, leaseOwner: null });
    const [claimed] = await jobs.claim({ owner: 'n1', now: 40, leaseMs: 1000, limit: 1, kinds: [kind] });
    expect(claimed?.id).toBe(a.job.id);
    const b = await jobs.enqueue({ kind, key: `${key}-b` }, 50);
    expect(b.created).toBe(true);
    expect(b.job.id).not.toBe(a.job.id);
    expect((await jobs.enqueue({ kind, payload: 1 }, 60)).created).toBe(true); // no key, no dedupe
    expect((await jobs.enqueue({ kind, payload: 1 }, 60)).created).toBe(true);
  });

  it('jobs: concurrent claimers on two nodes never claim the same job', async () => {
    const other = await second();
    try {
      const kind = `race-${uid()}`;
      const ids = new Set<number>();
      for (let i = 0; i < 40; i++) ids.add((await store().jobs.enqueue({ kind, payload: i }, 1)).job.id);
      const claimed: number[] = [];
      const worker = async (s: MetadataStore, owner: string): Promise<void> => {
        for (;;) {
          const got = await s.jobs.claim({ owner, now: 2, leaseMs: 60_000, limit: 3, kinds: [kind] });
          if (got.length === 0) return;
          for (const j of got) {
            expect(j).toMatchObject({ state: 'running', leaseOwner: owner, attempts: 1, leaseExpiresAt: 60_002 });
            claimed.push(j.id);
          }
        }
      };
      await Promise.all([0, 1, 2, 3, 4, 5, 6, 7].map((i) => worker(i % 2 ? other : store(), `node${i}`)));
      expect(claimed).toHaveLength(40);
      expect(new Set(claimed)).toEqual(ids);
    } finally {
      await other.close();
    }
  });

  it('jobs: claims only due jobs of the asked kinds, oldest first; only the lease holder completes', async () => {
    const jobs = store().jobs;
    const kind = `due-${uid()}`;
    const later = await jobs.enqueue({ kind, runAfter: 1000 }, 1);
    const sooner = await jobs.enqueue({ kind, runAfter: 500 }, 1);
    await jobs.enqueue({ kind: `${kind}-other` }, 1);
    expect(await jobs.claim({ owner: 'a', now: 499, leaseMs: 10, limit: 5, kinds: [kind] })).toEqual([]);
    expect((await jobs.claim({ owner: 'a', now: 2000, leaseMs: 10, limit: 5, kinds: [kind] })).map((j) => j.id)).toEqual([sooner.job.id, later.job.id]);
    expect(await jobs.complete(sooner.job.id, 'b', 2001)).toBe(false);
    expect(await jobs.heartbeat(sooner.job.id, 'b', 2001, 10)).toBe(false);
    expect(await jobs.heartbeat(sooner.job.id, 'a', 2001, 5000)).toBe(true);
    expect((await jobs.get(sooner.job.id))?.leaseExpiresAt).toBe(7001);
    expect(await jobs.complete(sooner.job.id, 'a', 2002)).toBe(true);
    expect(await jobs.complete(sooner.job.id, 'a', 2003)).toBe(false);
    expect(await jobs.get(sooner.job.id)).toMatchObject({ state: 'done', leaseOwner: null, updatedAt: 2002 });
    expect(await jobs.complete(later.job.id, 'a', 2004)).toBe(true);
  });

  it('jobs: a failed attempt is retried at the given time until attempts run out', async () => {
    const jobs = store().jobs;
    const kind = `retry-${uid()}`;
    const { job } = await jobs.enqueue({ kind, maxAttempts: 2 }, 1);
    await jobs.claim({ owner: 'a', now: 10, leaseMs: 100, limit: 1, kinds: [kind] });
    expect(await jobs.fail(job.id, 'b', 11, 'not mine', 20)).toBe('lost');
    expect(await jobs.fail(job.id, 'a', 11, 'boom 1', 1011)).toBe('retry');
    expect(await jobs.get(job.id)).toMatchObject({ state: 'queued', runAfter: 1011, lastError: 'boom 1', leaseOwner: null, attempts: 1 });
    expect(await jobs.claim({ owner: 'a', now: 1010, leaseMs: 100, limit: 1, kinds: [kind] })).toEqual([]);
    const [again] = await jobs.claim({ owner: 'c', now: 1011, leaseMs: 100, limit: 1, kinds: [kind] });
    expect(again?.attempts).toBe(2);
    expect(await jobs.fail(job.id, 'c', 1012, 'boom 2', 3000)).toBe('failed');
    expect(await jobs.get(job.id)).toMatchObject({ state: 'failed', lastError: 'boom 2' });
    expect(await jobs.claim({ owner: 'c', now: 10_000, leaseMs: 100, limit: 1, kinds: [kind] })).toEqual([]);
  });

  it('jobs: an expired lease (dead node) is reclaimed and the old holder can no longer finish it', async () => {
    const jobs = store().jobs;
    const kind = `lease-${uid()}`;
    const { job } = await jobs.enqueue({ kind, maxAttempts: 2 }, 1);
    await jobs.claim({ owner: 'dead', now: 10, leaseMs: 100, limit: 1, kinds: [kind] });
    await jobs.reclaimExpired(109);
    expect((await jobs.get(job.id))?.state).toBe('running');
    await jobs.reclaimExpired(111);
    expect(await jobs.get(job.id)).toMatchObject({ state: 'queued', runAfter: 111, leaseOwner: null });
    expect((await jobs.get(job.id))?.lastError).toMatch(/lease of dead expired/);
    expect((await jobs.claim({ owner: 'alive', now: 120, leaseMs: 100, limit: 1, kinds: [kind] }))[0]?.id).toBe(job.id);
    expect(await jobs.complete(job.id, 'dead', 121)).toBe(false);
    // Second attempt's node dies too: out of attempts.
    await jobs.reclaimExpired(500);
    expect((await jobs.get(job.id))?.state).toBe('failed');
  });

  it('jobs: a retried or reclaimed job with a queued twin (same key) is retired in its favour', async () => {
    const jobs = store().jobs;
    const kind = `twin-${uid()}`;
    const key = `scan:${uid()}`;
    const first = await jobs.enqueue({ kind, key }, 1);
    await jobs.claim({ owner: 'a', now: 2, leaseMs: 100, limit: 1, kinds: [kind] });
    const twin = await jobs.enqueue({ kind, key }, 3);
    expect(twin.created).toBe(true);
    expect(await jobs.fail(first.job.id, 'a', 4, 'boom', 5)).toBe('superseded');
    expect(await jobs.get(first.job.id)).toMatchObject({ state: 'done', lastError: expect.stringContaining(`superseded by job ${twin.job.id}`) });
    await jobs.claim({ owner: 'b', now: 10, leaseMs: 100, limit: 1, kinds: [kind] });
    const third = await jobs.enqueue({ kind, key }, 11);
    await jobs.reclaimExpired(1000);
    expect((await jobs.get(twin.job.id))?.state).toBe('done');
    expect((await jobs.get(third.job.id))?.state).toBe('queued');
  });

  it('jobs: purge removes settled jobs older than the cut-off, counts by state', async () => {
    const jobs = store().jobs;
    const kind = `purge-${uid()}`;
    const old = await jobs.enqueue({ kind }, 1);
    const recent = await jobs.enqueue({ kind }, 1);
    const queued = await jobs.enqueue({ kind }, 1);
    await jobs.claim({ owner: 'a', now: 5, leaseMs: 100, limit: 2, kinds: [kind] });
    const before = await jobs.counts();
    expect(before.running).toBeGreaterThanOrEqual(2);
    await jobs.complete(old.job.id, 'a', 10);
    await jobs.complete(recent.job.id, 'a', 5000);
    expect((await jobs.counts()).done).toBe(before.done + 2);
    expect(await jobs.purge(100)).toBeGreaterThanOrEqual(1);
    expect(await jobs.get(old.job.id)).toBeNull();
    expect((await jobs.get(recent.job.id))?.state).toBe('done');
    expect((await jobs.get(queued.job.id))?.state).toBe('queued');
  });

  it('vulndb: stores a record only when its modified time is newer, bumping the generation once per changing batch', async () => {
    const v = store().vulndb;
    const id = `OSV-${uid()}`;
    const g0 = (await v.status()).generation;
    const first = await store().tx((tx) => tx.vulndb.upsert([rec(id, '2024-01-01T00:00:00Z', [['npm', 'left-pad']]), rec(`${id}-b`, '2024-01-01T00:00:00Z', [['npm', 'x']])], 100));
    expect(first).toEqual({ outcomes: ['imported', 'imported'], generation: g0 + 1 });
    const same = await store().tx((tx) => tx.vulndb.upsert([rec(id, '2024-01-01T00:00:00Z', [['npm', 'left-pad']])], 200));
    expect(same).toEqual({ outcomes: ['unchanged'], generation: g0 + 1 });
    const older = await store().tx((tx) => tx.vulndb.upsert([rec(id, '2023-01-01T00:00:00Z', [['npm', 'other']])], 300));
    expect(older.outcomes).toEqual(['unchanged']);
    // Two versions in one batch: the newest wins, the other is unchanged.
    const newer = await store().tx((tx) =>
      tx.vulndb.upsert([rec(id, '2024-02-01T00:00:00Z', [['npm', 'mid']]), rec(id, '2024-03-01T00:00:00.5+01:00', [['npm', 'right-pad']])], 400),
    );
    expect(newer).toEqual({ outcomes: ['unchanged', 'updated'], generation: g0 + 2 });
    const got = await v.get(id);
    expect(got).toMatchObject({ modified: Date.parse('2024-03-01T00:00:00.5+01:00'), generation: g0 + 2, withdrawn: null });
    expect(got?.record.affected[0]?.package?.name).toBe('right-pad');
    // The index follows the update: the old package no longer finds it.
    const [oldPkg, newPkg] = await v.forPackages([{ ecosystem: 'npm', name: 'left-pad' }, { ecosystem: 'npm', name: 'right-pad' }]);
    expect(oldPkg!.map((a) => a.id)).not.toContain(id);
    expect(newPkg!.map((a) => a.id)).toContain(id);
  });

  it('vulndb: package queries respect Debian releases, PyPI name normalisation and withdrawn records', async () => {
    const v = store().vulndb;
    const p = uid();
    const ids = { d12: `DSA-${p}-12`, d13: `DSA-${p}-13`, unscoped: `DEB-${p}-any`, py: `PYSEC-${p}`, gone: `GHSA-${p}-w` };
    await store().tx((tx) =>
      tx.vulndb.upsert(
        [
          rec(ids.d12, '2024-01-01T00:00:00Z', [['Debian:12', `openssl${p}`]]),
          rec(ids.d13, '2024-01-01T00:00:00Z', [['Debian:13', `openssl${p}`], ['Debian:13', `zlib${p}`]]),
          rec(ids.unscoped, '2024-01-01T00:00:00Z', [['Debian', `openssl${p}`]]),
          rec(ids.py, '2024-01-01T00:00:00Z', [['PyPI', `Py_YAML.${p}`]]),
          rec(ids.gone, '2024-01-01T00:00:00Z', [['npm', `lodash${p}`]], { withdrawn: '2024-02-01T00:00:00Z' }),
        ],
        1,
      ),
    );
    const res = await v.forPackages([
      { ecosystem: 'Debian:12', name: `openssl${p}` },
      { ecosystem: 'Debian:13', name: `openssl${p}` },
      { ecosystem: 'Debian', name: `openssl${p}` },
      { ecosystem: 'Debian:11', name: `zlib${p}` },
      { ecosystem: 'PyPI', name: `py-yaml-${p}` },
      { ecosystem: 'npm', name: `lodash${p}` },
      { ecosystem: 'npm', name: `Openssl${p}` },
      { ecosystem: 'Debian:12', name: `openssl${p}` },
    ]);
    const idsOf = (i: number): string[] => res[i]!.map((a) => a.id).sort();
    expect(idsOf(0)).toEqual([ids.d12, ids.unscoped].sort());
    expect(idsOf(1)).toEqual([ids.d13, ids.unscoped].sort());
    expect(idsOf(2)).toEqual([ids.unscoped]);
    expect(idsOf(3)).toEqual([]);
    expect(idsOf(4)).toEqual([ids.py]);
    expect(idsOf(5)).toEqual([]); // withdrawn
    expect(idsOf(6)).toEqual([]); // npm names are case-sensitive
    expect(idsOf(7)).toEqual(idsOf(0));
    expect((await v.get(ids.gone))?.withdrawn).toBe(Date.parse('2024-02-01T00:00:00Z'));
  });

  it('vulndb: more packages than one IN list holds, and changes since a generation page by id', async () => {
    const v = store().vulndb;
    const p = uid();
    const g0 = (await v.status()).generation;
    const records = Array.from({ length: 1200 }, (_, i) => rec(`X-${p}-${String(i).padStart(5, '0')}`, '2024-01-01T00:00:00Z', [['Go', `example.com/${p}/m${i}`]]));
    await store().tx((tx) => tx.vulndb.upsert(records, 1));
    const pkgs = Array.from({ length: 12_000 }, (_, i) => ({ ecosystem: 'Go', name: `example.com/${p}/m${i}` }));
    const res = await v.forPackages(pkgs);
    expect(res).toHaveLength(12_000);
    expect(res[1199]!.map((a) => a.id)).toEqual([`X-${p}-01199`]);
    expect(res[1200]).toEqual([]);
    expect(res.filter((r) => r.length === 1)).toHaveLength(1200);
    const seen: string[] = [];
    let after: string | undefined;
    for (;;) {
      const page = await v.changedSince(g0, after === undefined ? { limit: 500 } : { after, limit: 500 });
      if (page.length === 0) break;
      seen.push(...page.map((a) => a.id));
      after = page[page.length - 1]!.id;
    }
    expect(seen.filter((id) => id.startsWith(`X-${p}-`))).toEqual(records.map((r) => r.id));
    expect(await v.changedSince(g0 + 1, { limit: 10 })).toEqual([]);
  });

  it('vulndb: concurrent batches get distinct generations; imports are recorded in the status', async () => {
    const p = uid();
    const g0 = (await store().vulndb.status()).generation;
    const batch = (n: number): OsvRecord[] => Array.from({ length: 50 }, (_, i) => rec(`C-${p}-${n}-${i}`, '2024-01-01T00:00:00Z', [['npm', `c${p}${i}`]]));
    const results = await Promise.all([1, 2, 3].map((n) => store().tx((tx) => tx.vulndb.upsert(batch(n), 5))));
    expect(results.map((r) => r.generation).sort()).toEqual([g0 + 1, g0 + 2, g0 + 3]);
    await store().vulndb.recordImport({ source: `test-${p}`, startedAt: 10, finishedAt: 20, fromGeneration: g0, toGeneration: g0 + 3, summary: { imported: 150 } });
    const s = await store().vulndb.status();
    expect(s).toMatchObject({ generation: g0 + 3, vulnerabilitySourceUpdatedAt: 20, lastImport: { source: `test-${p}`, summary: { imported: 150 } } });
    expect(s.advisories).toBeGreaterThanOrEqual(150);
    expect(s.packages).toBeGreaterThanOrEqual(150);
  });
}
