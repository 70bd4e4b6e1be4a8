/**
 * The package inventory of an image as an SBOM: CycloneDX 1.5 JSON or SPDX 2.3 JSON, built
 * field by field from the specifications (no library). Each package keeps its purl, and where
 * it was found (file, layer, platform) as CycloneDX properties / SPDX `sourceInfo`; the image
 * is the document's subject (CycloneDX `metadata.component` of type `container`, SPDX package
 * with purpose CONTAINER that the document DESCRIBES and that CONTAINS every package).
 */
import type { FindingPackage } from './findings.js';
import type { StoredInventory } from './indexer.js';

export type SbomFormat = 'cyclonedx' | 'spdx';

export const SBOM_MEDIA_TYPES: Readonly<Record<SbomFormat, string>> = {
  cyclonedx: 'application/vnd.cyclonedx+json',
  spdx: 'application/spdx+json',
};

export interface SbomInput {
  repository: string;
  digest: string;
  tags: readonly string[];
  /** `host:port` the image is pulled from, for the image's purl `repository_url`. */
  registry?: string;
  inventory: StoredInventory;
  tool: { name: string; version: string };
  created: Date;
  /** A random UUID (serial number / document namespace). */
  uuid: string;
}

/** `pkg:oci/<last path segment>@<digest>?repository_url=<registry>/<repository>` (the purl spec's oci type). */
function imagePurl(i: SbomInput): string {
  const name = i.repository.split('/').pop() ?? i.repository;
  const repo = i.registry ? `?repository_url=${encodeURIComponent(`${i.registry}/${i.repository}`)}` : '';
  return `pkg:oci/${encodeURIComponent(name)}@${encodeURIComponent(i.digest)}${repo}`;
}

const where = (p: FindingPackage): { name: string; value: string }[] => [
  { name: 'berth:ecosystem', value: p.ecosystem },
  { name: 'berth:path', value: p.innerPath ? `${p.path}!${p.innerPath}` : p.path },
  { name: 'berth:layerDigest', value: p.layerDigest },
  ...(p.platform ? [{ name: 'berth:platform', value: p.platform }] : []),
  ...(p.sourceName ? [{ name: 'berth:sourcePackage', value: p.sourceVersion ? `${p.sourceName}@${p.sourceVersion}` : p.sourceName }] : []),
];

export function toCycloneDx(i: SbomInput): Record<string, unknown> {
  const os = i.inventory.os;
  const components: Record<string, unknown>[] = [];
  if (os) {
    components.push({
      type: 'operating-system',
      'bom-ref': 'os',
      name: os.id,
      ...(os.versionId ? { version: os.versionId } : {}),
      ...(os.prettyName ? { description: os.prettyName } : {}),
    });
  }
  i.inventory.packages.forEach((p, n) => {
    components.push({ type: 'library', 'bom-ref': `pkg-${n}`, name: p.name, version: p.version, ...(p.purl ? { purl: p.purl } : {}), properties: where(p) });
  });
  return {
    bomFormat: 'CycloneDX',
    specVersion: '1.5',
    serialNumber: `urn:uuid:${i.uuid}`,
    version: 1,
    metadata: {
      timestamp: i.created.toISOString(),
      tools: { components: [{ type: 'application', name: i.tool.name, version: i.tool.version }] },
      component: {
        type: 'container',
        'bom-ref': 'image',
        name: i.repository,
        version: i.digest,
        purl: imagePurl(i),
        ...(i.tags.length > 0 ? { properties: i.tags.map((t) => ({ name: 'berth:tag', value: t })) } : {}),
      },
    },
    components,
    dependencies: [{ ref: 'image', dependsOn: components.map((c) => c['bom-ref'] as string) }],
  };
}

/** SPDX timestamps have no fraction: `2024-01-02T03:04:05Z`. */
const spdxTime = (d: Date): string => d.toISOString().replace(/\.\d{3}Z$/, 'Z');

export function toSpdx(i: SbomInput): Record<string, unknown> {
  const os = i.inventory.os;
  const hex = i.digest.replace(/^sha256:/, '');
  const packages: Record<string, unknown>[] = [
    {
      name: i.repository,
      SPDXID: 'SPDXRef-Image',
      versionInfo: i.digest,
      downloadLocation: 'NOASSERTION',
      filesAnalyzed: false,
      primaryPackagePurpose: 'CONTAINER',
      ...(i.digest.startsWith('sha256:') ? { checksums: [{ algorithm: 'SHA256', checksumValue: hex }] } : {}),
      externalRefs: [{ referenceCategory: 'PACKAGE-MANAGER', referenceType: 'purl', referenceLocator: imagePurl(i) }],
    },
  ];
  const relationships: Record<string, unknown>[] = [{ spdxElementId: 'SPDXRef-DOCUMENT', relationshipType: 'DESCRIBES', relatedSpdxElement: 'SPDXRef-Image' }];
  if (os) {
    packages.push({
      name: os.id,
      SPDXID: 'SPDXRef-OperatingSystem',
      ...(os.versionId ? { versionInfo: os.versionId } : {}),
      downloadLocation: 'NOASSERTION',
      filesAnalyzed: false,
      primaryPackagePurpose: 'OPERATING-SYSTEM',
      ...(os.prettyName ? { summary: os.prettyName } : {}),
    });
    relationships.push({ spdxElementId: 'SPDXRef-Image', relationshipType: 'CONTAINS', relatedSpdxElement: 'SPDXRef-OperatingSystem' });
  }
  i.inventory.packages.forEach((p, n) => {
    const id = `SPDXRef-Package-${n}`;
    packages.push({
      name: p.name,
      SPDXID: id,
      versionInfo: p.version,
      downloadLocation: 'NOASSERTION',
      filesAnalyzed: false,
      primaryPackagePurpose: 'LIBRARY',
      ...(p.purl ? { externalRefs: [{ referenceCategory: 'PACKAGE-MANAGER', referenceType: 'purl', referenceLocator: p.purl }] } : {}),
      sourceInfo: where(p)
        .map((w) => `${w.name.replace(/^berth:/, '')}: ${w.value}`)
        .join('; '),
    });
    relationships.push({ spdxElementId: 'SPDXRef-Image', relationshipType: 'CONTAINS', relatedSpdxElement: id });
  });
  return {
    spdxVersion: 'SPDX-2.3',
    dataLicense: 'CC0-1.0',
    SPDXID: 'SPDXRef-DOCUMENT',
    name: `${i.repository}@${i.digest}`,
    documentNamespace: `urn:uuid:${i.uuid}`,
    creationInfo: { created: spdxTime(i.created), creators: [`Tool: ${i.tool.name}-${i.tool.version}`] },
    packages,
    relationships,
  };
}
