import { describe, expect, it } from 'vitest';
import { parseOsvRecord, type OsvRecord } from './osv.js';
import { assess, cvss3BaseScore, recordSeverity, severityFromLabel, severityFromScore } from './severity.js';

// Scores as published by NVD / the FIRST CVSS v3.1 calculator for these vectors.
const VECTORS: [string, number, string][] = [
  ['CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H', 9.8, 'brief'],
  ['CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:C/C:H/I:H/A:H', 10.0, 'brief; CVE-2021-44228'],
  ['CVSS:3.1/AV:L/AC:L/PR:L/UI:N/S:U/C:H/I:N/A:N', 5.5, 'brief'],
  ['CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:N/A:N', 7.5, 'CVE-2014-0160'],
  ['CVSS:3.1/AV:L/AC:L/PR:L/UI:N/S:U/C:H/I:H/A:H', 7.8, 'CVE-2021-3156'],
  ['CVSS:3.1/AV:N/AC:L/PR:H/UI:N/S:U/C:H/I:H/A:H', 7.2, 'CVE-2021-23337 (GHSA-35jh-r3h4-6jhm)'],
  ['CVSS:3.0/AV:N/AC:L/PR:L/UI:N/S:U/C:H/I:H/A:H', 8.8, 'CVE-2022-0235 (GHSA-r683-j2x4-v87g), v3.0'],
  ['CVSS:3.1/AV:N/AC:L/PR:N/UI:R/S:C/C:L/I:L/A:N', 6.1, 'typical reflected XSS'],
  ['CVSS:3.1/AV:L/AC:L/PR:N/UI:N/S:C/C:H/I:H/A:H', 9.3, 'CVE-2023-45133 (GHSA-67hx-6x53-jw92)'],
  ['CVSS:3.1/AV:N/AC:L/PR:L/UI:N/S:C/C:H/I:H/A:H', 9.9, 'scope changed raises PR:L to 0.68'],
  ['CVSS:3.1/AV:N/AC:H/PR:N/UI:N/S:U/C:H/I:N/A:N', 5.9, 'NVD'],
  ['CVSS:3.1/AV:P/AC:H/PR:H/UI:R/S:U/C:L/I:N/A:N', 1.6, 'lowest weights'],
  ['CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:N/I:N/A:N', 0.0, 'no impact scores 0'],
  ['CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H/E:U/RL:O/RC:C', 9.8, 'temporal metrics do not change the base score'],
];

describe('CVSS v3 base score', () => {
  it.each(VECTORS)('%s = %d (%s)', (vector, score) => {
    expect(cvss3BaseScore(vector)).toBe(score);
  });

  it.each([
    'CVSS:2.0/AV:N/AC:L/Au:N/C:P/I:P/A:P',
    'CVSS:4.0/AV:N/AC:L/AT:N/PR:N/UI:N/VC:N/VI:N/VA:H/SC:N/SI:N/SA:N',
    'CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H',
    'CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:X',
    'CVSS:3.1/AV:N/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H',
    'AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H',
  ])('refuses %s', (vector) => {
    expect(() => cvss3BaseScore(vector)).toThrow();
  });

  it('maps scores to ECR bands', () => {
    expect([9.0, 8.9, 7.0, 6.9, 4.0, 3.9, 0.1, 0.0].map(severityFromScore)).toEqual([
      'CRITICAL', 'HIGH', 'HIGH', 'MEDIUM', 'MEDIUM', 'LOW', 'LOW', 'INFORMATIONAL',
    ]);
  });
});

describe('severity labels', () => {
  it.each([
    ['CRITICAL', 'CRITICAL'],
    ['HIGH', 'HIGH'],
    ['MODERATE', 'MEDIUM'],
    ['LOW', 'LOW'],
    ['unimportant', 'INFORMATIONAL'],
    ['low**', 'LOW'],
    ['medium', 'MEDIUM'],
    ['not yet assigned', 'UNDEFINED'],
    ['Important', 'HIGH'],
    ['negligible', 'INFORMATIONAL'],
    ['whatever', 'UNDEFINED'],
  ])('%s → %s', (label, sev) => {
    expect(severityFromLabel(label)).toBe(sev);
  });
});

const base = { id: 'T-1', modified: '2024-01-01T00:00:00Z' };
const entry = (more: Record<string, unknown> = {}): Record<string, unknown> => ({
  package: { ecosystem: 'Debian:12', name: 'src' },
  ranges: [{ type: 'ECOSYSTEM', events: [{ introduced: '0' }] }],
  ...more,
});
const mk = (json: Record<string, unknown>): OsvRecord => parseOsvRecord({ ...base, ...json });
const pkg = { ecosystem: 'Debian:12', name: 'bin', version: '1.0-1', sourceName: 'src' };

describe('severity precedence', () => {
  it('prefers the vendor rating, then CVSS, then labels', () => {
    const cvss = [{ type: 'CVSS_V3', score: 'CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H' }];
    const r = mk({ severity: cvss, database_specific: { severity: 'LOW' }, affected: [entry({ ecosystem_specific: { urgency: 'unimportant' } })] });
    expect(recordSeverity(r, r.affected[0])).toEqual({ severity: 'INFORMATIONAL', source: 'vendor' });
    const r2 = mk({ severity: cvss, database_specific: { severity: 'LOW' }, affected: [entry({ ecosystem_specific: { urgency: 'not yet assigned' } })] });
    expect(recordSeverity(r2, r2.affected[0])).toMatchObject({ severity: 'CRITICAL', score: 9.8, source: 'cvss' });
    const r3 = mk({ severity: [{ type: 'CVSS_V4', score: 'CVSS:4.0/AV:N' }], database_specific: { severity: 'MODERATE' }, affected: [entry()] });
    expect(recordSeverity(r3, r3.affected[0])).toEqual({ severity: 'MEDIUM', source: 'label' });
    expect(recordSeverity(mk({ affected: [entry()] }))).toEqual({ severity: 'UNDEFINED' });
  });
});

describe('reporting policy', () => {
  it('reports a no-fix OS advisory without a fixed version', () => {
    const r = mk({ affected: [entry({ ecosystem_specific: { tracker_status: 'no-dsa', urgency: 'low' } })] });
    expect(assess(r, pkg)).toEqual({ id: 'T-1', aliases: [], severity: 'LOW', source: 'vendor', fixAvailable: 'NO', vendorStatus: 'no-dsa' });
  });

  it('reports Debian unimportant issues as INFORMATIONAL', () => {
    const r = mk({ aliases: ['CVE-1'], affected: [entry({ ecosystem_specific: { tracker_status: 'unfixed', urgency: 'unimportant' } })] });
    expect(assess(r, pkg)).toMatchObject({ severity: 'INFORMATIONAL', fixAvailable: 'NO', aliases: ['CVE-1'] });
  });

  it('reports fixed advisories with the fixed version, and nothing once fixed or withdrawn', () => {
    const fixed = entry({ ranges: [{ type: 'ECOSYSTEM', events: [{ introduced: '0' }, { fixed: '1.0-2' }] }] });
    expect(assess(mk({ affected: [fixed] }), pkg)).toMatchObject({ fixAvailable: 'YES', fixedVersion: '1.0-2' });
    expect(assess(mk({ affected: [fixed] }), { ...pkg, version: '1.0-2' })).toBeUndefined();
    expect(assess(mk({ withdrawn: '2024-02-01T00:00:00Z', affected: [fixed] }), pkg)).toBeUndefined();
  });
});
