/**
 * `berth scan IMAGE`: the vulnerability findings of an image in a running Berth. Uses the
 * existing scan when there is one (the server keeps findings current as its vulnerability
 * database changes), else starts one (StartImageScan) and waits, showing on stderr how much of
 * the layers has been read when stderr is a terminal. Prints the findings grouped by severity,
 * or `--output json`: DescribeImageScanFindings' response with every page merged.
 * Exit codes: 0, 1 when the scan failed or the call did, 3 when `--fail-on` finds a finding
 * at or above that severity.
 */
import { Command, InvalidArgumentError, Option } from 'commander';
import type { DescribeImageScanFindingsCommandOutput, EnhancedImageScanFinding, ImageIdentifier } from '@aws-sdk/client-ecr';
import { USAGE_EXIT_CODE, runWith, usageError, withGlobalOptions, type Session } from './client.js';
import { printJson, renderTable, timestamp } from './format.js';

export const SEVERITIES = ['CRITICAL', 'HIGH', 'MEDIUM', 'LOW', 'INFORMATIONAL', 'UNDEFINED'] as const;

/** `team/app:v1`, `team/app@sha256:…`, `team/app` (tag latest); a leading registry host (`127.0.0.1:5000/`) is dropped. */
export function parseImage(cmd: Command, image: string): { repositoryName: string; imageId: ImageIdentifier } {
  let rest = image.trim();
  const first = rest.split('/')[0] ?? '';
  if (rest.includes('/') && (first.includes('.') || first.includes(':') || first === 'localhost')) rest = rest.slice(first.length + 1);
  const at = rest.indexOf('@');
  if (at >= 0) return { repositoryName: rest.slice(0, at), imageId: { imageDigest: rest.slice(at + 1) } };
  const colon = rest.lastIndexOf(':');
  if (colon > rest.lastIndexOf('/')) return { repositoryName: rest.slice(0, colon), imageId: { imageTag: rest.slice(colon + 1) } };
  if (rest === '') return usageError(cmd, 'an image is required (REPOSITORY[:TAG] or REPOSITORY@DIGEST)');
  return { repositoryName: rest, imageId: { imageTag: 'latest' } };
}

const isName = (err: unknown, name: string): boolean => err instanceof Error && err.name === name;

type Findings = DescribeImageScanFindingsCommandOutput;

/** A one-line bar from the server's progress description (`Reading layers: 42% (…)`), redrawn in place. */
function progressLine(status: string, description: string | undefined): string {
  const pct = /(\d+)%/.exec(description ?? '')?.[1];
  if (pct === undefined) return `${status.toLowerCase().replace('_', ' ')}${description ? `: ${description}` : ''}`;
  const width = 30;
  const filled = Math.round((Number(pct) / 100) * width);
  return `[${'#'.repeat(filled)}${'.'.repeat(width - filled)}] ${description ?? ''}`;
}

/** Starts a scan when there is none (or `rescan`), then polls until it has a result; returns the first page. */
export async function scanAndWait(
  session: Session,
  target: { repositoryName: string; imageId: ImageIdentifier },
  o: { rescan?: boolean; timeoutMs: number; pollMs?: number },
): Promise<Findings> {
  const describe = (): Promise<Findings> => session.ecr.send(new session.sdk.DescribeImageScanFindingsCommand({ ...target, maxResults: 1000 }));
  let start = o.rescan ?? false;
  try {
    if (!start) await describe();
  } catch (err) {
    if (!isName(err, 'ScanNotFoundException')) throw err;
    start = true;
  }
  if (start) {
    try {
      await session.ecr.send(new session.sdk.StartImageScanCommand(target));
    } catch (err) {
      // Scanned too recently to scan again: the existing (and kept current) result is used.
      if (!isName(err, 'LimitExceededException')) throw err;
      process.stderr.write(`berth: ${err instanceof Error ? err.message : String(err)}; showing the existing results\n`);
    }
  }
  const tty = process.stderr.isTTY === true;
  const deadline = Date.now() + o.timeoutMs;
  for (;;) {
    const out = await describe();
    const status = out.imageScanStatus?.status ?? 'PENDING';
    if (status !== 'PENDING' && status !== 'IN_PROGRESS') {
      if (tty) process.stderr.write('\r\x1b[K');
      return out;
    }
    if (Date.now() > deadline) throw new Error(`the scan is still ${status} after ${Math.round(o.timeoutMs / 1000)} s`);
    if (tty) process.stderr.write(`\r\x1b[K${progressLine(status, out.imageScanStatus?.description)}`);
    await new Promise((r) => setTimeout(r, o.pollMs ?? 500));
  }
}

/** Every page of findings, merged (both shapes), as the SDK parsed them and as the server sent them. */
async function allFindings(session: Session, target: { repositoryName: string; imageId: ImageIdentifier }, first: Findings): Promise<{ out: Findings; raw: Record<string, unknown> }> {
  const merged = { ...first, imageScanFindings: { ...first.imageScanFindings, findings: [...(first.imageScanFindings?.findings ?? [])], enhancedFindings: [...(first.imageScanFindings?.enhancedFindings ?? [])] } };
  // The first page again, for its raw JSON (the poll loop consumed the one recorded).
  await session.ecr.send(new session.sdk.DescribeImageScanFindingsCommand({ ...target, maxResults: 1000 }));
  const raw = session.takeRaw();
  const rawFindings = raw['imageScanFindings'] as { findings?: unknown[]; enhancedFindings?: unknown[] } | undefined;
  let token = first.nextToken;
  while (token) {
    const page = await session.ecr.send(new session.sdk.DescribeImageScanFindingsCommand({ ...target, maxResults: 1000, nextToken: token }));
    const pageRaw = session.takeRaw()['imageScanFindings'] as { findings?: unknown[]; enhancedFindings?: unknown[] } | undefined;
    merged.imageScanFindings.findings.push(...(page.imageScanFindings?.findings ?? []));
    merged.imageScanFindings.enhancedFindings.push(...(page.imageScanFindings?.enhancedFindings ?? []));
    if (rawFindings) {
      rawFindings.findings = [...(rawFindings.findings ?? []), ...(pageRaw?.findings ?? [])];
      rawFindings.enhancedFindings = [...(rawFindings.enhancedFindings ?? []), ...(pageRaw?.enhancedFindings ?? [])];
    }
    token = page.nextToken;
  }
  delete raw['nextToken'];
  delete merged.nextToken;
  return { out: merged, raw };
}

function findingRow(f: EnhancedImageScanFinding): string[] {
  const p = f.packageVulnerabilityDetails?.vulnerablePackages?.[0];
  return [f.packageVulnerabilityDetails?.vulnerabilityId ?? '-', p?.name ?? '-', p?.version ?? '-', p?.fixedInVersion ?? '-', p?.filePath ?? '-'];
}

export function renderFindings(out: Findings): string {
  const enhanced = out.imageScanFindings?.enhancedFindings ?? [];
  const parts: string[] = [];
  for (const sev of SEVERITIES) {
    const rows = enhanced.filter((f) => f.severity === sev).map(findingRow);
    if (rows.length === 0) continue;
    parts.push(`${sev} (${rows.length})\n${renderTable(['VULNERABILITY', 'PACKAGE', 'INSTALLED', 'FIXED IN', 'PATH'], rows)}`);
  }
  const counts = out.imageScanFindings?.findingSeverityCounts ?? {};
  const total = Object.values(counts).reduce((n, c) => n + (c ?? 0), 0);
  const byLevel = SEVERITIES.filter((s) => (counts[s] ?? 0) > 0).map((s) => `${counts[s]} ${s}`);
  const status = out.imageScanStatus?.status ?? '-';
  parts.push(
    `${total} finding${total === 1 ? '' : 's'}${byLevel.length > 0 ? ` (${byLevel.join(', ')})` : ''} in ${out.repositoryName}@${out.imageId?.imageDigest ?? '-'}; ` +
      `scan ${status}, completed ${timestamp(out.imageScanFindings?.imageScanCompletedAt)}, vulnerability data of ${timestamp(out.imageScanFindings?.vulnerabilitySourceUpdatedAt)}\n`,
  );
  return parts.join('\n');
}

const severityOption = (value: string): string => {
  const v = value.toUpperCase();
  if (!(SEVERITIES as readonly string[]).includes(v)) throw new InvalidArgumentError(`expected one of ${SEVERITIES.join(', ')}`);
  return v;
};

export function scanCommand(): Command {
  const cmd = new Command('scan')
    .description('show the vulnerability findings of an image (scanning it first when it never was), grouped by severity')
    .argument('<image>', 'REPOSITORY[:TAG] or REPOSITORY@DIGEST')
    .option('--rescan', 'start a new scan even when there is a result (ECR allows one per image per 24 h)')
    .option('--timeout <seconds>', 'how long to wait for the scan', '600')
    .addOption(new Option('--fail-on <severity>', 'exit 3 when a finding is at least this severe').argParser(severityOption));
  withGlobalOptions(cmd);
  // A top-level command: usage errors exit 2 like those of the command groups.
  cmd.exitOverride((err) => process.exit(err.exitCode === 0 ? 0 : USAGE_EXIT_CODE));
  return cmd.action(
    runWith(async (session, c) => {
      const opts = c.opts<{ rescan?: boolean; timeout: string; failOn?: string }>();
      const timeout = Number(opts.timeout);
      if (!Number.isFinite(timeout) || timeout <= 0) usageError(c, '--timeout must be a positive number of seconds');
      const target = parseImage(c, c.args[0] as string);
      const first = await scanAndWait(session, target, { ...(opts.rescan ? { rescan: true } : {}), timeoutMs: timeout * 1000 });
      const { out, raw } = await allFindings(session, target, first);
      if (session.output === 'json') printJson(raw);
      else process.stdout.write(renderFindings(out));
      const status = out.imageScanStatus?.status;
      if (status !== 'COMPLETE') {
        process.stderr.write(`berth: the scan is ${status ?? 'unknown'}${out.imageScanStatus?.description ? `: ${out.imageScanStatus.description}` : ''}\n`);
        return 1;
      }
      if (opts.failOn) {
        const limit = SEVERITIES.indexOf(opts.failOn as (typeof SEVERITIES)[number]);
        const counts = out.imageScanFindings?.findingSeverityCounts ?? {};
        if (SEVERITIES.slice(0, limit + 1).some((s) => (counts[s] ?? 0) > 0)) return 3;
      }
      return 0;
    }),
  );
}
