import { describe, expect, it } from 'vitest';
import { affects, evaluateRange, OsvRecordError, parseOsvRecord, type OsvRecord, type PackageQuery } from './osv.js';
import { compare as semverCompare } from './versions/semver.js';

type Events = Record<string, string>[];
const rec = (affected: unknown[], extra: Record<string, unknown> = {}): OsvRecord =>
  parseOsvRecord({ id: 'TEST-1', modified: '2024-01-01T00:00:00Z', affected, ...extra });
const npm = (name: string, events: Events, more: Record<string, unknown> = {}): unknown => ({
  package: { ecosystem: 'npm', name },
  ranges: [{ type: 'ECOSYSTEM', events }],
  ...more,
});
const q = (name: string, version: string, ecosystem = 'npm'): PackageQuery => ({ ecosystem, name, version });

describe('OSV evaluation', () => {
  const r = rec([npm('a', [{ introduced: '0' }, { fixed: '1.0.0' }])]);
  it.each([
    ['0.9.0', true],
    ['1.0.0-rc.1', true],
    ['1.0.0', false],
    ['1.0.1', false],
  ])('introduced 0, fixed 1.0.0: %s affected=%s', (v, want) => {
    expect(affects(r, q('a', v)).affected).toBe(want);
  });

  it('reports the fixed version of the interval', () => {
    expect(affects(r, q('a', '0.1.0'))).toMatchObject({ affected: true, fixedVersion: '1.0.0' });
    expect(affects(r, q('b', '0.1.0'))).toEqual({ affected: false });
  });

  it('treats last_affected as inclusive and gives no fixed version', () => {
    const la = rec([npm('a', [{ introduced: '1.0.0' }, { last_affected: '1.2.0' }])]);
    expect(affects(la, q('a', '0.9.0')).affected).toBe(false);
    expect(affects(la, q('a', '1.2.0'))).toEqual({ affected: true, entry: la.affected[0] });
    expect(affects(la, q('a', '1.2.1')).affected).toBe(false);
  });

  it('applies limit events (and * as infinity)', () => {
    const lim = rec([npm('a', [{ introduced: '0' }, { limit: '2.0.0' }])]);
    expect(affects(lim, q('a', '1.9.9')).affected).toBe(true);
    expect(affects(lim, q('a', '2.0.0')).affected).toBe(false);
    const star = rec([npm('a', [{ introduced: '1.0.0' }, { limit: '*' }])]);
    expect(affects(star, q('a', '99.0.0')).affected).toBe(true);
  });

  it('sorts events before walking them', () => {
    // As in PYSEC-2023-192: the later branch is listed first.
    const events = [{ introduced: '2.0.0' }, { fixed: '2.0.6' }, { introduced: '0' }, { fixed: '1.26.17' }];
    const u = rec([npm('a', events)]);
    expect(affects(u, q('a', '2.0.3'))).toMatchObject({ affected: true, fixedVersion: '2.0.6' });
    expect(affects(u, q('a', '1.26.5'))).toMatchObject({ affected: true, fixedVersion: '1.26.17' });
    expect(affects(u, q('a', '1.26.17')).affected).toBe(false);
    expect(evaluateRange({ type: 'ECOSYSTEM', events }, '2.0.6', semverCompare)).toEqual({ vulnerable: false });
  });

  it('matches the versions list, by comparator equality, without a fixed version', () => {
    const v = rec([{ package: { ecosystem: 'PyPI', name: 'Foo.Bar' }, versions: ['1.0', '1.1'] }]);
    expect(affects(v, q('foo-bar', '1.0.0', 'PyPI'))).toEqual({ affected: true, entry: v.affected[0] });
    expect(affects(v, q('foo_bar', '1.2', 'PyPI')).affected).toBe(false);
  });

  it('ignores GIT ranges', () => {
    const g = rec([
      { package: { ecosystem: 'PyPI', name: 'x' }, ranges: [{ type: 'GIT', repo: 'https://example.com/x', events: [{ introduced: '0' }] }] },
    ]);
    expect(affects(g, q('x', '1.0', 'PyPI')).affected).toBe(false);
  });

  it('never matches a withdrawn record', () => {
    const w = rec([npm('a', [{ introduced: '0' }])], { withdrawn: '2024-02-01T00:00:00Z' });
    expect(affects(w, q('a', '1.0.0'))).toEqual({ affected: false });
  });

  it('picks the lowest fix that is itself unaffected', () => {
    // Shape of GHSA-r683-j2x4-v87g as stored: [1.0, 3.1.1) and [0, 2.6.7).
    const nf = rec([npm('a', [{ introduced: '1.0' }, { fixed: '3.1.1' }]), npm('a', [{ introduced: '0' }, { fixed: '2.6.7' }])]);
    expect(affects(nf, q('a', '2.6.0')).fixedVersion).toBe('3.1.1');
    expect(affects(nf, q('a', '0.9.0')).fixedVersion).toBe('3.1.1'); // 2.6.7 is inside [1.0, 3.1.1)
    const two = rec([npm('a', [{ introduced: '0' }, { fixed: '1.0.0' }, { introduced: '2.0.0' }, { fixed: '2.1.0' }])]);
    expect(affects(two, q('a', '0.5.0')).fixedVersion).toBe('1.0.0');
    const none = rec([npm('a', [{ introduced: '0' }, { fixed: '2.0.0' }]), npm('a', [{ introduced: '1.5.0' }])]);
    expect(affects(none, q('a', '1.0.0'))).toMatchObject({ affected: true });
    expect(affects(none, q('a', '1.0.0')).fixedVersion).toBeUndefined();
  });

  it('uses Go ordering for SEMVER ranges of Go modules', () => {
    const g = rec([{ package: { ecosystem: 'Go', name: 'm' }, ranges: [{ type: 'SEMVER', events: [{ introduced: '0' }, { fixed: '1.2.0' }] }] }]);
    expect(affects(g, q('m', 'v1.1.9', 'Go'))).toMatchObject({ affected: true, fixedVersion: '1.2.0' });
    expect(affects(g, q('m', 'v1.2.0', 'Go')).affected).toBe(false);
  });

  it('refuses to evaluate an ECOSYSTEM range it has no comparator for', () => {
    const n = rec([{ package: { ecosystem: 'NuGet', name: 'x' }, ranges: [{ type: 'ECOSYSTEM', events: [{ introduced: '0' }] }] }]);
    expect(() => affects(n, q('x', '1.0', 'NuGet'))).toThrow(/unsupported OSV ecosystem "NuGet"/);
  });
});

describe('distribution matching', () => {
  const deb = (ecosystem: string, fixed: string): unknown => ({
    package: { ecosystem, name: 'glibc' },
    ranges: [{ type: 'ECOSYSTEM', events: [{ introduced: '0' }, { fixed }] }],
  });
  const r = rec([deb('Debian:12', '2.36-9+deb12u3')]);
  const pkg = (ecosystem: string, version: string): PackageQuery => ({ ecosystem, name: 'libc6', version, sourceName: 'glibc' });

  it('matches by source name and only within the release', () => {
    expect(affects(r, pkg('Debian:12', '2.36-9+deb12u2')).fixedVersion).toBe('2.36-9+deb12u3');
    expect(affects(r, pkg('Debian:13', '2.36-9+deb12u2')).affected).toBe(false);
    expect(affects(r, pkg('Debian', '2.36-9+deb12u2')).affected).toBe(false);
    expect(affects(r, { ecosystem: 'Debian:12', name: 'glibc', version: '2.36-9' }).affected).toBe(true);
    expect(affects(r, { ecosystem: 'Debian:12', name: 'glibc', version: '2.36-9', sourceName: 'other' }).affected).toBe(false);
  });

  it('lets an unscoped Debian record match every release', () => {
    const u = rec([deb('Debian', '2.36-9+deb12u3')]);
    expect(affects(u, pkg('Debian:12', '2.36-9')).affected).toBe(true);
    expect(affects(u, pkg('Debian:13', '2.36-9')).affected).toBe(true);
    expect(affects(u, pkg('Debian', '2.36-9')).affected).toBe(true);
  });

  it('compares the source version when given', () => {
    const p: PackageQuery = { ecosystem: 'Debian:12', name: 'libc6', version: '1:2.36-9', sourceName: 'glibc', sourceVersion: '2.36-9' };
    expect(affects(r, p).affected).toBe(true);
  });
});

describe('parseOsvRecord', () => {
  const ok = { id: 'X-1', modified: '2024-01-01T00:00:00.123Z' };
  it('accepts a minimal record and keeps known fields', () => {
    expect(parseOsvRecord({ ...ok, extra: 1 })).toEqual({ id: 'X-1', modified: '2024-01-01T00:00:00.123Z', affected: [] });
  });

  const range = (r: unknown): unknown => ({ ...ok, affected: [{ package: { ecosystem: 'npm', name: 'a' }, ranges: [r] }] });
  it.each([
    ['not an object', [], /\(root\): must be a JSON object/],
    ['no id', { modified: ok.modified }, /id: is required/],
    ['no modified', { id: 'X-1' }, /X-1: modified: is required/],
    ['bad timestamp', { ...ok, published: 'yesterday' }, /published: must be an RFC 3339 timestamp/],
    ['affected not an array', { ...ok, affected: {} }, /affected: must be an array/],
    ['package without name', { ...ok, affected: [{ package: { ecosystem: 'npm' } }] }, /affected\[0\]\.package\.name: is required/],
    ['versions not strings', { ...ok, affected: [{ versions: [1] }] }, /affected\[0\]\.versions: must be an array of strings/],
    ['unknown range type', range({ type: 'DATE', events: [{ introduced: '0' }] }), /ranges\[0\]\.type: must be one of/],
    ['GIT without repo', range({ type: 'GIT', events: [{ introduced: 'abc' }] }), /ranges\[0\]\.repo: is required/],
    ['empty events', range({ type: 'SEMVER', events: [] }), /events: must be a non-empty array/],
    ['two keys in one event', range({ type: 'SEMVER', events: [{ introduced: '0', fixed: '1.0.0' }] }), /events\[0\]: must have exactly one of/],
    ['no introduced', range({ type: 'SEMVER', events: [{ fixed: '1.0.0' }] }), /at least one "introduced"/],
    ['fixed and last_affected', range({ type: 'SEMVER', events: [{ introduced: '0' }, { fixed: '1' }, { last_affected: '2' }] }), /must not mix/],
    ['non-string event', range({ type: 'SEMVER', events: [{ introduced: 0 }] }), /events\[0\]\.introduced: must be a non-empty string/],
    ['severity without score', { ...ok, severity: [{ type: 'CVSS_V3' }] }, /severity\[0\]\.score: is required/],
  ])('refuses %s', (_name, json, message) => {
    expect(() => parseOsvRecord(json)).toThrow(OsvRecordError);
    expect(() => parseOsvRecord(json)).toThrow(message);
  });
});
