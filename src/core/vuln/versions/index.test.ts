import { describe, expect, it } from 'vitest';
import { comparatorFor, comparators, isDistribution, parseEcosystem } from './index.js';

describe('ecosystem → comparator', () => {
  it.each([
    ['Debian', 'dpkg'],
    ['Debian:12', 'dpkg'],
    ['Ubuntu:22.04:LTS', 'dpkg'],
    ['Alpine:v3.20', 'apk'],
    ['npm', 'semver'],
    ['crates.io', 'semver'],
    ['PyPI', 'pep440'],
    ['Go', 'go'],
    ['Maven', 'maven'],
    ['Red Hat:enterprise_linux:9::appstream', 'rpm'],
    ['Rocky Linux:9', 'rpm'],
    ['AlmaLinux:8', 'rpm'],
    ['RubyGems', 'rubygems'],
  ])('%s uses %s', (eco, name) => {
    expect(comparatorFor(eco)?.name).toBe(name);
  });

  it('has no comparator for unknown ecosystems', () => {
    expect(comparatorFor('NuGet')).toBeUndefined();
    expect(comparatorFor('debian:12')).toBeUndefined(); // OSV ecosystem names are case-sensitive
  });

  it('splits the release suffix at the first colon', () => {
    expect(parseEcosystem('Debian:12')).toEqual({ base: 'Debian', release: '12' });
    expect(parseEcosystem('Debian')).toEqual({ base: 'Debian' });
    expect(parseEcosystem('Debian:')).toEqual({ base: 'Debian' });
    expect(parseEcosystem('Red Hat:rhel_aus:8.4::appstream')).toEqual({ base: 'Red Hat', release: 'rhel_aus:8.4::appstream' });
  });

  it('knows which ecosystems are distributions', () => {
    expect(isDistribution('Debian:12')).toBe(true);
    expect(isDistribution('Alpine:v3.20')).toBe(true);
    expect(isDistribution('npm')).toBe(false);
    expect(comparators.dpkg.compare('1:1.0', '2.0')).toBe(1);
  });
});
