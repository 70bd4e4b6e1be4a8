/**
 * os-release (freedesktop.org): `/etc/os-release`, else `/usr/lib/os-release` (the inventory prefers the first
 * when both are there; on Debian the former is usually a symlink to the latter, and symlinks are not read).
 * Shell-style `KEY=value` lines, values optionally quoted, with `\` escapes inside double quotes.
 */
import type { OsRelease } from '../walker/types.js';
import { bufferedExtractor } from './buffered.js';

export const OS_RELEASE_PATHS = ['/etc/os-release', '/usr/lib/os-release'] as const;

function unquote(raw: string): string {
  const v = raw.trim();
  if (v.length >= 2 && v.startsWith("'") && v.endsWith("'")) return v.slice(1, -1);
  if (v.length >= 2 && v.startsWith('"') && v.endsWith('"')) return v.slice(1, -1).replace(/\\(["\\$`])/g, '$1');
  return v;
}

export function parseOsRelease(text: string): OsRelease | undefined {
  const kv = new Map<string, string>();
  for (const line of text.split(/\r?\n/)) {
    const m = /^\s*([A-Z][A-Z0-9_]*)=(.*)$/.exec(line);
    if (m) kv.set(m[1] as string, unquote(m[2] as string));
  }
  const id = kv.get('ID');
  if (!id) return undefined;
  const os: OsRelease = { id: id.toLowerCase() };
  const opt = (key: string, field: 'versionId' | 'version' | 'versionCodename' | 'name' | 'prettyName'): void => {
    const v = kv.get(key);
    if (v) os[field] = v;
  };
  opt('VERSION_ID', 'versionId');
  opt('VERSION', 'version');
  opt('VERSION_CODENAME', 'versionCodename');
  opt('NAME', 'name');
  opt('PRETTY_NAME', 'prettyName');
  const like = kv.get('ID_LIKE');
  if (like) os.idLike = like.split(/\s+/).filter((s) => s !== '');
  return os;
}

export const osReleaseExtractor = bufferedExtractor({
  name: 'os-release',
  wants: (e) => (OS_RELEASE_PATHS as readonly string[]).includes(e.path),
  cap: () => 64 * 1024,
  parse(content) {
    const os = parseOsRelease(content.toString('utf8'));
    if (!os) throw new Error('no ID in os-release');
    return { os };
  },
});
