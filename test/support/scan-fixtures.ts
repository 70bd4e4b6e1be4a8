/**
 * Test images for the scanning end-to-end tests, built at test time from the real metadata in
 * ../shared/fixtures (never copied), and what the advisories in ../shared/vulndb imply for them.
 *
 * Layers (paths as an image holds them):
 * - base: /etc/os-release (Debian 12) and /var/lib/dpkg/status (the bookworm minbase, 88 packages);
 * - app: the npm app (/app/package.json, package-lock.json, node_modules/**), the Python
 *   dist-packages (/usr/lib/python3/dist-packages/*), and /usr/local/bin/buf, an ELF whose data
 *   segment holds buf's real `.go.buildinfo` section;
 * - upgrade: a dpkg status in which perl-base is upgraded to the version that fixes the perl
 *   advisories, and a whiteout that deletes urllib3's egg-info.
 */
import { readFileSync, readdirSync, statSync, existsSync } from 'node:fs';
import { join, relative } from 'node:path';
import { parseOsvRecord, type OsvRecord, type PackageQuery } from '../../src/core/vuln/osv.js';
import { assess } from '../../src/core/vuln/severity.js';
import { fromToolchain } from '../../src/core/vuln/versions/go.js';
import { buildElf } from '../../src/scan/extractors/go-elf.test-support.js';
import { describe } from 'vitest';
import { skipUnless } from './clients.js';
import { REPO_ROOT } from './server.js';

export const SHARED = join(REPO_ROOT, '..', 'shared');
export const FIXTURES = join(SHARED, 'fixtures');
export const VULNDB = join(SHARED, 'vulndb');
export const VULNDB_FOLDERS = ['debian', 'npm', 'pypi', 'go'] as const;

export const PERL_BEFORE = '5.36.0-7+deb12u3';
export const PERL_AFTER = '5.36.0-7+deb12u4';
export const URLLIB3_INFO = 'urllib3-1.26.12.egg-info';

/** Why the scanning fixtures are unusable, or undefined when they are all there. */
export function missingFixtures(): string | undefined {
  for (const p of [join(FIXTURES, 'debian-bookworm-minbase.dpkg-status'), join(FIXTURES, 'node-app'), join(FIXTURES, 'python'), join(FIXTURES, 'go'), ...VULNDB_FOLDERS.map((f) => join(VULNDB, f))]) {
    if (!existsSync(p)) return `${p} not found (the shared fixtures and advisories live beside the checkout)`;
  }
  return undefined;
}

/** `describe` for a scanning suite: skipped with the reason when the fixtures are missing, else when skopeo is. */
export function scanningSuite(): (name: string, fn: () => void) => void {
  const missing = missingFixtures();
  if (!missing) return skipUnless('skopeo');
  return (name, fn) => {
    process.stderr.write(`[e2e] skipping "${name}": ${missing}\n`);
    describe.skip(`${name} (skipped: ${missing})`, fn);
  };
}

const read = (rel: string): Buffer => readFileSync(join(FIXTURES, rel));

function tree(dir: string, at: string): Record<string, Buffer> {
  const out: Record<string, Buffer> = {};
  const walk = (d: string): void => {
    for (const name of readdirSync(d).sort()) {
      const full = join(d, name);
      if (statSync(full).isDirectory()) walk(full);
      else out[`${at}/${relative(dir, full)}`] = readFileSync(full);
    }
  };
  walk(dir);
  return out;
}

export function baseLayer(): Record<string, Buffer> {
  return { 'etc/os-release': read('debian/os-release'), 'var/lib/dpkg/status': read('debian-bookworm-minbase.dpkg-status') };
}

/** A file big enough for the Go extractor, with buf's build info in its data segment. */
export function goBinary(): Buffer {
  return buildElf([
    { offset: 0x1000, vaddr: 0x401000, data: Buffer.from('\x7fcode of buf'.repeat(64)) },
    { offset: 0x4000, vaddr: 0x804000, data: read('go/buf.go.buildinfo.bin') },
  ]);
}

export function appLayer(): Record<string, Buffer> {
  return {
    'app/package.json': read('node-app/package.json'),
    'app/package-lock.json': read('node-app/package-lock.json'),
    ...tree(join(FIXTURES, 'node-app', 'node_modules'), 'app/node_modules'),
    ...tree(join(FIXTURES, 'python', 'dist-packages'), 'usr/lib/python3/dist-packages'),
    'usr/local/bin/buf': goBinary(),
  };
}

export function upgradeLayer(): Record<string, Buffer> {
  const status = read('debian-bookworm-minbase.dpkg-status').toString('utf8');
  const upgraded = status.replace(/(Package: perl-base\n(?:[^\n]+\n)*?Version: )5\.36\.0-7\+deb12u3/, `$1${PERL_AFTER}`);
  if (upgraded === status) throw new Error('the fixture has no perl-base to upgrade');
  return { 'var/lib/dpkg/status': Buffer.from(upgraded), [`usr/lib/python3/dist-packages/.wh.${URLLIB3_INFO}`]: Buffer.alloc(0) };
}

function tsv(rel: string): Record<string, string>[] {
  const [head, ...rows] = read(rel).toString('utf8').split('\n').filter((l) => l !== '');
  const cols = (head ?? '').split('\t');
  return rows.map((r) => Object.fromEntries(r.split('\t').map((v, i) => [cols[i] ?? String(i), v])));
}

/**
 * The packages of the image, from the fixtures' own listings (dpkg-query output, the lockfile,
 * the Python table, `go version -m`), independently of Berth's extractors.
 */
export function expectedPackages(o: { upgraded: boolean }): PackageQuery[] {
  const out: PackageQuery[] = [];
  for (const r of tsv('debian/bookworm-minbase-packages.tsv')) {
    const upgraded = o.upgraded && r.package === 'perl-base';
    const version = upgraded ? PERL_AFTER : r.version!;
    out.push({ ecosystem: 'Debian:12', name: r.package!, version, sourceName: r.source!, sourceVersion: upgraded ? PERL_AFTER : r.source_version! });
  }
  const lock = JSON.parse(read('node-app/package-lock.json').toString('utf8')) as { packages: Record<string, { name?: string; version?: string; link?: boolean }> };
  for (const [path, p] of Object.entries(lock.packages)) {
    if (path === '' || !p.version || p.link) continue;
    out.push({ ecosystem: 'npm', name: p.name ?? path.slice(path.lastIndexOf('node_modules/') + 'node_modules/'.length), version: p.version });
  }
  for (const r of tsv('python/python-dists.tsv')) {
    if (o.upgraded && r.metadata_path?.includes(URLLIB3_INFO)) continue;
    out.push({ ecosystem: 'PyPI', name: r.dist_name!, version: r.dist_version! });
  }
  const buf = JSON.parse(read('go/buf.modules.json').toString('utf8')) as { go_version: string; deps: { module: string; version: string }[] };
  out.push({ ecosystem: 'Go', name: 'stdlib', version: fromToolchain(buf.go_version)! });
  for (const d of buf.deps) out.push({ ecosystem: 'Go', name: d.module, version: d.version });
  return out;
}

export function loadAdvisories(folders: readonly string[] = VULNDB_FOLDERS): OsvRecord[] {
  const out: OsvRecord[] = [];
  for (const f of folders) {
    for (const name of readdirSync(join(VULNDB, f)).filter((n) => n.endsWith('.json')).sort()) {
      out.push(parseOsvRecord(JSON.parse(readFileSync(join(VULNDB, f, name), 'utf8'))));
    }
  }
  return out;
}

/** `name@version advisory` for every package an advisory affects (the reporting policy of core/vuln). */
export function expectedFindings(pkgs: readonly PackageQuery[], records: readonly OsvRecord[]): Set<string> {
  const out = new Set<string>();
  for (const p of pkgs) for (const r of records) if (assess(r, p)) out.add(`${p.name}@${p.version} ${r.id}`);
  return out;
}

/**
 * Writes an image whose layer blobs are given as they are (hostile or broken content that
 * the tar helpers would not produce) into the OCI layout at `dir`, tagged `tag`. The config's
 * diff_ids are not real (nothing on the push path decompresses layers).
 */
export async function writeRawImageLayout(dir: string, tag: string, layers: readonly Buffer[]): Promise<{ manifestDigest: string; layerDigests: string[] }> {
  const { mkdir, readFile, writeFile } = await import('node:fs/promises');
  const { createHash } = await import('node:crypto');
  const sha = (b: Buffer): string => `sha256:${createHash('sha256').update(b).digest('hex')}`;
  const put = async (b: Buffer): Promise<string> => {
    const d = sha(b);
    await mkdir(join(dir, 'blobs', 'sha256'), { recursive: true });
    await writeFile(join(dir, 'blobs', 'sha256', d.slice(7)), b);
    return d;
  };
  const layerDigests = await Promise.all(layers.map(put));
  const config = Buffer.from(JSON.stringify({ architecture: 'amd64', os: 'linux', rootfs: { type: 'layers', diff_ids: layerDigests }, config: {} }));
  const manifest = Buffer.from(
    JSON.stringify({
      schemaVersion: 2,
      mediaType: 'application/vnd.oci.image.manifest.v1+json',
      config: { mediaType: 'application/vnd.oci.image.config.v1+json', digest: await put(config), size: config.length },
      layers: layers.map((l, i) => ({ mediaType: 'application/vnd.oci.image.layer.v1.tar+gzip', digest: layerDigests[i], size: l.length })),
    }),
  );
  const manifestDigest = await put(manifest);
  await writeFile(join(dir, 'oci-layout'), '{"imageLayoutVersion":"1.0.0"}');
  let index: { schemaVersion: number; manifests: Record<string, unknown>[] } = { schemaVersion: 2, manifests: [] };
  try {
    index = JSON.parse(await readFile(join(dir, 'index.json'), 'utf8')) as typeof index;
  } catch {
    // a new layout
  }
  index.manifests.push({ mediaType: 'application/vnd.oci.image.manifest.v1+json', digest: manifestDigest, size: manifest.length, annotations: { 'org.opencontainers.image.ref.name': tag } });
  await writeFile(join(dir, 'index.json'), JSON.stringify(index));
  return { manifestDigest, layerDigests };
}
