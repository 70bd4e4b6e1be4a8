// Where the shared scanner fixtures live (../shared/fixtures beside the checkout; see its README), and how to
// pack a fixture directory into a tar layer at the path an image would hold it. The data is read at test time,
// never copied into the project.
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { TestEntry } from './walker/layers.test-support.js';

export const FIXTURES = fileURLToPath(new URL('../../../shared/fixtures/', import.meta.url));

/** Whether `rel` exists under the fixtures, and a describe title that says why the suite is skipped when not. */
export function fixture(rel: string, title: string): { present: boolean; path: string; title: string } {
  const path = join(FIXTURES, rel);
  const present = existsSync(path);
  return { present, path, title: present ? title : `${title} — SKIPPED: ${path} not found (shared fixtures live beside the checkout)` };
}

export const readFixture = (rel: string): string => readFileSync(join(FIXTURES, rel), 'utf8');

/** Rows of a fixture TSV as objects keyed by its header line. */
export function readTsv(rel: string): Array<Record<string, string>> {
  const [head, ...rows] = readFixture(rel).split('\n').filter((l) => l !== '');
  const cols = (head ?? '').split('\t');
  return rows.map((r) => Object.fromEntries(r.split('\t').map((v, i) => [cols[i] ?? `${i}`, v])));
}

/** Every file under `dir`, as tar entries rooted at `at` (an image path without the leading slash). */
export function treeEntries(dir: string, at: string): TestEntry[] {
  const out: TestEntry[] = [];
  const walk = (d: string): void => {
    for (const name of readdirSync(d).sort()) {
      const full = join(d, name);
      if (statSync(full).isDirectory()) walk(full);
      else out.push({ name: `${at}/${relative(dir, full)}`, content: readFileSync(full) });
    }
  };
  walk(dir);
  return out;
}
