/**
 * Matching a package version against an OSV record, following the evaluation
 * algorithm of the OSV schema ("Evaluation": IsVulnerable / IncludedInRanges /
 * BeforeLimits) exactly:
 *
 * - an `affected[]` entry applies when its package matches (below);
 * - the version is affected if it is in the entry's `versions` list, or inside
 *   one of its ECOSYSTEM/SEMVER ranges: events sorted by version (`introduced:
 *   "0"` first; ties keep file order), walked so that `introduced <= v` opens,
 *   `fixed <= v` closes and `last_affected < v` closes, provided `v` is below
 *   some `limit` (`*` is infinity; no limit means no bound). GIT ranges are
 *   ignored (they need the repository). ECOSYSTEM ranges use the ecosystem's
 *   comparator; SEMVER ranges use SemVer precedence (Go's for `Go`, which also
 *   reads `v`-prefixed and toolchain versions);
 * - `versions` entries match by string or, when both are valid versions, by
 *   comparator equality (`1.0 == 1.0.0` in PyPI);
 * - a withdrawn record never matches.
 *
 * Package matching:
 * - the ecosystem base must be equal; a record scoped to a release
 *   (`Debian:12`) matches only a package of that same release (`Debian:12`),
 *   never `Debian:13` nor an unscoped `Debian`. A record entry with an
 *   **unscoped** distribution ecosystem (`Debian`) claims nothing about a
 *   release, so it matches packages of every release of that distribution;
 *   a package whose release is unknown (`Debian`) matches only such entries;
 * - distributions name **source** packages (Debian advisories, Alpine origins,
 *   Rocky/Alma SRPMs): when `sourceName` is given it is compared instead of
 *   `name`, and `sourceVersion` (if given) instead of `version` - binary
 *   versions can differ from their source's (binNMU `+b1`, or util-linux's
 *   `bsdutils` carrying an epoch its source lacks). Red Hat records may name
 *   binary or source RPMs, so both names are tried there;
 * - PyPI names compare normalised (PEP 503), other names exactly.
 *
 * `fixedVersion` is the lowest `fixed` event above the version, in any
 * ECOSYSTEM/SEMVER range of the matching entries, that is itself not affected
 * by the record (a fix on one range may lie inside another: the stored
 * GHSA-r683-j2x4-v87g puts node-fetch 2.6.7 inside `[1.0, 3.1.1)`, so 2.6.0
 * gets 3.1.1). Absent when there is no such version: the range ends in
 * `last_affected` or nothing (no fix yet), or every later fix is affected.
 */

import type { OsvAffected, OsvRange, OsvRecord } from './osv-schema.js';
import { comparatorFor, isDistribution, parseEcosystem } from './versions/index.js';
import * as goVersion from './versions/go.js';
import * as semver from './versions/semver.js';

export * from './osv-schema.js';

/** An installed package to check. */
export interface PackageQuery {
  /** OSV ecosystem, with release for distributions (`Debian:12`, `npm`, `PyPI`). */
  ecosystem: string;
  name: string;
  version: string;
  /** Source package name, for distribution packages (Debian `Source:`, Alpine `origin`). */
  sourceName?: string;
  /** Source package version, when it differs from the binary's. */
  sourceVersion?: string;
}

/** The outcome of {@link affects}. */
export interface AffectsResult {
  affected: boolean;
  /** The version to upgrade to, when the record names one (see module comment). */
  fixedVersion?: string;
  /** The first `affected[]` entry that matched (its `ecosystem_specific` carries vendor status). */
  entry?: OsvAffected;
}

type Cmp = (a: string, b: string) => number;

const pep503 = (n: string): string => n.toLowerCase().replace(/[-_.]+/g, '-');

function comparatorOrThrow(ecosystem: string): Cmp {
  const c = comparatorFor(ecosystem);
  if (!c) throw new Error(`unsupported OSV ecosystem "${ecosystem}"`);
  return c.compare;
}

/** Whether the entry names the package; returns the version to compare, or undefined when it does not apply. */
function matchPackage(entry: OsvAffected, pkg: PackageQuery): string | undefined {
  if (!entry.package) return undefined;
  const re = parseEcosystem(entry.package.ecosystem);
  const pe = parseEcosystem(pkg.ecosystem);
  if (re.base !== pe.base || (re.release !== undefined && re.release !== pe.release)) return undefined;
  const name = entry.package.name;
  if (re.base === 'PyPI') return pep503(name) === pep503(pkg.name) ? pkg.version : undefined;
  if (isDistribution(pkg.ecosystem) && pkg.sourceName !== undefined) {
    if (name === pkg.sourceName) return pkg.sourceVersion ?? pkg.version;
    return re.base === 'Red Hat' && name === pkg.name ? pkg.version : undefined;
  }
  return name === pkg.name ? pkg.version : undefined;
}

/** The ordering an OSV range is evaluated with: SEMVER precedence (Go's for `Go`) or the ecosystem's own. */
export function rangeComparator(range: OsvRange, ecosystem: string): Cmp {
  if (range.type === 'SEMVER') return parseEcosystem(ecosystem).base === 'Go' ? goVersion.compare : semver.compare;
  return comparatorOrThrow(ecosystem);
}

type Ev = { kind: 'introduced' | 'fixed' | 'last_affected' | 'limit'; version: string };

/** IncludedInRanges for one range, also reporting the `fixed` that closes the interval containing `v`. */
export function evaluateRange(range: OsvRange, v: string, cmp: Cmp): { vulnerable: boolean; fixed?: string } {
  const events: Ev[] = range.events.map((e) => {
    const [kind, version] = Object.entries(e)[0] as [Ev['kind'], string];
    return { kind, version };
  });
  const limits = events.filter((e) => e.kind === 'limit');
  if (limits.length > 0 && !limits.some((l) => l.version === '*' || cmp(v, l.version) < 0)) return { vulnerable: false };
  const isZero = (e: Ev): boolean => e.kind === 'introduced' && e.version === '0';
  const sorted = events
    .filter((e) => e.kind !== 'limit')
    .sort((a, b) => (isZero(a) || isZero(b) ? Number(isZero(b)) - Number(isZero(a)) : cmp(a.version, b.version)));
  let vulnerable = false;
  let bounded = false;
  let fixed: string | undefined;
  for (const e of sorted) {
    if (e.kind === 'introduced') {
      if (isZero(e) || cmp(v, e.version) >= 0) [vulnerable, bounded, fixed] = [true, false, undefined];
    } else if (e.kind === 'fixed') {
      if (cmp(v, e.version) >= 0) vulnerable = false;
      else if (vulnerable && !bounded) [bounded, fixed] = [true, e.version];
    } else if (cmp(v, e.version) > 0) {
      vulnerable = false;
    } else if (vulnerable) {
      bounded = true;
    }
  }
  return vulnerable ? (fixed !== undefined ? { vulnerable, fixed } : { vulnerable }) : { vulnerable: false };
}

interface Match {
  /** The first entry that found the version affected. */
  entry: OsvAffected;
  /** Every `fixed` event above the version in the matching entries. */
  fixes: string[];
}

function evaluate(record: OsvRecord, pkg: PackageQuery): Match | undefined {
  if (record.withdrawn !== undefined) return undefined;
  let entryHit: OsvAffected | undefined;
  const fixes: string[] = [];
  for (const entry of record.affected) {
    const v = matchPackage(entry, pkg);
    if (v === undefined) continue;
    const eco = entry.package?.ecosystem ?? pkg.ecosystem;
    const c = comparatorFor(eco);
    const same = (x: string): boolean => x === v || (c !== undefined && c.isValid(x) && c.isValid(v) && c.compare(x, v) === 0);
    if (entry.versions?.some(same)) entryHit ??= entry;
    for (const range of entry.ranges ?? []) {
      if (range.type === 'GIT') continue;
      const cmp = rangeComparator(range, eco);
      if (evaluateRange(range, v, cmp).vulnerable) entryHit ??= entry;
      for (const e of range.events) if ('fixed' in e && cmp(e.fixed, v) > 0) fixes.push(e.fixed);
    }
  }
  return entryHit ? { entry: entryHit, fixes } : undefined;
}

/**
 * Whether `pkg` is affected by `record`, and the version that fixes it.
 * @throws Error when a matching entry has an ECOSYSTEM range in an ecosystem without a comparator.
 */
export function affects(record: OsvRecord, pkg: PackageQuery): AffectsResult {
  const m = evaluate(record, pkg);
  if (!m) return { affected: false };
  const cmp = comparatorFor(pkg.ecosystem)?.compare ?? semver.compare;
  const fixedVersion = [...new Set(m.fixes)]
    .sort(cmp)
    .find((f) => evaluate(record, { ...pkg, version: f, sourceVersion: f }) === undefined);
  return fixedVersion !== undefined ? { affected: true, fixedVersion, entry: m.entry } : { affected: true, entry: m.entry };
}
