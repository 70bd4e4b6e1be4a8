/**
 * `berth vulndb import` and `berth vulndb status` as a user runs them: the built CLI on a
 * fresh data directory, importing the real advisories in ../shared/vulndb (see its
 * SOURCES.md; the suite is skipped when that folder is absent).
 */
import { existsSync, readdirSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { makeTempDir, removeDir, run, type RunResult } from '../support/clients.js';
import { REPO_ROOT } from '../support/server.js';

const BIN = join(REPO_ROOT, 'bin', 'berth.js');
const SHARED_VULNDB = join(REPO_ROOT, '..', 'shared', 'vulndb');
const present = existsSync(SHARED_VULNDB);
const count = (folder: string): number => readdirSync(join(SHARED_VULNDB, folder)).filter((f) => f.endsWith('.json')).length;

let tmp: string;

function berth(args: string[]): Promise<RunResult> {
  const env = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('BERTH_') || k.startsWith('BERTH_TEST_')));
  return run(process.execPath, [BIN, ...args], { env, cwd: REPO_ROOT, timeoutMs: 120_000 });
}

beforeAll(async () => {
  tmp = await makeTempDir('berth-cli-vulndb-');
});
afterAll(async () => {
  await removeDir(tmp);
});

describe.skipIf(!present)(present ? 'berth vulndb' : `berth vulndb — SKIPPED: ${SHARED_VULNDB} not found (shared data lives beside the checkout)`, () => {
  it('imports the Debian and npm advisories into a fresh database, then finds nothing new', async () => {
    const dataDir = join(tmp, 'data');
    const debian = await berth(['vulndb', 'import', '../shared/vulndb/debian', '--data-dir', dataDir]);
    expect(debian.code, debian.stderr).toBe(0);
    expect(debian.stdout).toContain(`Imported from ../shared/vulndb/debian: ${count('debian')} new, 0 updated, 0 unchanged, 0 invalid`);
    expect(debian.stdout).toMatch(/records\/s\); generation 0 -> 1/);

    const npm = await berth(['vulndb', 'import', '../shared/vulndb/npm', '--data-dir', dataDir, '--output', 'json']);
    expect(npm.code, npm.stderr).toBe(0);
    const summary = JSON.parse(npm.stdout) as Record<string, unknown>;
    expect(summary).toMatchObject({ imported: count('npm'), invalid: 0, fromGeneration: 1, generation: 2 });

    const again = await berth(['vulndb', 'import', '../shared/vulndb/debian', '--data-dir', dataDir, '-o', 'json']);
    expect(JSON.parse(again.stdout)).toMatchObject({ imported: 0, updated: 0, unchanged: count('debian'), generation: 2 });

    const status = await berth(['vulndb', 'status', '--data-dir', dataDir, '-o', 'json']);
    expect(status.code, status.stderr).toBe(0);
    const s = JSON.parse(status.stdout) as { advisories: number; generation: number; vulnerabilitySourceUpdatedAt: number; lastImport: { source: string } };
    expect(s).toMatchObject({ advisories: count('debian') + count('npm'), generation: 2, lastImport: { source: '../shared/vulndb/debian' } });
    expect(Date.now() - s.vulnerabilitySourceUpdatedAt).toBeLessThan(120_000);
    const table = await berth(['vulndb', 'status', '--data-dir', dataDir]);
    expect(table.stdout).toMatch(new RegExp(`Advisories:\\s+${count('debian') + count('npm')} \\(`));
  });

  it('reads the database and the scheduled sources from a config file', async () => {
    const config = join(tmp, 'berth.yaml');
    await writeFile(config, `dataDir: ${join(tmp, 'cfg-data')}\nvulndb:\n  sources: ["https://example.invalid/npm/all.zip"]\n  updateIntervalSeconds: 3600\n`);
    const r = await berth(['vulndb', 'import', '../shared/vulndb/go', '--config', config]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toContain(`${count('go')} new`);
    const s = await berth(['vulndb', 'status', '--config', config]);
    expect(s.stdout).toContain('Scheduled sources: https://example.invalid/npm/all.zip');
  });

  it('fails with a one-line message for a missing source, and with a usage error for a missing argument', async () => {
    const missing = await berth(['vulndb', 'import', join(tmp, 'nope'), '--data-dir', join(tmp, 'data2')]);
    expect(missing.code).toBe(1);
    expect(missing.stderr.trim()).toMatch(/^berth: vulndb import .*nope: ENOENT/);
    const usage = await berth(['vulndb', 'import', '--data-dir', join(tmp, 'data2')]);
    expect(usage.code).toBe(2);
    expect(usage.stderr).toMatch(/missing required argument 'source'/);
  });
});
