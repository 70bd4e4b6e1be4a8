import { createHash } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { openSqliteMetadataStore } from './sqlite.js';

describe('SQLite snapshots', () => {
  const dir = mkdtempSync(join(tmpdir(), 'berth-snapshot-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('answer other requests while a snapshot reads a repository whole (better-sqlite3 blocks the event loop per statement)', async () => {
    const store = await openSqliteMetadataStore(join(dir, 'berth.db'));
    try {
      const repo = await store.repositories.ensure('big/repo', 1);
      const h = (s: string): string => `sha256:${createHash('sha256').update(s).digest('hex')}`;
      await store.tx(async (tx) => {
        for (let i = 0; i < 3000; i++) {
          await tx.manifests.put({ repositoryId: repo.id, digest: h(`m${i}`), mediaType: 'application/vnd.oci.image.manifest.v1+json', size: 2, artifactType: null, subjectDigest: null, annotations: null, pushedAt: i, lastPulledAt: null }, Buffer.from('{}'), [{ digest: h(`b${i}`), kind: 'blob' }]);
          if (i % 2 === 0) await tx.tags.set(repo.id, `t${i}`, h(`m${i}`), 1);
        }
      });
      // Requests of other clients, one after another, for as long as the snapshot runs.
      let running = true;
      let answered = 0;
      const others = (async () => {
        while (running) {
          await new Promise((r) => setImmediate(r));
          if ((await store.tags.digestOf(repo.id, 't2')) === h('m2')) answered++;
        }
      })();
      const result = await store.snapshot(async (view) => {
        const before = answered;
        const { manifests } = await view.manifests.inventory(repo.id);
        const duringInventory = answered - before;
        const bytes = await view.manifests.exclusiveBytes(repo.id, manifests.slice(1).map((m) => m.digest));
        return { count: manifests.length, bytes, duringInventory, duringCount: answered - before - duringInventory };
      });
      running = false;
      await others;
      expect(result.count).toBe(3000);
      expect(result.bytes).toBe(0); // no blob rows: nothing sized
      // One answer at least between every two ranges of digests (17 ranges).
      expect(result.duringInventory).toBeGreaterThanOrEqual(10);
      expect(result.duringCount).toBeGreaterThanOrEqual(10);
    } finally {
      await store.close();
    }
  });
});
