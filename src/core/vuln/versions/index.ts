/**
 * Maps OSV ecosystem names to version comparators.
 *
 * An OSV ecosystem string is `<Base>[:<suffix>]`, where the suffix scopes a
 * distribution release (`Debian:12`, `Alpine:v3.20`, `Ubuntu:22.04:LTS`,
 * `Red Hat:enterprise_linux:9::appstream`, `Rocky Linux:9`). Ordering depends
 * only on the base.
 */

import * as apk from './apk.js';
import * as dpkg from './dpkg.js';
import * as go from './go.js';
import * as maven from './maven.js';
import * as pep440 from './pep440.js';
import * as rpm from './rpm.js';
import * as rubygems from './rubygems.js';
import * as semver from './semver.js';

/** A version ordering: `compare` is negative, zero or positive as `a` sorts before, equal to or after `b`. */
export interface Comparator {
  readonly name: string;
  compare(a: string, b: string): number;
  isValid(v: string): boolean;
}

const mk = (name: string, m: { compare(a: string, b: string): number; isValid(v: string): boolean }): Comparator => ({
  name,
  compare: m.compare,
  isValid: m.isValid,
});

/** The comparators, by algorithm. */
export const comparators = {
  dpkg: mk('dpkg', dpkg),
  apk: mk('apk', apk),
  rpm: mk('rpm', rpm),
  semver: mk('semver', semver),
  pep440: mk('pep440', pep440),
  go: mk('go', go),
  maven: mk('maven', maven),
  rubygems: mk('rubygems', rubygems),
} as const;

/** Base ecosystem name → comparator. */
const BY_ECOSYSTEM: Record<string, Comparator> = {
  Debian: comparators.dpkg,
  Ubuntu: comparators.dpkg,
  Alpine: comparators.apk,
  Wolfi: comparators.apk,
  Chainguard: comparators.apk,
  'Red Hat': comparators.rpm,
  'Rocky Linux': comparators.rpm,
  AlmaLinux: comparators.rpm,
  openSUSE: comparators.rpm,
  SUSE: comparators.rpm,
  npm: comparators.semver,
  'crates.io': comparators.semver,
  PyPI: comparators.pep440,
  Go: comparators.go,
  Maven: comparators.maven,
  RubyGems: comparators.rubygems,
};

/** Ecosystems whose OSV records name source packages (and are scoped by release). */
const DISTRIBUTIONS = new Set(['Debian', 'Ubuntu', 'Alpine', 'Wolfi', 'Chainguard', 'Red Hat', 'Rocky Linux', 'AlmaLinux', 'openSUSE', 'SUSE']);

/** An ecosystem string split into its base and its (release) suffix. */
export interface Ecosystem {
  base: string;
  /** Everything after the first `:`, e.g. `12` for `Debian:12`; absent when unscoped. */
  release?: string;
}

/** Splits `Debian:12` into `{ base: 'Debian', release: '12' }`. */
export function parseEcosystem(ecosystem: string): Ecosystem {
  const i = ecosystem.indexOf(':');
  if (i < 0) return { base: ecosystem.trim() };
  const release = ecosystem.slice(i + 1).trim();
  return release === '' ? { base: ecosystem.slice(0, i).trim() } : { base: ecosystem.slice(0, i).trim(), release };
}

/** The comparator for an OSV ecosystem (suffix ignored), or undefined if unsupported. */
export function comparatorFor(ecosystem: string): Comparator | undefined {
  return BY_ECOSYSTEM[parseEcosystem(ecosystem).base];
}

/** Whether the ecosystem is an OS distribution (records name source packages, scoped per release). */
export function isDistribution(ecosystem: string): boolean {
  return DISTRIBUTIONS.has(parseEcosystem(ecosystem).base);
}
