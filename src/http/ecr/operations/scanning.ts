/**
 * StartImageScan and DescribeImageScanFindings, and the scan fields of DescribeImages. The
 * findings page carries both of ECR's shapes for the same findings: the basic `findings`
 * (name, uri, severity, package attributes, CVSS) and `enhancedFindings` (package, installed
 * and fixed version, layer, CVSS, remediation), plus `findingSeverityCounts` over all of them.
 */
import { createHash } from 'node:crypto';
import type { FindingDetail, FindingPackage } from '../../../services/scanning/findings.js';
import type { ScanSummary } from '../../../services/scanning/scan-service.js';
import { checkRegistryId, type EcrCall, type EcrHandlers } from '../context.js';
import type { Attribute, EnhancedImageScanFinding, ImageIdentifier, ImageScanFinding, ImageScanFindingsSummary, ImageScanStatus, VulnerablePackage } from '../generated/ecr-model.js';
import { nextToken, readNextToken } from '../pagination.js';

const ref = (id: ImageIdentifier): { digest?: string; tag?: string } => ({
  ...(id.imageDigest !== undefined ? { digest: id.imageDigest } : {}),
  ...(id.imageTag !== undefined ? { tag: id.imageTag } : {}),
});

/** An attribute value is 1-256 characters in the model. */
const attr = (key: string, value: string | number | undefined): Attribute[] => (value === undefined || value === '' ? [] : [{ key, value: String(value).slice(0, 256) }]);

const iso = (s: string | undefined): Date | undefined => (s === undefined || Number.isNaN(Date.parse(s)) ? undefined : new Date(s));

export function scanStatusOf(s: ScanSummary): ImageScanStatus {
  return { status: s.status, ...(s.description ? { description: s.description } : {}) };
}

export function findingsSummaryOf(s: ScanSummary): ImageScanFindingsSummary | undefined {
  if (!s.counts) return undefined;
  return {
    ...(s.completedAt !== null ? { imageScanCompletedAt: new Date(s.completedAt) } : {}),
    ...(s.sourceUpdatedAt !== null ? { vulnerabilitySourceUpdatedAt: new Date(s.sourceUpdatedAt) } : {}),
    findingSeverityCounts: s.counts,
  };
}

/** Inspector's package manager names (what ECR enhanced findings carry). */
function packageManager(p: FindingPackage): string {
  switch (p.extractor) {
    case 'dpkg':
    case 'apk':
    case 'rpm':
      return 'OS';
    case 'npm':
      return p.fromLockfile ? 'NPM' : 'NODEPKG';
    case 'python':
      return p.fromLockfile ? 'PIP' : 'PYTHONPKG';
    case 'go-binary':
      return 'GOBINARY';
    case 'cargo':
      return 'CARGO';
    case 'java':
      return 'JAR';
    case 'ruby':
      return p.fromLockfile ? 'BUNDLER' : 'GEMSPEC';
    default:
      return p.extractor.toUpperCase();
  }
}

function vulnerablePackage(f: FindingDetail): VulnerablePackage {
  const p = f.package;
  // rpm versions carry their epoch as `E:`; dpkg's stays in the version string, as dpkg prints it.
  const epoch = p.extractor === 'rpm' ? /^(\d+):/.exec(p.version)?.[1] : undefined;
  return {
    name: p.name,
    version: p.version,
    ...(f.fixedVersion !== undefined ? { fixedInVersion: f.fixedVersion } : {}),
    packageManager: packageManager(p),
    filePath: p.innerPath ? `${p.path}!${p.innerPath}` : p.path,
    sourceLayerHash: p.layerDigest,
    ...(p.arch ? { arch: p.arch } : {}),
    ...(epoch !== undefined ? { epoch: Number(epoch) } : {}),
    ...(p.sourceName ? { release: p.ecosystem } : {}),
  };
}

function basicFinding(f: FindingDetail): ImageScanFinding {
  return {
    name: f.vulnId,
    ...(f.summary || f.details ? { description: (f.summary ?? f.details ?? '').slice(0, 4096) } : {}),
    uri: f.uri,
    severity: f.severity,
    attributes: [
      ...attr('package_version', f.package.version),
      ...attr('package_name', f.package.name),
      ...attr('package_ecosystem', f.package.ecosystem),
      ...attr('fixed_version', f.fixedVersion),
      ...attr('CVSS3_SCORE', f.cvss?.score),
      ...attr('CVSS3_VECTOR', f.cvss?.vector),
      ...attr('aliases', f.aliases.join(' ')),
    ],
  };
}

function enhancedFinding(call: EcrCall, repository: string, digest: string, tags: string[] | undefined, indexedAt: number, f: FindingDetail): EnhancedImageScanFinding {
  const { id: account, region } = call.services.account;
  const hash = createHash('sha256').update(`${digest}\0${f.vulnId}\0${f.package.path}\0${f.package.name}\0${f.package.version}`).digest('hex').slice(0, 32);
  const cvss = f.cvss ? [{ baseScore: f.cvss.score, scoringVector: f.cvss.vector, source: f.vulnId.split('-')[0] ?? 'OSV', version: f.cvss.version }] : [];
  const observed = new Date(Math.max(f.firstSeenAt, indexedAt));
  return {
    awsAccountId: account,
    ...(f.summary || f.details ? { description: (f.details ?? f.summary ?? '').slice(0, 4096) } : {}),
    findingArn: `arn:aws:inspector2:${region}:${account}:finding/${hash}`,
    firstObservedAt: observed,
    lastObservedAt: new Date(call.services.now()),
    updatedAt: new Date(call.services.now()),
    packageVulnerabilityDetails: {
      cvss,
      referenceUrls: f.references,
      relatedVulnerabilities: f.aliases,
      source: f.vulnId.split('-')[0] ?? 'OSV',
      sourceUrl: f.uri,
      ...(iso(f.published) ? { vendorCreatedAt: iso(f.published)! } : {}),
      ...(iso(f.modified) ? { vendorUpdatedAt: iso(f.modified)! } : {}),
      vendorSeverity: f.vendorStatus ? `${f.severity} (${f.vendorStatus})` : f.severity,
      vulnerabilityId: f.vulnId,
      vulnerablePackages: [vulnerablePackage(f)],
    },
    remediation: {
      recommendation: {
        text: f.fixedVersion !== undefined ? `Upgrade ${f.package.name} to ${f.fixedVersion} or later.` : `No fixed version of ${f.package.name} is known yet${f.vendorStatus ? ` (${f.vendorStatus})` : ''}.`,
        url: f.uri,
      },
    },
    resources: [
      {
        type: 'AWS_ECR_CONTAINER_IMAGE',
        id: `arn:aws:ecr:${region}:${account}:repository/${repository}/${digest}`,
        details: {
          awsEcrContainerImage: {
            registry: account,
            repositoryName: repository,
            imageHash: digest,
            ...(tags && tags.length > 0 ? { imageTags: tags } : {}),
            ...(f.package.platform ? { platform: f.package.platform, architecture: f.package.platform.split('/')[1] ?? f.package.platform } : {}),
          },
        },
      },
    ],
    ...(f.cvss ? { score: f.cvss.score, scoreDetails: { cvss: { score: f.cvss.score, scoringVector: f.cvss.vector, version: f.cvss.version, scoreSource: f.vulnId } } } : {}),
    severity: f.severity,
    status: 'ACTIVE',
    title: `${f.vulnId} - ${f.package.name}`,
    type: 'PACKAGE_VULNERABILITY',
    fixAvailable: f.fixAvailable,
  };
}

export const scanningHandlers: EcrHandlers = {
  async StartImageScan(call, input) {
    checkRegistryId(call, input.registryId);
    const r = await call.services.scanning.start(input.repositoryName, ref(input.imageId));
    return {
      registryId: call.services.account.id,
      repositoryName: input.repositoryName,
      imageId: { imageDigest: r.digest, ...(r.tag !== undefined ? { imageTag: r.tag } : {}) },
      imageScanStatus: { status: r.status, ...(r.description ? { description: r.description } : {}) },
    };
  },

  async DescribeImageScanFindings(call, input) {
    checkRegistryId(call, input.registryId);
    const scope = `${input.repositoryName}@${input.imageId.imageDigest ?? ''}:${input.imageId.imageTag ?? ''}`;
    const after = await readNextToken(call, 'DescribeImageScanFindings', scope, input.nextToken);
    const page = await call.services.scanning.findings(input.repositoryName, ref(input.imageId), { limit: input.maxResults ?? 100, ...(after !== undefined ? { after } : {}) });
    const imageId = { imageDigest: page.digest, ...(input.imageId.imageTag !== undefined ? { imageTag: input.imageId.imageTag } : {}) };
    const out = { registryId: call.services.account.id, repositoryName: input.repositoryName, imageId, imageScanStatus: scanStatusOf(page.summary) };
    if (!page.findings) return out;
    const tags = input.imageId.imageTag !== undefined ? [input.imageId.imageTag] : undefined;
    return {
      ...out,
      imageScanFindings: {
        ...findingsSummaryOf(page.summary),
        findings: page.findings.map(basicFinding),
        enhancedFindings: page.findings.map((f) => enhancedFinding(call, input.repositoryName, page.digest, tags, page.indexedAt ?? 0, f)),
      },
      ...(page.next !== undefined ? { nextToken: await nextToken(call, 'DescribeImageScanFindings', scope, page.next) } : {}),
    };
  },
};

/** DescribeImages' scan fields of each image (absent for an image never scanned). */
export async function scanFieldsOf(call: EcrCall, repositoryId: number, digests: string[]): Promise<Map<string, { imageScanStatus: ImageScanStatus; imageScanFindingsSummary?: ImageScanFindingsSummary }>> {
  const summaries = await call.services.scanning.summaries(repositoryId, digests);
  const out = new Map<string, { imageScanStatus: ImageScanStatus; imageScanFindingsSummary?: ImageScanFindingsSummary }>();
  for (const [digest, s] of summaries) {
    const summary = findingsSummaryOf(s);
    out.set(digest, { imageScanStatus: scanStatusOf(s), ...(summary ? { imageScanFindingsSummary: summary } : {}) });
  }
  return out;
}
