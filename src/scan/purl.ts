/**
 * Package URLs (purl-spec): `pkg:type/namespace/name@version?qualifiers`. Each component is percent-encoded
 * (`:` is left as is, as the spec allows), namespace segments one by one, qualifiers sorted by key.
 */

const enc = (s: string): string => encodeURIComponent(s).replace(/%3A/gi, ':');

export function purl(type: string, namespace: string | undefined, name: string, version: string, qualifiers: Record<string, string | undefined> = {}): string {
  const ns = namespace ? `${namespace.split('/').filter((s) => s !== '').map(enc).join('/')}/` : '';
  const q = Object.entries(qualifiers)
    .filter((e): e is [string, string] => e[1] !== undefined && e[1] !== '')
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
    .map(([k, v]) => `${k}=${enc(v)}`)
    .join('&');
  return `pkg:${type}/${ns}${enc(name)}@${enc(version)}${q ? `?${q}` : ''}`;
}

/** PEP 503 normalized Python project name. */
export const pep503 = (name: string): string => name.toLowerCase().replace(/[-_.]+/g, '-');

export const npmPurl = (name: string, version: string): string => {
  const slash = name.startsWith('@') ? name.indexOf('/') : -1;
  return slash > 0 ? purl('npm', name.slice(0, slash), name.slice(slash + 1), version) : purl('npm', undefined, name, version);
};
export const pypiPurl = (name: string, version: string): string => purl('pypi', undefined, pep503(name), version);
export const golangPurl = (modulePath: string, version: string): string => {
  const i = modulePath.lastIndexOf('/');
  return i > 0 ? purl('golang', modulePath.slice(0, i), modulePath.slice(i + 1), version) : purl('golang', undefined, modulePath, version);
};
export const cargoPurl = (name: string, version: string): string => purl('cargo', undefined, name, version);
export const gemPurl = (name: string, version: string): string => purl('gem', undefined, name, version);
export const mavenPurl = (groupId: string, artifactId: string, version: string): string => purl('maven', groupId, artifactId, version);
