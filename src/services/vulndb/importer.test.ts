// Imports the real OSV records in ../shared/vulndb (see its SOURCES.md); they live beside
// the checkout, not in it, so the suites that read them are skipped without them.
import { createHash } from 'node:crypto';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import yazl from 'yazl';
import { affects, parseOsvRecord, type OsvRecord } from '../../core/vuln/osv.js';
import { isDistribution } from '../../core/vuln/versions/index.js';
import type { KyselyMetadataStore } from '../../metadata/kysely/kysely-metadata-store.js';
import { openSqliteMetadataStore } from '../../metadata/sqlite.js';
import { VulnDbImporter } from './importer.js';

const DB = fileURLToPath(new URL('../../../../shared/vulndb/', import.meta.url));
const present = existsSync(DB);
const FOLDERS = ['npm', 'pypi', 'go', 'debian'];
/** The real records, parsed here independently of the importer: folder → file → JSON text. */
const real = new Map<string, string>();
if (present) for (const f of FOLDERS) for (const n of readdirSync(join(DB, f)).filter((x) => x.endsWith('.json'))) real.set(`${f}/${n}`, readFileSync(join(DB, f, n), 'utf8'));
const realRecords = (): OsvRecord[] => [...real.values()].map((t) => parseOsvRecord(JSON.parse(t)));

let dir: string;
let meta: KyselyMetadataStore;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'berth-vulndb-import-'));
  meta = await openSqliteMetadataStore(join(dir, 'meta.db'));
});
afterEach(async () => {
  await meta.close();
  await rm(dir, { recursive: true, force: true });
});

function zip(entries: [string, string | null][]): Promise<Buffer> {
  const z = new yazl.ZipFile();
  for (const [name, text] of entries) {
    if (text === null) z.addEmptyDirectory(name);
    else z.addBuffer(Buffer.from(text), name);
  }
  z.end();
  const parts: Buffer[] = [];
  return new Promise((resolve, reject) => {
    z.outputStream.on('data', (c: Buffer) => parts.push(c));
    z.outputStream.on('end', () => resolve(Buffer.concat(parts)));
    z.outputStream.on('error', reject);
  });
}

const bump = (text: string, modified: string): string => JSON.stringify({ ...(JSON.parse(text) as object), modified });

describe.skipIf(!present)(present ? `import of the real OSV records (${DB})` : `import of the real OSV records — SKIPPED: ${DB} not found`, () => {
  it('imports every record of the directory tree once, reports the non-OSV files, and finds nothing new the second time', async () => {
    const importer = new VulnDbImporter(meta);
    const first = await importer.import(DB);
    const withdrawn = realRecords().filter((r) => r.withdrawn !== undefined).length;
    // _sources/ holds the Debian converter's raw inputs (tracker JSON), which are not OSV records.
    const rawInputs = readdirSync(join(DB, '_sources'), { recursive: true }).filter((f) => String(f).endsWith('.json')).length;
    expect(rawInputs).toBeGreaterThan(0);
    expect(first).toMatchObject({ imported: real.size, updated: 0, unchanged: 0, invalid: rawInputs, withdrawn, records: real.size + rawInputs, generation: first.fromGeneration + 2 });
    expect(first.invalidRecords.every((r) => r.file.includes(`${join('vulndb', '_sources')}`) && /is required/.test(r.reason))).toBe(true);
    const again = await importer.import(DB);
    expect(again).toMatchObject({ imported: 0, updated: 0, unchanged: real.size, generation: first.generation, fromGeneration: first.generation });
    const status = await meta.vulndb.status();
    expect(status).toMatchObject({ advisories: real.size, withdrawn, generation: first.generation });
    expect(status.vulnerabilitySourceUpdatedAt).toBeGreaterThan(0);
    expect(status.lastImport?.source).toBe(DB);
  });

  it('indexes every record under each package it names, so the matcher sees every record that can affect a package', async () => {
    await new VulnDbImporter(meta).import(DB);
    // Every (record, package spelling) the matcher finds affected at some version inside the record's own ranges.
    const expected: { ecosystem: string; name: string; id: string }[] = [];
    for (const r of realRecords()) {
      for (const a of r.affected) {
        if (!a.package) continue;
        // Versions inside the entry's ranges: listed ones, introduced / last_affected events, and a floor for `introduced: "0"`.
        const events = (a.ranges ?? []).flatMap((g) => g.events);
        const versions = [
          ...(a.versions ?? []),
          ...events.flatMap((e) => ('introduced' in e ? (e.introduced === '0' ? ['0', '0.0.0', 'v0.0.0'] : [e.introduced]) : 'last_affected' in e ? [e.last_affected] : [])),
        ];
        const { ecosystem, name } = a.package;
        const distro = isDistribution(ecosystem);
        const spellings = ecosystem === 'PyPI' ? [name, name.toUpperCase(), name.replace(/-/g, '_')] : [name];
        for (const spelling of spellings) {
          const hit = versions.some((version) => {
            try {
              return affects(r, distro ? { ecosystem, name: `${spelling}-bin`, version, sourceName: spelling } : { ecosystem, name: spelling, version }).affected;
            } catch {
              return false; // a floor that is not a version in this ecosystem
            }
          });
          if (hit) expected.push({ ecosystem, name: spelling, id: r.id });
        }
      }
    }
    const found = await meta.vulndb.forPackages(expected);
    const missing = expected.filter((e, i) => !found[i]!.some((h) => h.id === e.id));
    expect(missing).toEqual([]);
    expect(expected.length).toBeGreaterThan(500);
    expect(new Set(expected.map((e) => e.ecosystem.split(':')[0]))).toEqual(new Set(['npm', 'PyPI', 'Go', 'Debian']));
  });

  it('keeps Debian releases apart: a record is found for exactly the releases it names', async () => {
    await new VulnDbImporter(meta).import(join(DB, 'debian'));
    const debian = realRecords().filter((r) => r.affected.some((a) => a.package?.ecosystem.startsWith('Debian')));
    expect(debian.some((r) => !r.affected.some((a) => a.package?.ecosystem === 'Debian:13'))).toBe(true);
    const queries = debian.flatMap((r) =>
      [...new Set(r.affected.map((a) => a.package!.name))].flatMap((name) => ['11', '12', '13'].map((rel) => ({ r, name, ecosystem: `Debian:${rel}` }))),
    );
    const found = await meta.vulndb.forPackages(queries);
    queries.forEach((q, i) => {
      const names = q.r.affected.some((a) => a.package?.name === q.name && (a.package.ecosystem === q.ecosystem || a.package.ecosystem === 'Debian'));
      expect(found[i]!.some((h) => h.id === q.r.id), `${q.r.id} ${q.ecosystem}/${q.name}`).toBe(names);
    });
    expect(queries.filter((q, i) => !found[i]!.some((h) => h.id === q.r.id)).length).toBeGreaterThan(20);
  });

  it('imports a zip in the all.zip layout, counting bad entries, and replaces only records with a newer modified time', async () => {
    const entries = [...real.entries()].slice(0, 40);
    const [firstName, firstText] = entries[0]!;
    const good: [string, string | null][] = entries.map(([n, t]) => [n.split('/')[1]!, t]);
    const file = join(dir, 'all.zip');
    await writeFile(
      file,
      await zip([
        ...good,
        ['nested/', null],
        ['README.txt', 'not a record'],
        ['broken.json', '{"id": "X-1",'],
        ['nested/no-modified.json', JSON.stringify({ id: 'X-2', affected: [] })],
        ['nested/bad-range.json', JSON.stringify({ id: 'X-3', modified: '2024-01-01T00:00:00Z', affected: [{ package: { ecosystem: 'npm', name: 'a' }, ranges: [{ type: 'ECOSYSTEM', events: [{ fixed: '1' }] }] }] })],
      ]),
    );
    const importer = new VulnDbImporter(meta, { batchSize: 7 });
    const s = await importer.import(file);
    expect(s).toMatchObject({ records: 43, imported: 40, invalid: 3, generation: s.fromGeneration + Math.ceil(40 / 7) });
    expect(s.invalidRecords.map((r) => [r.file, r.id ?? null])).toEqual([
      ['broken.json', null],
      ['nested/no-modified.json', 'X-2'],
      ['nested/bad-range.json', 'X-3'],
    ]);
    expect(s.invalidRecords[2]!.reason).toMatch(/at least one "introduced"/);
    const id = (JSON.parse(firstText) as { id: string }).id;
    const updatedZip = join(dir, 'all2.zip');
    await writeFile(updatedZip, await zip([[firstName.split('/')[1]!, bump(firstText, '2099-01-01T00:00:00Z')], [entries[1]![0].split('/')[1]!, bump(entries[1]![1], '2000-01-01T00:00:00Z')]]));
    const s2 = await importer.import(updatedZip);
    expect(s2).toMatchObject({ updated: 1, unchanged: 1, generation: s.generation + 1 });
    expect((await meta.vulndb.get(id))?.modified).toBe(Date.parse('2099-01-01T00:00:00Z'));
    const changed = await meta.vulndb.changedSince(s.generation, { limit: 10 });
    expect(changed.map((a) => a.id)).toEqual([id]);
  });

  it('downloads a zip over HTTP, then only when it changed; a failing source does not stop the others', async () => {
    const files = [...real.entries()].slice(0, 25).map(([n, t]): [string, string] => [n.split('/')[1]!, t]);
    let body = await zip(files);
    const etagOf = (b: Buffer): string => `"${createHash('sha256').update(b).digest('hex').slice(0, 16)}"`;
    const requests: { url: string; inm: string | undefined }[] = [];
    const server: Server = createServer((req, res) => {
      requests.push({ url: req.url ?? '', inm: req.headers['if-none-match'] });
      if (req.url === '/npm/all.zip') {
        if (req.headers['if-none-match'] === etagOf(body)) return void res.writeHead(304).end();
        return void res.writeHead(200, { 'content-type': 'application/zip', etag: etagOf(body), 'content-length': body.length }).end(body);
      }
      if (req.url === '/html') return void res.writeHead(200, { 'content-type': 'text/html' }).end('<html></html>');
      res.writeHead(404).end();
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const base = `http://127.0.0.1:${(server.address() as { port: number }).port}`;
    try {
      const importer = new VulnDbImporter(meta);
      const s = await importer.import(`${base}/npm/all.zip`);
      expect(s).toMatchObject({ imported: 25, invalid: 0, source: `${base}/npm/all.zip` });
      expect(requests.at(-1)?.inm).toBeUndefined();
      // The ETag of that import is remembered: the scheduled update asks conditionally and reads nothing.
      const [same, missing] = await importer.update([`${base}/npm/all.zip`, `${base}/missing.zip`]);
      expect(same).toMatchObject({ summary: { notModified: true, records: 0, generation: s.generation } });
      expect(requests.find((r) => r.url === '/npm/all.zip' && r.inm !== undefined)?.inm).toBe(etagOf(body));
      expect(missing).toMatchObject({ error: expect.stringMatching(/HTTP 404/) });
      files[3] = [files[3]![0], bump(files[3]![1], '2099-01-01T00:00:00Z')];
      body = await zip(files);
      const [changed] = await importer.update([`${base}/npm/all.zip`]);
      expect(changed).toMatchObject({ summary: { updated: 1, unchanged: 24, generation: s.generation + 1 } });
      await expect(importer.update([`${base}/missing.zip`, `${base}/html`])).rejects.toThrow(/every vulnerability source failed.*HTTP 404.*not a zip/);
      await expect(new VulnDbImporter(meta, { maxDownloadBytes: 100 }).import(`${base}/npm/all.zip`)).rejects.toThrow(/download limit/);
      expect((await meta.vulndb.status()).advisories).toBe(25);
    } finally {
      server.closeAllConnections();
      await new Promise((r) => server.close(r));
    }
  });
});

describe('import without the shared data', () => {
  it('reports a corrupt zip entry and goes on; refuses a truncated zip', async () => {
    const rec = (id: string): string => JSON.stringify({ id, modified: '2024-01-01T00:00:00Z', affected: [], details: `${id} `.repeat(200) });
    const good = await zip([['A-1.json', rec('A-1')], ['A-2.json', rec('A-2')], ['A-3.json', rec('A-3')]]);
    const bad = Buffer.from(good);
    // The second entry's compressed data starts after its 30-byte local header and name; overwrite some of it.
    const second = bad.indexOf('A-2.json', 30) + 'A-2.json'.length;
    bad.fill(0xff, second + 4, second + 40);
    await writeFile(join(dir, 'bad.zip'), bad);
    const s = await new VulnDbImporter(meta).import(join(dir, 'bad.zip'));
    expect(s).toMatchObject({ records: 3, imported: 2, invalid: 1 });
    expect(s.invalidRecords[0]).toMatchObject({ file: 'A-2.json' });
    await writeFile(join(dir, 'short.zip'), good.subarray(0, good.length - 30));
    await expect(new VulnDbImporter(meta).import(join(dir, 'short.zip'))).rejects.toThrow(/end of central directory/i);
  });

  it('reports records over the size limit and a single record file', async () => {
    const rec = JSON.stringify({ id: 'T-1', modified: '2024-01-01T00:00:00Z', affected: [{ package: { ecosystem: 'npm', name: 'x' }, versions: ['1.0.0'] }], details: 'y'.repeat(2000) });
    await writeFile(join(dir, 'T-1.json'), rec);
    const small = await new VulnDbImporter(meta, { maxRecordBytes: 1000 }).import(join(dir, 'T-1.json'));
    expect(small).toMatchObject({ records: 1, invalid: 1, imported: 0 });
    expect(small.invalidRecords[0]!.reason).toMatch(/more than the 1000-byte limit/);
    expect(await new VulnDbImporter(meta).import(join(dir, 'T-1.json'))).toMatchObject({ imported: 1 });
    const [hits] = await meta.vulndb.forPackages([{ ecosystem: 'npm', name: 'x' }]);
    expect(hits!.map((h) => h.record.details?.length)).toEqual([2000]);
  });
});
