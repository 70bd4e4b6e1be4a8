/**
 * Python: installed distributions (`*.dist-info/METADATA`, `*.egg-info/PKG-INFO`, and `*.egg-info` written as a
 * single file) and lockfiles (`poetry.lock`, `Pipfile.lock`, `requirements*.txt` lines pinned with `==`/`===`).
 * Names are kept as the metadata spells them (`PyYAML`); matching and purls use the PEP 503 form (`pyyaml`).
 * Not covered: `*.egg` zip files, `pdm.lock`/`uv.lock`, requirement lines with ranges, URLs or `-e`.
 */
import { pypiPurl } from '../purl.js';
import type { EntryInfo, ExtractedPackage } from '../walker/types.js';
import { basename, bufferedExtractor } from './buffered.js';
import { tomlArrayTables } from './toml-tables.js';

const REQUIREMENTS = /^requirements(?:[-_.][\w.-]*)?\.txt$/;

export function wantsPython(e: EntryInfo): boolean {
  const b = basename(e.path);
  return (
    e.path.endsWith('.dist-info/METADATA') ||
    e.path.endsWith('.egg-info/PKG-INFO') ||
    b.endsWith('.egg-info') ||
    b === 'poetry.lock' ||
    b === 'Pipfile.lock' ||
    REQUIREMENTS.test(b)
  );
}

const pypi = (name: string, version: string, fromLockfile: boolean, dev = false): ExtractedPackage => {
  const p: ExtractedPackage = { ecosystem: 'PyPI', name, version, purl: pypiPurl(name, version) };
  if (fromLockfile) p.fromLockfile = true;
  if (dev) p.dev = true;
  return p;
};

/** Name and Version of core metadata (RFC 822 headers; the body after the first blank line is ignored). */
export function parseCoreMetadata(text: string): { name: string; version: string } | undefined {
  let name: string | undefined;
  let version: string | undefined;
  for (const line of text.split(/\r?\n/)) {
    if (line === '') break;
    const m = /^(Name|Version):\s*(.*?)\s*$/i.exec(line);
    if (m && (m[1] as string).toLowerCase() === 'name') name ??= m[2];
    else if (m) version ??= m[2];
  }
  return name && version ? { name, version } : undefined;
}

export function poetryLockPackages(text: string): ExtractedPackage[] {
  return tomlArrayTables(text, 'package')
    .filter((t) => t.name && t.version)
    .map((t) => pypi(t.name as string, t.version as string, true, t.category === 'dev'));
}

export function pipfileLockPackages(json: unknown): ExtractedPackage[] {
  const out: ExtractedPackage[] = [];
  if (typeof json !== 'object' || json === null) throw new Error('Pipfile.lock is not a JSON object');
  for (const section of ['default', 'develop'] as const) {
    const deps = (json as Record<string, unknown>)[section];
    if (typeof deps !== 'object' || deps === null) continue;
    for (const [name, d] of Object.entries(deps as Record<string, unknown>)) {
      const v = (d as { version?: unknown } | null)?.version;
      const m = typeof v === 'string' ? /^===?\s*([^\s,;*]+)$/.exec(v.trim()) : null;
      if (m) out.push(pypi(name, m[1] as string, true, section === 'develop'));
    }
  }
  return out;
}

const PINNED = /^([A-Za-z0-9][A-Za-z0-9._-]*)\s*(?:\[[^\]]*\])?\s*===?\s*([^\s;#,*]+)\s*(?:;.*)?$/;

export function requirementsPackages(text: string): ExtractedPackage[] {
  const out: ExtractedPackage[] = [];
  for (const logical of text.replace(/\\\r?\n/g, ' ').split(/\r?\n/)) {
    const line = logical.replace(/(^|\s)#.*$/, '').replace(/\s--hash[= ]\S+/g, '').trim();
    if (line === '' || line.startsWith('-')) continue;
    const m = PINNED.exec(line);
    if (m) out.push(pypi(m[1] as string, m[2] as string, true));
  }
  return out;
}

export const pythonExtractor = bufferedExtractor({
  name: 'python',
  wants: wantsPython,
  parse(content, entry) {
    const text = content.toString('utf8');
    const b = basename(entry.path);
    if (b === 'poetry.lock') return { packages: poetryLockPackages(text) };
    if (b === 'Pipfile.lock') return { packages: pipfileLockPackages(JSON.parse(text)) };
    if (REQUIREMENTS.test(b)) return { packages: requirementsPackages(text) };
    const meta = parseCoreMetadata(text);
    if (!meta) throw new Error('no Name/Version in distribution metadata');
    return { packages: [pypi(meta.name, meta.version, false)] };
  },
});
