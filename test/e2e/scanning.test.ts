/**
 * Image scanning end to end: images built here from the real fixtures in ../shared/fixtures
 * (Debian 12 dpkg status and os-release, the npm app, Python dist-packages, buf's Go build
 * info), pushed with skopeo to a running Berth that scans on push, advisories from
 * ../shared/vulndb imported with `berth vulndb import` while the server runs. The findings are
 * compared package by package with what the advisories imply for the packages the fixtures'
 * own listings name (dpkg-query output, the lockfile, the Python table, `go version -m`), and
 * cases that must not be flagged are checked by name. Read through @aws-sdk/client-ecr and
 * the awscli v2.
 */
import { rename } from 'node:fs/promises';
import { join } from 'node:path';
import {
  CreateRepositoryCommand,
  DescribeImageScanFindingsCommand,
  DescribeImagesCommand,
  ECRClient,
  PutRegistryScanningConfigurationCommand,
  StartImageScanCommand,
  type DescribeImageScanFindingsCommandOutput,
  type EnhancedImageScanFinding,
  type ImageIdentifier,
  type ImageScanFinding,
} from '@aws-sdk/client-ecr';
import { afterAll, expect, it } from 'vitest';
import { Cleanup, makeTempDir, run, setupSuite, which } from '../support/clients.js';
import { writeImageLayout, writeIndexLayout, type WrittenImage } from '../support/oci-layout.js';
import { appLayer, baseLayer, expectedFindings, expectedPackages, loadAdvisories, scanningSuite, PERL_AFTER, upgradeLayer, VULNDB, VULNDB_FOLDERS } from '../support/scan-fixtures.js';
import { REPO_ROOT, TEST_ROOT_CREDENTIALS, dumpServerLogsOnFailure, startBerth, type RunningServer } from '../support/server.js';
import { Skopeo } from '../support/tools.js';

const BIN = join(REPO_ROOT, 'bin', 'berth.js');
const suite = scanningSuite();

const cleanup = new Cleanup();
let server: RunningServer;
let ecr: ECRClient;
let skopeo: Skopeo;
let layout: string;
let v1: WrittenImage;

const ROOT_ENV = { AWS_ACCESS_KEY_ID: TEST_ROOT_CREDENTIALS.accessKeyId, AWS_SECRET_ACCESS_KEY: TEST_ROOT_CREDENTIALS.secretAccessKey, AWS_REGION: 'us-east-1' };
const cliEnv = (): NodeJS.ProcessEnv => {
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) if (!k.startsWith('AWS_') && !k.startsWith('BERTH_')) env[k] = v;
  return { ...env, ...ROOT_ENV };
};
const berth = (...args: string[]) => run(process.execPath, [BIN, ...args], { env: cliEnv(), cwd: REPO_ROOT, timeoutMs: 180_000 });

async function until<T>(what: string, fn: () => Promise<T | undefined>, ms = 60_000): Promise<T> {
  const end = Date.now() + ms;
  for (;;) {
    const v = await fn();
    if (v !== undefined) return v;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

const findingsPage = (repositoryName: string, imageId: ImageIdentifier, nextToken?: string) =>
  ecr.send(new DescribeImageScanFindingsCommand({ repositoryName, imageId, maxResults: 50, ...(nextToken ? { nextToken } : {}) }));

/** Waits for a finished scan, then reads every page. */
async function allFindings(repositoryName: string, imageId: ImageIdentifier): Promise<{ first: DescribeImageScanFindingsCommandOutput; basic: ImageScanFinding[]; enhanced: EnhancedImageScanFinding[] }> {
  const first = await until(`the scan of ${repositoryName}`, async () => {
    const out = await findingsPage(repositoryName, imageId);
    return ['PENDING', 'IN_PROGRESS'].includes(out.imageScanStatus?.status ?? 'PENDING') ? undefined : out;
  });
  const basic = [...(first.imageScanFindings?.findings ?? [])];
  const enhanced = [...(first.imageScanFindings?.enhancedFindings ?? [])];
  for (let token = first.nextToken; token; ) {
    const page = await findingsPage(repositoryName, imageId, token);
    basic.push(...(page.imageScanFindings?.findings ?? []));
    enhanced.push(...(page.imageScanFindings?.enhancedFindings ?? []));
    token = page.nextToken;
  }
  return { first, basic, enhanced };
}

const attr = (f: ImageScanFinding, key: string): string | undefined => f.attributes?.find((a) => a.key === key)?.value;
const reported = (basic: ImageScanFinding[]): Set<string> => new Set(basic.map((f) => `${attr(f, 'package_name')}@${attr(f, 'package_version')} ${f.name}`));
const total = (counts: Record<string, number> | undefined): number => Object.values(counts ?? {}).reduce((n, c) => n + c, 0);

suite('image scanning end to end', () => {
  setupSuite(async () => {
    const tmp = cleanup.dir(await makeTempDir('scanning'));
    server = await startBerth({ env: { BERTH_JOBS__POLL_INTERVAL_SECONDS: '0.1', BERTH_SCANNING__REMATCH_CHECK_SECONDS: '0.3' } });
    cleanup.add(() => server.stop());
    ecr = new ECRClient({ endpoint: server.url, region: 'us-east-1', credentials: { ...TEST_ROOT_CREDENTIALS } });
    cleanup.add(() => ecr.destroy());
    skopeo = await Skopeo.create(tmp);
    layout = join(tmp, 'layout');
    v1 = await writeImageLayout(layout, { tag: 'v1', layers: [{ files: baseLayer() }, { files: appLayer() }] });
    await writeImageLayout(layout, { tag: 'v2', layers: [{ files: baseLayer() }, { files: appLayer() }, { files: upgradeLayer() }] });
    await ecr.send(new CreateRepositoryCommand({ repositoryName: 'scan/app', imageScanningConfiguration: { scanOnPush: true } }));
    await skopeo.copy(`oci:${layout}:v1`, `docker://${server.host}/scan/app:v1`);
  });
  dumpServerLogsOnFailure(() => server);
  afterAll(() => cleanup.run());

  it('scans an image on push before any advisory is known: COMPLETE, no findings, shown by DescribeImages', async () => {
    const { first, basic } = await allFindings('scan/app', { imageTag: 'v1' });
    expect(first.imageScanStatus).toEqual({ status: 'COMPLETE', description: 'The scan was completed successfully.' });
    expect(basic).toEqual([]);
    expect(first.imageScanFindings?.findingSeverityCounts).toEqual({});
    const img = (await ecr.send(new DescribeImagesCommand({ repositoryName: 'scan/app', imageIds: [{ imageTag: 'v1' }] }))).imageDetails?.[0];
    expect(img?.imageScanStatus?.status).toBe('COMPLETE');
    expect(img?.imageScanFindingsSummary?.findingSeverityCounts).toEqual({});
  });

  it('re-matches the indexed image when advisories are imported: the findings are what the advisories imply, package by package', async () => {
    // The blob store is moved away meanwhile: the re-match must not read a layer (a read would fail).
    const blobs = join(server.dataDir, 'blobs');
    await rename(blobs, `${blobs}.away`);
    for (const folder of VULNDB_FOLDERS) {
      const r = await berth('vulndb', 'import', join(VULNDB, folder), '--data-dir', server.dataDir);
      expect(r.code, r.stderr).toBe(0);
    }
    const expected = expectedFindings(expectedPackages({ upgraded: false }), loadAdvisories());
    expect(expected.size).toBeGreaterThan(100);
    // No layer is read again: the server notices the new generation and re-matches stored package versions.
    // Each import may be re-matched on its own: wait for the last one (as many findings as the
    // advisories imply; on a timeout the assertions below show what differs).
    try {
      await until('the re-match', async () => (total((await findingsPage('scan/app', { imageTag: 'v1' })).imageScanFindings?.findingSeverityCounts) === expected.size ? true : undefined), 30_000).catch(() => undefined);
    } finally {
      await rename(`${blobs}.away`, blobs);
    }
    const { first, basic, enhanced } = await allFindings('scan/app', { imageTag: 'v1' });
    expect(reported(basic)).toEqual(expected);
    expect(total(first.imageScanFindings?.findingSeverityCounts)).toBe(basic.length);
    expect(enhanced).toHaveLength(basic.length);
    expect(Date.now() - (first.imageScanFindings?.vulnerabilitySourceUpdatedAt?.getTime() ?? 0)).toBeLessThan(300_000);

    // Cases read off the records by hand.
    const got = reported(basic);
    for (const must of [
      'perl-base@5.36.0-7+deb12u3 DEBIAN-CVE-2026-7017', // fixed in +deb12u4
      'apt@2.6.1 DEBIAN-CVE-2011-3374', // no fix (unfixed, unimportant): reported
      'coreutils@9.1-1 DEBIAN-CVE-2016-2781', // <ignored>: reported, no fix
      'bsdutils@1:2.38.1-5+deb12u3 DEBIAN-CVE-2022-0563', // binary epoch, matched by source util-linux 2.38.1-5+deb12u3
      'libpcre2-8-0@10.42-1 DEBIAN-CVE-2026-103111',
      'lodash@4.17.15 GHSA-p6mc-m468-83gw',
      '@babel/traverse@8.0.0-alpha.2 GHSA-67hx-6x53-jw92', // an npm alias, prerelease inside [alpha.0, alpha.4)
      'request@2.88.2 GHSA-p8p7-x288-28g6', // last_affected is inclusive
      'qs@6.7.0 GHSA-hrpp-h998-j3pp',
      'urllib3@1.26.12 PYSEC-2023-212',
      'aiohttp@3.8.4 PYSEC-2023-120',
    ]) {
      expect(got, must).toContain(must);
    }
    for (const mustNot of [
      'lodash@4.17.15 GHSA-jf85-cpcp-j695', // fixed in 4.17.12
      'jsonwebtoken@8.5.0 GHSA-27h2-hvpr-p74q', // withdrawn
      'aiohttp@3.8.4 PYSEC-2022-43059', // withdrawn
      'semver@5.7.3 GHSA-c2qf-rxjj-qqgw', // outside every range
      'qs@6.5.5 GHSA-hrpp-h998-j3pp', // outside every range
      'follow-redirects@1.16.3 GHSA-cxjh-pqwp-8mfp', // fixed in 1.15.6
      '@babel/traverse@8.0.0-alpha.4 GHSA-67hx-6x53-jw92', // the fixed prerelease
      'perl-base@5.36.0-7+deb12u3 DEBIAN-CVE-2024-56406', // fixed in +deb12u2
      'libgnutls30@3.7.9-2+deb12u7 DSA-6281-1', // fixed in exactly this version
    ]) {
      expect(got, mustNot).not.toContain(mustNot);
    }
    // Advisories only for another Debian release are never applied.
    const ids = new Set(basic.map((f) => f.name));
    for (const other of ['DSA-5349-1', 'DLA-4595-1']) expect(ids.has(other), other).toBe(false);

    const pcre = enhanced.find((f) => f.packageVulnerabilityDetails?.vulnerabilityId === 'DEBIAN-CVE-2026-103111');
    expect(pcre?.packageVulnerabilityDetails?.vulnerablePackages?.[0]).toMatchObject({
      name: 'libpcre2-8-0',
      version: '10.42-1',
      fixedInVersion: '10.42-1+deb12u2',
      filePath: '/var/lib/dpkg/status',
      sourceLayerHash: v1.layers[0]!.digest,
      packageManager: 'OS',
    });
    expect(pcre?.remediation?.recommendation?.text).toContain('10.42-1+deb12u2');
    const apt = basic.find((f) => f.name === 'DEBIAN-CVE-2011-3374');
    expect(apt?.severity).toBe('INFORMATIONAL');
    const lodash = enhanced.find((f) => f.packageVulnerabilityDetails?.vulnerabilityId === 'GHSA-p6mc-m468-83gw');
    expect(lodash?.packageVulnerabilityDetails?.vulnerablePackages?.[0]).toMatchObject({ sourceLayerHash: v1.layers[1]!.digest, fixedInVersion: '4.17.19', packageManager: 'NODEPKG' });
    expect(lodash?.packageVulnerabilityDetails?.vulnerablePackages?.[0]?.filePath).toMatch(/^\/app\/node_modules\/lodash\/package\.json$/);
  });

  it('matches an image pushed after the import on push; the upgrade layer and the whiteout take packages away', async () => {
    await skopeo.copy(`oci:${layout}:v2`, `docker://${server.host}/scan/app:v2`);
    const { first, basic } = await allFindings('scan/app', { imageTag: 'v2' });
    expect(first.imageScanStatus?.status).toBe('COMPLETE');
    const got = reported(basic);
    expect(got).toEqual(expectedFindings(expectedPackages({ upgraded: true }), loadAdvisories()));
    expect([...got].filter((f) => f.startsWith('perl-base@'))).toEqual([]);
    expect([...got].filter((f) => f.startsWith('urllib3@'))).toEqual([]);
    const v1Count = total((await findingsPage('scan/app', { imageTag: 'v1' })).imageScanFindings?.findingSeverityCounts);
    expect(total(first.imageScanFindings?.findingSeverityCounts)).toBeLessThan(v1Count);
    const sbom = await berth('sbom', 'scan/app:v2', '--endpoint', server.url);
    expect(sbom.code, sbom.stderr).toBe(0);
    const components = (JSON.parse(sbom.stdout) as { components: { name: string; version?: string; purl?: string }[] }).components;
    expect(components.filter((c) => c.name === 'perl-base').map((c) => c.version)).toEqual([PERL_AFTER]);
    expect(components.some((c) => c.name === 'urllib3' || (c.purl ?? '').startsWith('pkg:pypi/urllib3@'))).toBe(false);
  });

  it('StartImageScan: LimitExceeded within the rescan interval; a manual repository scans only when asked, reusing the stored index', async () => {
    await expect(ecr.send(new StartImageScanCommand({ repositoryName: 'scan/app', imageId: { imageTag: 'v1' } }))).rejects.toMatchObject({ name: 'LimitExceededException' });
    await expect(ecr.send(new StartImageScanCommand({ repositoryName: 'scan/app', imageId: { imageTag: 'nope' } }))).rejects.toMatchObject({ name: 'ImageNotFoundException' });
    await expect(ecr.send(new StartImageScanCommand({ repositoryName: 'scan/none', imageId: { imageTag: 'v1' } }))).rejects.toMatchObject({ name: 'RepositoryNotFoundException' });

    await skopeo.copy(`oci:${layout}:v1`, `docker://${server.host}/scan/manual:v1`);
    await expect(findingsPage('scan/manual', { imageTag: 'v1' })).rejects.toMatchObject({ name: 'ScanNotFoundException' });
    const img = (await ecr.send(new DescribeImagesCommand({ repositoryName: 'scan/manual' }))).imageDetails?.[0];
    expect(img?.imageScanStatus).toBeUndefined();
    // The digest is indexed already (scan/app): no layer is read, so the blob store can be away.
    const blobs = join(server.dataDir, 'blobs');
    await rename(blobs, `${blobs}.away`);
    let manual: Awaited<ReturnType<typeof allFindings>>;
    try {
      const started = await ecr.send(new StartImageScanCommand({ repositoryName: 'scan/manual', imageId: { imageTag: 'v1' } }));
      expect(started.imageId).toEqual({ imageDigest: v1.manifestDigest, imageTag: 'v1' });
      expect(['PENDING', 'IN_PROGRESS']).toContain(started.imageScanStatus?.status);
      manual = await allFindings('scan/manual', { imageTag: 'v1' });
    } finally {
      await rename(`${blobs}.away`, blobs);
    }
    expect(manual.first.imageScanStatus?.status).toBe('COMPLETE');
    expect(reported(manual.basic)).toEqual(reported((await allFindings('scan/app', { imageTag: 'v1' })).basic));
  });

  it('scans on push where a registry rule says so (wildcard filter), not elsewhere; an index per platform', async () => {
    await ecr.send(new PutRegistryScanningConfigurationCommand({ scanType: 'BASIC', rules: [{ scanFrequency: 'SCAN_ON_PUSH', repositoryFilters: [{ filter: 'scan/rule-*', filterType: 'WILDCARD' }] }] }));
    await writeIndexLayout(layout, {
      tag: 'multi',
      platforms: [
        { platform: { os: 'linux', architecture: 'amd64' }, layers: [{ files: baseLayer() }] },
        { platform: { os: 'linux', architecture: 'arm64' }, layers: [{ files: baseLayer() }, { files: upgradeLayer() }] },
      ],
    });
    await skopeo.copy(`oci:${layout}:multi`, `docker://${server.host}/scan/rule-x:multi`, ['--all']);
    await skopeo.copy(`oci:${layout}:v1`, `docker://${server.host}/scan/other:v1`);
    const { first, enhanced } = await allFindings('scan/rule-x', { imageTag: 'multi' });
    expect(first.imageScanStatus?.status).toBe('COMPLETE');
    const perl = enhanced.filter((f) => f.packageVulnerabilityDetails?.vulnerablePackages?.[0]?.name === 'perl-base');
    // Only the amd64 image has the vulnerable perl-base; the arm64 one was upgraded.
    expect(perl.length).toBeGreaterThan(0);
    expect(new Set(perl.map((f) => f.resources?.[0]?.details?.awsEcrContainerImage?.platform))).toEqual(new Set(['linux/amd64']));
    await new Promise((r) => setTimeout(r, 500));
    await expect(findingsPage('scan/other', { imageTag: 'v1' })).rejects.toMatchObject({ name: 'ScanNotFoundException' });
  });

  it.skipIf(!which('aws'))('DescribeImageScanFindings through the awscli v2, all pages, and its image-scan-complete waiter', async () => {
    const aws = (...args: string[]) =>
      run('/usr/bin/aws', ['ecr', ...args, '--endpoint-url', server.url, '--region', 'us-east-1', '--output', 'json'], { env: { ...cliEnv(), AWS_PAGER: '' }, timeoutMs: 120_000 });
    const wait = await aws('wait', 'image-scan-complete', '--repository-name', 'scan/app', '--image-id', 'imageTag=v1');
    expect(wait.code, wait.stderr).toBe(0);
    const r = await aws('describe-image-scan-findings', '--repository-name', 'scan/app', '--image-id', 'imageTag=v1', '--page-size', '40');
    expect(r.code, r.stderr).toBe(0);
    const out = JSON.parse(r.stdout) as { imageScanStatus: { status: string }; imageScanFindings: { findings: ImageScanFinding[]; enhancedFindings: unknown[]; findingSeverityCounts: Record<string, number> } };
    expect(out.imageScanStatus.status).toBe('COMPLETE');
    expect(out.imageScanFindings.findings).toHaveLength(total(out.imageScanFindings.findingSeverityCounts));
    expect(out.imageScanFindings.enhancedFindings).toHaveLength(out.imageScanFindings.findings.length);
    expect(reported(out.imageScanFindings.findings)).toEqual(expectedFindings(expectedPackages({ upgraded: false }), loadAdvisories()));
    const missingScan = await aws('describe-image-scan-findings', '--repository-name', 'scan/other', '--image-id', 'imageTag=v1');
    expect(missingScan.code).not.toBe(0);
    expect(missingScan.stderr).toContain('ScanNotFoundException');
  });
});
