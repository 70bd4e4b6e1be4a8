/**
 * Ruby: the specifications of installed gems (`…/specifications/<name>-<version>.gemspec` and
 * `…/specifications/default/…` for default gems; RubyGems writes them as Ruby code with `s.name = "…"` and
 * `s.version = "…"`), and `Gemfile.lock` (the `specs:` of its `GEM` section; `GIT` and `PATH` sources are not
 * rubygems.org releases and are skipped). A platform suffix (`1.15.4-x86_64-linux`) is not part of the version.
 */
import { gemPurl } from '../purl.js';
import type { ExtractedPackage } from '../walker/types.js';
import { basename, bufferedExtractor } from './buffered.js';

const GEMSPEC = /\/specifications\/(?:default\/)?[^/]+\.gemspec$/;

const gem = (name: string, version: string, fromLockfile: boolean): ExtractedPackage => {
  const p: ExtractedPackage = { ecosystem: 'RubyGems', name, version, purl: gemPurl(name, version) };
  if (fromLockfile) p.fromLockfile = true;
  return p;
};

export function gemspecPackage(text: string): ExtractedPackage | undefined {
  const name = /\.name\s*=\s*["']([^"']+)["']/.exec(text)?.[1];
  const version = /\.version\s*=\s*["']([^"']+)["']/.exec(text)?.[1];
  return name && version ? gem(name, version, false) : undefined;
}

export function gemfileLockPackages(text: string): ExtractedPackage[] {
  const out: ExtractedPackage[] = [];
  let section = '';
  for (const line of text.split(/\r?\n/)) {
    if (/^\S/.test(line)) {
      section = line.trim();
      continue;
    }
    if (section !== 'GEM') continue;
    const m = /^ {4}([^\s(]+) \(([^)]+)\)$/.exec(line);
    if (!m) continue;
    const version = (m[2] as string).replace(/-(?:x86|x64|java|universal|arm|aarch64|mingw|mswin|darwin|linux|ruby)[\w.-]*$/, '');
    out.push(gem(m[1] as string, version, true));
  }
  return out;
}

export const rubyExtractor = bufferedExtractor({
  name: 'ruby',
  wants: (e) => GEMSPEC.test(e.path) || basename(e.path) === 'Gemfile.lock',
  parse(content, entry) {
    const text = content.toString('utf8');
    if (basename(entry.path) === 'Gemfile.lock') return { packages: gemfileLockPackages(text) };
    const p = gemspecPackage(text);
    if (!p) throw new Error('no name/version in gemspec');
    return { packages: [p] };
  },
});
