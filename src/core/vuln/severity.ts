/**
 * Severity of OSV findings, in Amazon ECR's scale, and the reporting policy.
 *
 * Sources, first usable one wins:
 * 1. the vendor's own rating of the package in the matched `affected[]` entry
 *    (`ecosystem_specific.urgency`, Debian's tracker urgency, or
 *    `ecosystem_specific.severity`): the distribution rates its own build;
 * 2. a CVSS v3.0/v3.1 vector in `affected[].severity`, then in `severity`:
 *    the base score from the specification's formula, mapped by ECR's bands
 *    (CRITICAL >= 9.0, HIGH >= 7.0, MEDIUM >= 4.0, LOW >= 0.1, else
 *    INFORMATIONAL). CVSS v2 and v4 vectors are not scored;
 * 3. a label in `affected[].database_specific.severity`, then
 *    `database_specific.severity` (GitHub: LOW / MODERATE / HIGH / CRITICAL);
 * 4. otherwise UNDEFINED. A label that maps to UNDEFINED (Debian's
 *    `not yet assigned`) counts as absent and lets later sources decide.
 *
 * Reporting policy ({@link assess}):
 * - a record that affects the package is reported unless withdrawn;
 * - advisories with no fix yet - no `fixed` event for the range, e.g. Debian
 *   tracker `<unfixed>`, `<no-dsa>`, `<postponed>`, `<ignored>`,
 *   `<end-of-life>` - ARE reported, with no `fixedVersion` and
 *   `fixAvailable: 'NO'`; the tracker status is passed on as `vendorStatus`;
 * - Debian `unimportant` issues ARE reported, as INFORMATIONAL (ECR's bucket
 *   for issues the vendor rates negligible), so they stay visible and countable
 *   but never reach a LOW-or-above threshold; callers filter by severity.
 */

import { affects, type OsvAffected, type OsvRecord, type OsvSeverity, type PackageQuery } from './osv.js';

/** ECR finding severities. */
export type Severity = 'CRITICAL' | 'HIGH' | 'MEDIUM' | 'LOW' | 'INFORMATIONAL' | 'UNDEFINED';

const WEIGHTS: Record<string, Record<string, number>> = {
  AV: { N: 0.85, A: 0.62, L: 0.55, P: 0.2 },
  AC: { L: 0.77, H: 0.44 },
  PR: { N: 0.85, L: 0.62, H: 0.27 },
  UI: { N: 0.85, R: 0.62 },
  S: { U: 0, C: 1 },
  C: { H: 0.56, L: 0.22, N: 0 },
  I: { H: 0.56, L: 0.22, N: 0 },
  A: { H: 0.56, L: 0.22, N: 0 },
};
/** Temporal and environmental metrics: allowed in a vector, irrelevant to the base score. */
const OTHER = new Set(['E', 'RL', 'RC', 'CR', 'IR', 'AR', 'MAV', 'MAC', 'MPR', 'MUI', 'MS', 'MC', 'MI', 'MA']);

/** CVSS v3.1 Roundup (specification Appendix A): avoids floating-point artefacts. */
function roundup31(x: number): number {
  const i = Math.round(x * 100000);
  return i % 10000 === 0 ? i / 100000 : (Math.floor(i / 10000) + 1) / 10;
}

/** CVSS v3.0 round up: the smallest one-decimal number >= x. */
const roundup30 = (x: number): number => Math.ceil(x * 10) / 10;

/**
 * The CVSS v3.0/v3.1 base score of a vector such as
 * `CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H` (9.8).
 * @throws Error when the vector is not a complete, well-formed v3 vector.
 */
export function cvss3BaseScore(vector: string): number {
  const parts = vector.trim().split('/');
  const version = /^CVSS:3\.([01])$/.exec(parts[0] ?? '')?.[1];
  if (version === undefined) throw new Error(`not a CVSS v3 vector: "${vector}"`);
  const m: Record<string, string> = {};
  for (const p of parts.slice(1)) {
    const [k, v, extra] = p.split(':');
    if (k === undefined || v === undefined || extra !== undefined || k in m) throw new Error(`bad CVSS metric "${p}" in "${vector}"`);
    if (WEIGHTS[k] ? WEIGHTS[k][v] === undefined : !OTHER.has(k)) throw new Error(`bad CVSS metric "${p}" in "${vector}"`);
    m[k] = v;
  }
  const w = (k: string): number => {
    const v = m[k];
    const x = v === undefined ? undefined : WEIGHTS[k]?.[v];
    if (x === undefined) throw new Error(`CVSS vector lacks base metric ${k}: "${vector}"`);
    return x;
  };
  const changed = w('S') === 1;
  const pr = changed && m.PR === 'L' ? 0.68 : changed && m.PR === 'H' ? 0.5 : w('PR');
  const iss = 1 - (1 - w('C')) * (1 - w('I')) * (1 - w('A'));
  const impact = changed ? 7.52 * (iss - 0.029) - 3.25 * (iss - 0.02) ** 15 : 6.42 * iss;
  const exploitability = 8.22 * w('AV') * w('AC') * pr * w('UI');
  if (impact <= 0) return 0;
  const roundup = version === '1' ? roundup31 : roundup30;
  return roundup(Math.min(changed ? 1.08 * (impact + exploitability) : impact + exploitability, 10));
}

/** ECR's band for a CVSS score. */
export function severityFromScore(score: number): Severity {
  if (score >= 9.0) return 'CRITICAL';
  if (score >= 7.0) return 'HIGH';
  if (score >= 4.0) return 'MEDIUM';
  if (score >= 0.1) return 'LOW';
  return 'INFORMATIONAL';
}

const LABELS: Record<string, Severity> = {
  critical: 'CRITICAL',
  important: 'HIGH', // Red Hat
  high: 'HIGH',
  moderate: 'MEDIUM', // GitHub, Red Hat
  medium: 'MEDIUM',
  low: 'LOW',
  unimportant: 'INFORMATIONAL', // Debian tracker
  negligible: 'INFORMATIONAL', // Ubuntu
  informational: 'INFORMATIONAL',
  none: 'INFORMATIONAL',
  'not yet assigned': 'UNDEFINED', // Debian tracker
  untriaged: 'UNDEFINED', // Ubuntu
  unknown: 'UNDEFINED',
};

/** Maps a textual rating (GitHub, Debian urgency - `low**` included -, Ubuntu, Red Hat) to ECR's scale; UNDEFINED if unknown. */
export function severityFromLabel(label: string): Severity {
  return LABELS[label.trim().replace(/\*+$/, '').trim().toLowerCase()] ?? 'UNDEFINED';
}

/** A resolved severity and where it came from. */
export interface SeverityInfo {
  severity: Severity;
  /** CVSS base score, when the severity came from a vector. */
  score?: number;
  /** `vendor`, `cvss` or `label`; absent for UNDEFINED. */
  source?: 'vendor' | 'cvss' | 'label';
  vector?: string;
}

const label = (o: Record<string, unknown> | undefined, key: string): Severity => {
  const v = o?.[key];
  return typeof v === 'string' ? severityFromLabel(v) : 'UNDEFINED';
};

function fromCvss(list: OsvSeverity[] | undefined): SeverityInfo | undefined {
  for (const s of list ?? []) {
    if (s.type !== 'CVSS_V3') continue;
    try {
      const score = cvss3BaseScore(s.score);
      return { severity: severityFromScore(score), score, source: 'cvss', vector: s.score };
    } catch {
      // a malformed vector is skipped; the next source decides
    }
  }
  return undefined;
}

/** The severity of `record` for the matched `entry`, by the precedence in the module comment. */
export function recordSeverity(record: OsvRecord, entry?: OsvAffected): SeverityInfo {
  for (const key of ['urgency', 'severity']) {
    const s = label(entry?.ecosystem_specific, key);
    if (s !== 'UNDEFINED') return { severity: s, source: 'vendor' };
  }
  const cvss = fromCvss(entry?.severity) ?? fromCvss(record.severity);
  if (cvss) return cvss;
  for (const s of [label(entry?.database_specific, 'severity'), label(record.database_specific, 'severity')]) {
    if (s !== 'UNDEFINED') return { severity: s, source: 'label' };
  }
  return { severity: 'UNDEFINED' };
}

/** A reportable finding: one record affecting one package. */
export interface Finding extends SeverityInfo {
  id: string;
  aliases: string[];
  fixAvailable: 'YES' | 'NO';
  fixedVersion?: string;
  /** The vendor's tracker status for no-fix advisories (Debian: `unfixed`, `no-dsa`, `ignored`, ...). */
  vendorStatus?: string;
}

/** Applies {@link affects} and the reporting policy; undefined when nothing is to be reported. */
export function assess(record: OsvRecord, pkg: PackageQuery): Finding | undefined {
  const r = affects(record, pkg);
  if (!r.affected) return undefined;
  const f: Finding = { id: record.id, aliases: record.aliases ?? [], ...recordSeverity(record, r.entry), fixAvailable: 'NO' };
  if (r.fixedVersion !== undefined) Object.assign(f, { fixedVersion: r.fixedVersion, fixAvailable: 'YES' });
  const status = r.entry?.ecosystem_specific?.tracker_status;
  if (typeof status === 'string') f.vendorStatus = status;
  return f;
}
