import { describe, expect, it } from 'vitest';
import type { InventoryPackage } from '../../scan/index.js';
import { pageOf } from './findings.js';
import type { StoredInventory } from './indexer.js';
import { toCycloneDx, toSpdx, type SbomInput } from './sbom.js';
import { cycloneDxProblems, spdxProblems } from './sbom.test-support.js';
import { scanFrequency } from './triggers.js';

const layer = 'sha256:' + 'b'.repeat(64);
const pkg = (name: string, version: string, extra: Partial<InventoryPackage & { platform: string }> = {}): InventoryPackage & { platform?: string } => ({
  ecosystem: 'npm',
  name,
  version,
  purl: `pkg:npm/${name.replace('@', '%40')}@${version}`,
  path: `/app/node_modules/${name}/package.json`,
  layerDigest: layer,
  extractor: 'npm',
  ...extra,
});

const input = (inventory: StoredInventory, o: Partial<SbomInput> = {}): SbomInput => ({
  repository: 'team/app',
  digest: 'sha256:' + 'c'.repeat(64),
  tags: ['v1', 'latest'],
  registry: '127.0.0.1:5000',
  inventory,
  tool: { name: 'berth', version: '0.1.0' },
  created: new Date('2026-01-02T03:04:05.678Z'),
  uuid: '3e671687-395b-41f5-a30f-a58921a69b79',
  ...o,
});

const inventory: StoredInventory = {
  os: { id: 'debian', versionId: '12', prettyName: 'Debian GNU/Linux 12 (bookworm)', path: '/etc/os-release', layerDigest: layer, ecosystem: 'Debian:12' },
  packages: [
    pkg('lodash', '4.17.15'),
    pkg('lodash', '4.17.15', { path: '/other/node_modules/lodash/package.json' }),
    pkg('@babel/traverse', '8.0.0-alpha.2', { platform: 'linux/arm64' }),
    { ...pkg('bash', '5.2.15-2+b2'), ecosystem: 'Debian:12', extractor: 'dpkg', sourceName: 'bash', sourceVersion: '5.2.15-2', purl: 'pkg:deb/debian/bash@5.2.15-2%2Bb2?arch=amd64&distro=debian-12', path: '/var/lib/dpkg/status' },
    { ...pkg('spring-core', '5.3.1'), ecosystem: 'Maven', purl: 'pkg:maven/org.springframework/spring-core@5.3.1', path: '/app.jar', innerPath: 'BOOT-INF/lib/spring-core.jar' },
  ],
  layers: [],
  errors: [],
  partial: false,
};

describe('SBOMs', () => {
  it('CycloneDX 1.5: the image as metadata.component, one component per package location, valid structure', () => {
    const doc = toCycloneDx(input(inventory)) as { components: Record<string, unknown>[]; metadata: Record<string, unknown>; dependencies: { dependsOn: string[] }[] };
    expect(cycloneDxProblems(doc)).toEqual([]);
    expect(doc.metadata.component).toMatchObject({ type: 'container', name: 'team/app', version: 'sha256:' + 'c'.repeat(64), purl: `pkg:oci/app@sha256%3A${'c'.repeat(64)}?repository_url=127.0.0.1%3A5000%2Fteam%2Fapp` });
    expect(doc.metadata.timestamp).toBe('2026-01-02T03:04:05.678Z');
    expect(doc.components[0]).toMatchObject({ type: 'operating-system', name: 'debian', version: '12' });
    expect(doc.components.filter((c) => c.name === 'lodash')).toHaveLength(2);
    const babel = doc.components.find((c) => c.name === '@babel/traverse') as { properties: { name: string; value: string }[] };
    expect(babel.properties).toContainEqual({ name: 'berth:platform', value: 'linux/arm64' });
    const spring = doc.components.find((c) => c.name === 'spring-core') as { properties: { name: string; value: string }[] };
    expect(spring.properties).toContainEqual({ name: 'berth:path', value: '/app.jar!BOOT-INF/lib/spring-core.jar' });
    expect(doc.dependencies[0]?.dependsOn).toHaveLength(doc.components.length);
  });

  it('SPDX 2.3: a CONTAINER package the document describes and that contains every package, valid structure', () => {
    const doc = toSpdx(input(inventory)) as { packages: Record<string, unknown>[]; relationships: Record<string, string>[]; creationInfo: { created: string } };
    expect(spdxProblems(doc)).toEqual([]);
    expect(doc.creationInfo.created).toBe('2026-01-02T03:04:05Z');
    expect(doc.packages[0]).toMatchObject({ SPDXID: 'SPDXRef-Image', primaryPackagePurpose: 'CONTAINER', checksums: [{ algorithm: 'SHA256', checksumValue: 'c'.repeat(64) }] });
    expect(doc.packages[1]).toMatchObject({ SPDXID: 'SPDXRef-OperatingSystem', primaryPackagePurpose: 'OPERATING-SYSTEM' });
    expect(doc.relationships.filter((r) => r.relationshipType === 'CONTAINS')).toHaveLength(inventory.packages.length + 1);
    const bash = doc.packages.find((p) => p.name === 'bash') as { externalRefs: unknown[]; sourceInfo: string };
    expect(bash.externalRefs).toEqual([{ referenceCategory: 'PACKAGE-MANAGER', referenceType: 'purl', referenceLocator: 'pkg:deb/debian/bash@5.2.15-2%2Bb2?arch=amd64&distro=debian-12' }]);
    expect(bash.sourceInfo).toContain('sourcePackage: bash@5.2.15-2');
  });

  it('an image without os-release or packages is still a valid document', () => {
    const empty: StoredInventory = { packages: [], layers: [], errors: [], partial: false };
    expect(cycloneDxProblems(toCycloneDx(input(empty, { tags: [] })))).toEqual([]);
    expect(spdxProblems(toSpdx(input(empty, { tags: [] })))).toEqual([]);
  });

  it('the validators catch broken documents (they can fail)', () => {
    const doc = toCycloneDx(input(inventory)) as { serialNumber: string; components: Record<string, unknown>[] };
    doc.serialNumber = 'urn:uuid:nope';
    doc.components[1]!['bom-ref'] = doc.components[2]!['bom-ref'];
    // components[1]'s own ref is gone, so the dependency graph names an unknown one too.
    expect(cycloneDxProblems(doc)).toEqual(['serialNumber', 'components[2].bom-ref not unique', 'dependencies[0] names an unknown bom-ref']);
    const spdx = toSpdx(input(inventory)) as { packages: Record<string, unknown>[] };
    spdx.packages[2]!.SPDXID = 'SPDXRef-has space';
    expect(spdxProblems(spdx)).toContain('packages[2].SPDXID');
  });
});

describe('findings pages', () => {
  const rows = [
    { pkg: 2, vulnId: 'B', severity: 'LOW' as const },
    { pkg: 0, vulnId: 'A', severity: 'CRITICAL' as const },
    { pkg: 1, vulnId: 'A', severity: 'LOW' as const },
    { pkg: 10, vulnId: 'A', severity: 'LOW' as const },
  ].map((r) => ({ ...r, packageKey: 'k', firstSeenAt: 0 }));

  it('sort most severe first, then by advisory and package, and page with a cursor', () => {
    const p1 = pageOf(rows, undefined, 2);
    expect(p1.rows.map((r) => `${r.severity}:${r.vulnId}:${r.pkg}`)).toEqual(['CRITICAL:A:0', 'LOW:A:1']);
    const p2 = pageOf(rows, p1.next, 2);
    expect(p2.rows.map((r) => `${r.vulnId}:${r.pkg}`)).toEqual(['A:10', 'B:2']);
    expect(p2.next).toBeUndefined();
  });
});

describe('scan frequency', () => {
  const rules = (...r: [string, string][]) => ({ scanType: 'BASIC' as const, rules: r.map(([f, freq]) => ({ scanFrequency: freq as 'MANUAL', repositoryFilters: [{ filter: f, filterType: 'WILDCARD' as const }] })) });
  it('follows ECR: a matching CONTINUOUS_SCAN rule wins, then SCAN_ON_PUSH, then the repository flag', () => {
    expect(scanFrequency('team/app', { scanOnPush: false }, rules())).toBe('MANUAL');
    expect(scanFrequency('team/app', { scanOnPush: true }, rules())).toBe('SCAN_ON_PUSH');
    expect(scanFrequency('team/app', { scanOnPush: false }, rules(['team/*', 'SCAN_ON_PUSH']))).toBe('SCAN_ON_PUSH');
    expect(scanFrequency('team/app', { scanOnPush: false }, rules(['team/*', 'SCAN_ON_PUSH'], ['*', 'CONTINUOUS_SCAN']))).toBe('CONTINUOUS_SCAN');
    expect(scanFrequency('other/app', { scanOnPush: false }, rules(['team/*', 'CONTINUOUS_SCAN']))).toBe('MANUAL');
    expect(scanFrequency('team/app', { scanOnPush: true }, rules(['team/*', 'MANUAL']))).toBe('SCAN_ON_PUSH');
  });
});
