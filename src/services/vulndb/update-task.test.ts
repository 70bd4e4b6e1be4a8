import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, expect, it } from 'vitest';
import type { KyselyMetadataStore } from '../../metadata/kysely/kysely-metadata-store.js';
import { openSqliteMetadataStore } from '../../metadata/sqlite.js';
import { Scheduler } from '../jobs/scheduler.js';
import { VulnDbImporter } from './importer.js';
import { VULNDB_UPDATE_TASK, vulnDbUpdateTask } from './update-task.js';

let dir: string;
let meta: KyselyMetadataStore;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'berth-vulndb-task-'));
  meta = await openSqliteMetadataStore(join(dir, 'meta.db'));
});
afterEach(async () => {
  await meta.close();
  await rm(dir, { recursive: true, force: true });
});

const record = (id: string, modified: string): string =>
  JSON.stringify({ id, modified, affected: [{ package: { ecosystem: 'npm', name: 'left-pad' }, ranges: [{ type: 'ECOSYSTEM', events: [{ introduced: '0' }, { fixed: '1.3.0' }] }] }] });

it('is absent without sources', () => {
  expect(vulnDbUpdateTask(new VulnDbImporter(meta), { sources: [], intervalMs: 1000 })).toBeNull();
});

it('runs under the scheduler once per interval, imports the sources and reports changes', async () => {
  const feed = join(dir, 'feed');
  await mkdir(feed);
  await writeFile(join(feed, 'T-1.json'), record('T-1', '2024-01-01T00:00:00Z'));
  let t = 1_000;
  const changes: [number, number][] = [];
  const task = vulnDbUpdateTask(new VulnDbImporter(meta, { now: () => t }), {
    sources: [feed, join(dir, 'missing')],
    intervalMs: 60_000,
    onChanged: async (from, to) => void changes.push([from, to]),
  })!;
  const log = { info: () => undefined, error: () => undefined };
  const scheduler = new Scheduler(meta.schedules, [task], () => t, log);
  await scheduler.start(3_600_000);
  await scheduler.stop();
  await scheduler.tick(); // not due yet: the first run is one interval after start
  expect((await meta.vulndb.status()).advisories).toBe(0);
  t += 60_000;
  await scheduler.tick();
  expect(changes).toEqual([[0, 1]]);
  const row = await meta.schedules.get(VULNDB_UPDATE_TASK);
  const result = JSON.parse(row!.lastResult!) as { ok: boolean; result: Record<string, unknown>[] };
  expect(result.ok).toBe(true);
  expect(result.result[0]).toMatchObject({ source: feed, imported: 1, generation: 1 });
  expect(result.result[0]).not.toHaveProperty('invalidRecords');
  expect(result.result[1]).toMatchObject({ source: join(dir, 'missing'), error: expect.stringMatching(/ENOENT/) });
  // Next interval: nothing new, no change reported; then a newer record.
  t += 60_000;
  await scheduler.tick();
  expect(changes).toHaveLength(1);
  await writeFile(join(feed, 'T-1.json'), record('T-1', '2024-06-01T00:00:00Z'));
  t += 60_000;
  await scheduler.tick();
  expect(changes).toEqual([[0, 1], [1, 2]]);
  expect((await meta.vulndb.status()).vulnerabilitySourceUpdatedAt).toBe(t);
});
