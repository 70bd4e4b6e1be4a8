/**
 * dpkg: `/var/lib/dpkg/status` and, as distroless images write it, one file per package in
 * `/var/lib/dpkg/status.d/` (their `*.md5sums` companions are skipped). A paragraph counts when its `Status`
 * says `installed` (status.d paragraphs have no `Status` and count). `Source: name (version)` gives the source
 * package; without a version the binary's is used, without `Source` the package is its own source.
 */
import type { ExtractedPackage } from '../walker/types.js';
import { bufferedExtractor } from './buffered.js';

/** Debian control paragraphs as field maps (field names as written; continuation lines appended). */
export function parseControlParagraphs(text: string): Array<Map<string, string>> {
  const out: Array<Map<string, string>> = [];
  let cur = new Map<string, string>();
  let last: string | undefined;
  for (const line of text.split(/\r?\n/)) {
    if (line.trim() === '') {
      if (cur.size > 0) out.push(cur);
      cur = new Map();
      last = undefined;
    } else if (/^[ \t]/.test(line)) {
      if (last !== undefined) cur.set(last, `${cur.get(last) ?? ''}\n${line.trim()}`);
    } else {
      const i = line.indexOf(':');
      if (i <= 0) continue;
      last = line.slice(0, i);
      cur.set(last, line.slice(i + 1).trim());
    }
  }
  if (cur.size > 0) out.push(cur);
  return out;
}

export function dpkgPackages(text: string): ExtractedPackage[] {
  const pkgs: ExtractedPackage[] = [];
  for (const p of parseControlParagraphs(text)) {
    const name = p.get('Package');
    const version = p.get('Version');
    if (!name || !version) continue;
    const status = p.get('Status');
    if (status !== undefined && status.split(/\s+/).at(-1) !== 'installed') continue;
    const src = /^(\S+)(?:\s*\((\S+)\))?/.exec(p.get('Source') ?? '');
    const pkg: ExtractedPackage = {
      osManager: 'dpkg',
      name,
      version,
      sourceName: src?.[1] ?? name,
      sourceVersion: src?.[2] ?? version,
    };
    const arch = p.get('Architecture');
    if (arch) pkg.arch = arch;
    pkgs.push(pkg);
  }
  return pkgs;
}

export const dpkgExtractor = bufferedExtractor({
  name: 'dpkg',
  wants: (e) =>
    e.path === '/var/lib/dpkg/status' ||
    (e.path.startsWith('/var/lib/dpkg/status.d/') && !e.path.endsWith('.md5sums') && e.path.indexOf('/', 23) < 0),
  parse: (content) => ({ packages: dpkgPackages(content.toString('utf8')) }),
});
