/**
 * Rust: `Cargo.lock` (v1-v4 all keep `[[package]]` tables with `name`, `version`, `source`). Only crates from a
 * registry (`registry+…`, `sparse+…`) are reported: the workspace's own crates have no source, and git or path
 * crates are not crates.io releases, so crates.io advisories do not apply to them by version.
 * Not covered: the `cargo auditable` section in Rust binaries.
 */
import { cargoPurl } from '../purl.js';
import type { ExtractedPackage } from '../walker/types.js';
import { basename, bufferedExtractor } from './buffered.js';
import { tomlArrayTables } from './toml-tables.js';

export function cargoLockPackages(text: string): ExtractedPackage[] {
  return tomlArrayTables(text, 'package')
    .filter((t) => t.name && t.version && /^(?:registry|sparse)\+/.test(t.source ?? ''))
    .map((t) => ({
      ecosystem: 'crates.io',
      name: t.name as string,
      version: t.version as string,
      purl: cargoPurl(t.name as string, t.version as string),
      fromLockfile: true,
    }));
}

export const cargoExtractor = bufferedExtractor({
  name: 'cargo',
  wants: (e) => basename(e.path) === 'Cargo.lock',
  parse: (content) => ({ packages: cargoLockPackages(content.toString('utf8')) }),
});
