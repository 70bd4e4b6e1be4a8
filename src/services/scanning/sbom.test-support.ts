// Structural checks of SBOM documents, written from the specifications (CycloneDX 1.5 JSON schema,
// SPDX 2.3 JSON schema): required fields, patterns, enums and internal references. Returns the
// problems found (empty when the document is well formed), so a test shows all of them at once.

const UUID_URN = /^urn:uuid:[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
const SPDX_ID = /^SPDXRef-[a-zA-Z0-9.-]+$/;
const SPDX_TIME = /^\d{4}-(0[1-9]|1[0-2])-(0[1-9]|[12]\d|3[01])T([01]\d|2[0-3]):[0-5]\d:[0-5]\dZ$/;
const CDX_TYPES = new Set(['application', 'framework', 'library', 'container', 'platform', 'operating-system', 'device', 'device-driver', 'firmware', 'file', 'machine-learning-model', 'data']);
const PURPOSES = new Set(['OTHER', 'INSTALL', 'ARCHIVE', 'FIRMWARE', 'APPLICATION', 'FRAMEWORK', 'LIBRARY', 'CONTAINER', 'SOURCE', 'DEVICE', 'OPERATING-SYSTEM', 'FILE']);
const REF_CATEGORIES = new Set(['OTHER', 'PERSISTENT-ID', 'SECURITY', 'PACKAGE-MANAGER']);

type Doc = Record<string, unknown>;
const isObj = (v: unknown): v is Doc => typeof v === 'object' && v !== null && !Array.isArray(v);
const str = (v: unknown): v is string => typeof v === 'string' && v.length > 0;

export function cycloneDxProblems(doc: unknown): string[] {
  const p: string[] = [];
  if (!isObj(doc)) return ['not an object'];
  if (doc.bomFormat !== 'CycloneDX') p.push('bomFormat');
  if (doc.specVersion !== '1.5') p.push('specVersion');
  if (typeof doc.serialNumber !== 'string' || !UUID_URN.test(doc.serialNumber)) p.push('serialNumber');
  if (!Number.isInteger(doc.version) || (doc.version as number) < 1) p.push('version');
  const meta = doc.metadata;
  if (!isObj(meta) || Number.isNaN(Date.parse(String(meta.timestamp)))) p.push('metadata.timestamp');
  const tools = isObj(meta) ? meta.tools : undefined;
  if (!isObj(tools) || !Array.isArray(tools.components) || !tools.components.every((c) => isObj(c) && CDX_TYPES.has(String(c.type)) && str(c.name))) p.push('metadata.tools.components');
  const subject = isObj(meta) ? meta.component : undefined;
  if (!isObj(subject) || subject.type !== 'container' || !str(subject.name)) p.push('metadata.component');
  const refs = new Set<string>(isObj(subject) && str(subject['bom-ref']) ? [subject['bom-ref']] : []);
  const components = Array.isArray(doc.components) ? doc.components : [];
  components.forEach((c, i) => {
    if (!isObj(c) || !CDX_TYPES.has(String(c.type)) || !str(c.name)) return p.push(`components[${i}]`);
    const ref = c['bom-ref'];
    if (!str(ref) || refs.has(ref)) p.push(`components[${i}].bom-ref not unique`);
    else refs.add(ref);
    if (c.purl !== undefined && !/^pkg:[a-z.+-]+\//.test(String(c.purl))) p.push(`components[${i}].purl`);
    if (c.properties !== undefined && !(Array.isArray(c.properties) && c.properties.every((x) => isObj(x) && str(x.name) && typeof x.value === 'string'))) p.push(`components[${i}].properties`);
  });
  for (const [i, d] of (Array.isArray(doc.dependencies) ? doc.dependencies : []).entries()) {
    if (!isObj(d) || !refs.has(String(d.ref)) || !(Array.isArray(d.dependsOn) && d.dependsOn.every((r) => refs.has(String(r))))) p.push(`dependencies[${i}] names an unknown bom-ref`);
  }
  return p;
}

export function spdxProblems(doc: unknown): string[] {
  const p: string[] = [];
  if (!isObj(doc)) return ['not an object'];
  if (doc.spdxVersion !== 'SPDX-2.3') p.push('spdxVersion');
  if (doc.dataLicense !== 'CC0-1.0') p.push('dataLicense');
  if (doc.SPDXID !== 'SPDXRef-DOCUMENT') p.push('SPDXID');
  if (!str(doc.name)) p.push('name');
  if (typeof doc.documentNamespace !== 'string' || !/^[a-z][a-z0-9+.-]*:[^#\s]+$/i.test(doc.documentNamespace)) p.push('documentNamespace');
  const ci = doc.creationInfo;
  if (!isObj(ci) || !SPDX_TIME.test(String(ci.created)) || !Array.isArray(ci.creators) || ci.creators.length === 0 || !ci.creators.every((c) => /^(Tool|Organization|Person): .+/.test(String(c)))) p.push('creationInfo');
  const ids = new Set<string>(['SPDXRef-DOCUMENT']);
  (Array.isArray(doc.packages) ? doc.packages : []).forEach((pk, i) => {
    if (!isObj(pk) || !str(pk.name) || !str(pk.downloadLocation)) return p.push(`packages[${i}]`);
    if (typeof pk.SPDXID !== 'string' || !SPDX_ID.test(pk.SPDXID) || ids.has(pk.SPDXID)) p.push(`packages[${i}].SPDXID`);
    else ids.add(pk.SPDXID);
    if (pk.primaryPackagePurpose !== undefined && !PURPOSES.has(String(pk.primaryPackagePurpose))) p.push(`packages[${i}].primaryPackagePurpose`);
    for (const r of Array.isArray(pk.externalRefs) ? pk.externalRefs : []) {
      if (!isObj(r) || !REF_CATEGORIES.has(String(r.referenceCategory)) || !str(r.referenceType) || !str(r.referenceLocator) || /\s/.test(String(r.referenceLocator))) p.push(`packages[${i}].externalRefs`);
    }
  });
  const rels = Array.isArray(doc.relationships) ? doc.relationships : [];
  rels.forEach((r, i) => {
    if (!isObj(r) || !ids.has(String(r.spdxElementId)) || !ids.has(String(r.relatedSpdxElement)) || !str(r.relationshipType)) p.push(`relationships[${i}]`);
  });
  if (!rels.some((r) => isObj(r) && r.spdxElementId === 'SPDXRef-DOCUMENT' && r.relationshipType === 'DESCRIBES')) p.push('no DESCRIBES relationship');
  return p;
}
