/**
 * apk: `/lib/apk/db/installed` (Alpine, Wolfi, Chainguard). Paragraphs of `K:value` lines: `P` name, `V` version,
 * `A` architecture, `o` origin (the source package that OSV advisories name).
 */
import type { ExtractedPackage } from '../walker/types.js';
import { bufferedExtractor } from './buffered.js';

export const APK_INSTALLED = '/lib/apk/db/installed';

export function apkPackages(text: string): ExtractedPackage[] {
  const pkgs: ExtractedPackage[] = [];
  let f = new Map<string, string>();
  const flush = (): void => {
    const name = f.get('P');
    const version = f.get('V');
    if (name && version) {
      const pkg: ExtractedPackage = { osManager: 'apk', name, version, sourceName: f.get('o') || name, sourceVersion: version };
      const arch = f.get('A');
      if (arch) pkg.arch = arch;
      pkgs.push(pkg);
    }
    f = new Map();
  };
  for (const line of text.split(/\r?\n/)) {
    if (line === '') flush();
    else if (line.length >= 2 && line[1] === ':' && !f.has(line[0] as string)) f.set(line[0] as string, line.slice(2));
  }
  flush();
  return pkgs;
}

export const apkExtractor = bufferedExtractor({
  name: 'apk',
  wants: (e) => e.path === APK_INSTALLED,
  parse: (content) => ({ packages: apkPackages(content.toString('utf8')) }),
});
