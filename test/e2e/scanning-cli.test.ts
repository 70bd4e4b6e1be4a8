/**
 * `berth scan` and `berth sbom` as a user runs them (the built CLI, the root key in the
 * environment) against a running Berth: findings grouped by severity and as JSON, exit codes,
 * a never-scanned image scanned on demand, SBOMs that are well-formed CycloneDX 1.5 and SPDX
 * 2.3 naming every package of the image, and `--attach` pushing the SBOM as an OCI referrer.
 */
import { join } from 'node:path';
import { CreateRepositoryCommand, DescribeImageScanFindingsCommand, DescribeImagesCommand, ECRClient, StartImageScanCommand } from '@aws-sdk/client-ecr';
import { afterAll, expect, it } from 'vitest';
import { cycloneDxProblems, spdxProblems } from '../../src/services/scanning/sbom.test-support.js';
import { Cleanup, makeTempDir, run, setupSuite, type RunResult } from '../support/clients.js';
import { writeImageLayout, type WrittenImage } from '../support/oci-layout.js';
import { appLayer, baseLayer, expectedPackages, scanningSuite, VULNDB } from '../support/scan-fixtures.js';
import { REPO_ROOT, TEST_ROOT_CREDENTIALS, dumpServerLogsOnFailure, startBerth, type RunningServer } from '../support/server.js';
import { Skopeo } from '../support/tools.js';

const BIN = join(REPO_ROOT, 'bin', 'berth.js');
const suite = scanningSuite();

const cleanup = new Cleanup();
let server: RunningServer;
let ecr: ECRClient;
let image: WrittenImage;

/** The built CLI with the root key; commands that talk to the server get `--endpoint`. */
function berth(...args: string[]): Promise<RunResult> {
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) if (!k.startsWith('AWS_') && !k.startsWith('BERTH_')) env[k] = v;
  Object.assign(env, { AWS_ACCESS_KEY_ID: TEST_ROOT_CREDENTIALS.accessKeyId, AWS_SECRET_ACCESS_KEY: TEST_ROOT_CREDENTIALS.secretAccessKey });
  const remote = args[0] === 'scan' || args[0] === 'sbom' ? ['--endpoint', server.url] : [];
  return run(process.execPath, [BIN, ...args, ...remote], { env, cwd: REPO_ROOT, timeoutMs: 180_000 });
}

const counts = async (repositoryName: string, imageTag: string): Promise<Record<string, number>> => {
  for (;;) {
    const out = await ecr.send(new DescribeImageScanFindingsCommand({ repositoryName, imageId: { imageTag } }));
    if (out.imageScanStatus?.status === 'COMPLETE') return out.imageScanFindings?.findingSeverityCounts ?? {};
    await new Promise((r) => setTimeout(r, 200));
  }
};

suite('berth scan and berth sbom', () => {
  setupSuite(async () => {
    const tmp = cleanup.dir(await makeTempDir('scan-cli'));
    server = await startBerth({ env: { BERTH_JOBS__POLL_INTERVAL_SECONDS: '0.1' } });
    cleanup.add(() => server.stop());
    ecr = new ECRClient({ endpoint: server.url, region: 'us-east-1', credentials: { ...TEST_ROOT_CREDENTIALS } });
    cleanup.add(() => ecr.destroy());
    for (const folder of ['debian', 'npm']) {
      const r = await berth('vulndb', 'import', join(VULNDB, folder), '--data-dir', server.dataDir);
      if (r.code !== 0) throw new Error(r.stderr);
    }
    const skopeo = await Skopeo.create(tmp);
    image = await writeImageLayout(join(tmp, 'layout'), { tag: 'v1', layers: [{ files: baseLayer() }, { files: appLayer() }] });
    await ecr.send(new CreateRepositoryCommand({ repositoryName: 'cli/app', imageScanningConfiguration: { scanOnPush: true } }));
    await skopeo.copy(`oci:${join(tmp, 'layout')}:v1`, `docker://${server.host}/cli/app:v1`);
    await skopeo.copy(`oci:${join(tmp, 'layout')}:v1`, `docker://${server.host}/cli/manual:v1`);
  });
  dumpServerLogsOnFailure(() => server);
  afterAll(() => cleanup.run());

  it('prints the findings grouped by severity, most severe first, with a summary line', async () => {
    const c = await counts('cli/app', 'v1');
    const r = await berth('scan', `${server.host}/cli/app:v1`);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toBe('');
    const groups = [...r.stdout.matchAll(/^(CRITICAL|HIGH|MEDIUM|LOW|INFORMATIONAL|UNDEFINED) \((\d+)\)$/gm)].map((m) => [m[1], Number(m[2])]);
    expect(groups).toEqual(Object.entries(c).sort((a, b) => ['CRITICAL', 'HIGH', 'MEDIUM', 'LOW', 'INFORMATIONAL', 'UNDEFINED'].indexOf(a[0]) - ['CRITICAL', 'HIGH', 'MEDIUM', 'LOW', 'INFORMATIONAL', 'UNDEFINED'].indexOf(b[0])));
    expect(r.stdout).toMatch(/^VULNERABILITY\s+PACKAGE\s+INSTALLED\s+FIXED IN\s+PATH$/m);
    expect(r.stdout).toMatch(/^GHSA-p6mc-m468-83gw\s+lodash\s+4\.17\.15\s+4\.17\.19\s+\/app\/node_modules\/lodash\/package\.json$/m);
    const n = Object.values(c).reduce((a, b) => a + b, 0);
    expect(r.stdout).toContain(`${n} findings (`);
    expect(r.stdout).toContain(`in cli/app@${image.manifestDigest}; scan COMPLETE`);
  });

  it('--output json is the whole response with every page merged; --fail-on sets exit code 3', async () => {
    const c = await counts('cli/app', 'v1');
    const r = await berth('scan', 'cli/app:v1', '--output', 'json');
    expect(r.code, r.stderr).toBe(0);
    const out = JSON.parse(r.stdout) as { imageScanStatus: { status: string }; imageScanFindings: { findings: unknown[]; enhancedFindings: unknown[] }; nextToken?: string };
    expect(out.imageScanStatus.status).toBe('COMPLETE');
    expect(out.imageScanFindings.findings).toHaveLength(Object.values(c).reduce((a, b) => a + b, 0));
    expect(out.imageScanFindings.enhancedFindings).toHaveLength(out.imageScanFindings.findings.length);
    expect(out.nextToken).toBeUndefined();
    expect((await berth('scan', 'cli/app:v1', '--fail-on', 'low')).code).toBe(3);
    expect((await berth('scan', 'cli/app:v1', '--fail-on', 'CRITICAL')).code).toBe((c.CRITICAL ?? 0) > 0 ? 3 : 0);
    const bad = await berth('scan', 'cli/app:v1', '--fail-on', 'severe');
    expect(bad.code).toBe(2);
  });

  it('scans an image that never was, waiting for the result; a missing image is an error', async () => {
    await expect(ecr.send(new DescribeImageScanFindingsCommand({ repositoryName: 'cli/manual', imageId: { imageTag: 'v1' } }))).rejects.toMatchObject({ name: 'ScanNotFoundException' });
    const r = await berth('scan', `cli/manual@${image.manifestDigest}`, '-o', 'json');
    expect(r.code, r.stderr).toBe(0);
    expect((JSON.parse(r.stdout) as { imageScanFindings: { findings: unknown[] } }).imageScanFindings.findings.length).toBeGreaterThan(10);
    const gone = await berth('scan', 'cli/app:nope');
    expect(gone.code).toBe(1);
    expect(gone.stderr).toMatch(/^berth: ImageNotFoundException: /);
  });

  it('berth sbom: CycloneDX 1.5 and SPDX 2.3 documents that name every package of the image', async () => {
    const want = new Set(expectedPackages({ upgraded: false }).map((p) => `${p.name}@${p.version}`));
    const cdx = await berth('sbom', 'cli/app:v1');
    expect(cdx.code, cdx.stderr).toBe(0);
    const bom = JSON.parse(cdx.stdout) as { metadata: { component: { version: string } }; components: { name: string; version?: string }[] };
    expect(cycloneDxProblems(bom)).toEqual([]);
    expect(bom.metadata.component.version).toBe(image.manifestDigest);
    const named = new Set(bom.components.map((c) => `${c.name}@${c.version ?? ''}`));
    expect([...want].filter((p) => !named.has(p))).toEqual([]);

    const spdx = await berth('sbom', 'cli/app:v1', '--format', 'spdx');
    expect(spdx.code, spdx.stderr).toBe(0);
    const doc = JSON.parse(spdx.stdout) as { packages: { name: string; versionInfo?: string }[] };
    expect(spdxProblems(doc)).toEqual([]);
    const inSpdx = new Set(doc.packages.map((p) => `${p.name}@${p.versionInfo ?? ''}`));
    expect([...want].filter((p) => !inSpdx.has(p))).toEqual([]);
  });

  it('berth sbom --attach pushes the SBOM as a referrer of the image, which is not scanned itself', async () => {
    const r = await berth('sbom', 'cli/app:v1', '--attach', '--output', 'json');
    expect(r.code, r.stderr).toBe(0);
    const out = JSON.parse(r.stdout) as { digest: string; subjectDigest: string; artifactType: string };
    expect(out).toMatchObject({ subjectDigest: image.manifestDigest, artifactType: 'application/vnd.cyclonedx+json' });
    const referrers = (await (await fetch(`${server.url}/v2/cli/app/referrers/${image.manifestDigest}?artifactType=application/vnd.cyclonedx%2Bjson`)).json()) as { manifests: { digest: string; artifactType: string }[] };
    expect(referrers.manifests).toContainEqual(expect.objectContaining({ digest: out.digest, artifactType: 'application/vnd.cyclonedx+json' }));
    const blob = JSON.parse(await (await fetch(`${server.url}/v2/cli/app/manifests/${out.digest}`, { headers: { accept: 'application/vnd.oci.image.manifest.v1+json' } })).text()) as { layers: { digest: string }[] };
    const attached = JSON.parse(await (await fetch(`${server.url}/v2/cli/app/blobs/${blob.layers[0]!.digest}`)).text()) as unknown;
    expect(cycloneDxProblems(attached)).toEqual([]);
    // An artifact, not an image: not scanned on push, and StartImageScan refuses it.
    const detail = (await ecr.send(new DescribeImagesCommand({ repositoryName: 'cli/app', imageIds: [{ imageDigest: out.digest }] }))).imageDetails?.[0];
    expect(detail?.imageScanStatus).toBeUndefined();
    await expect(ecr.send(new StartImageScanCommand({ repositoryName: 'cli/app', imageId: { imageDigest: out.digest } }))).rejects.toMatchObject({ name: 'UnsupportedImageTypeException' });
    const spdx = await berth('sbom', 'cli/app:v1', '--format', 'spdx', '--attach');
    expect(spdx.code, spdx.stderr).toBe(0);
    expect(spdx.stdout).toMatch(/^Attached application\/spdx\+json \(\d+ bytes\) to cli\/app@sha256:[0-9a-f]{64} as sha256:[0-9a-f]{64}\n$/);
  });
});
