/**
 * The scan inventory: what an image holds, ready for matching (`src/core/vuln/osv.ts`) and for SBOMs.
 *
 * Every package carries its OSV ecosystem string exactly as the matcher reads it: distributions with their
 * release (`Debian:12`, `Ubuntu:22.04:LTS`, `Alpine:v3.19`, `Rocky Linux:9`, `AlmaLinux:9`), so an advisory for
 * another release never applies, and their packages name their source package (which distribution advisories
 * name); languages unscoped (`npm`, `PyPI`, `Go`, `crates.io`, `Maven`, `RubyGems`). An `InventoryPackage` is a
 * `PackageQuery` as it is.
 *
 * Ecosystem rules for OS packages (from os-release `ID`, `VERSION_ID`, `VERSION`):
 * - debian → `Debian:<major>`; ubuntu → `Ubuntu:<VERSION_ID>` plus `:LTS` when VERSION says LTS;
 *   alpine → `Alpine:v<major>.<minor>`; wolfi → `Wolfi`; chainguard → `Chainguard`;
 *   rocky → `Rocky Linux:<major>`; almalinux → `AlmaLinux:<major>`; opensuse-leap → `openSUSE:Leap <VERSION_ID>`;
 *   opensuse-tumbleweed → `openSUSE:Tumbleweed`.
 * - rhel → `Red Hat`, unscoped: Red Hat's OSV ecosystems name a product stream
 *   (`Red Hat:enterprise_linux:9::appstream`) that an installed rpm does not record, so no release is claimed.
 * - No os-release: the manager's usual distribution, unscoped (`Debian`, `Alpine`, `Red Hat`): it matches only
 *   unscoped advisories, never a release's. Any other ID: its NAME (or ID) as is, which no comparator knows, so
 *   it is listed but never matched.
 */
import type { PackageQuery } from '../core/vuln/osv.js';
import { comparatorFor } from '../core/vuln/versions/index.js';
import { purl } from './purl.js';
import type { ExtractedPackage, OsPackageManager, OsRelease } from './walker/types.js';
import type { LayerReport, WalkResult } from './walker/walker.js';

export interface InventoryOs extends OsRelease {
  /** The ecosystem of this OS's packages (`Debian:12`); absent when its packages cannot be matched. */
  ecosystem?: string;
  path: string;
  layerDigest: string;
}

export interface InventoryPackage extends PackageQuery {
  purl: string;
  /** The file that declared the package (`/var/lib/dpkg/status`, `/app/node_modules/x/package.json`). */
  path: string;
  /** The last layer that wrote that file. */
  layerDigest: string;
  /** Which extractor found it (`dpkg`, `npm`, `go-binary`, ...). */
  extractor: string;
  arch?: string;
  innerPath?: string;
  fromLockfile?: boolean;
  dev?: boolean;
}

export interface InventoryError {
  kind: 'layer' | 'extractor';
  layerDigest: string;
  extractor?: string;
  path?: string;
  message: string;
}

export interface ScanInventory {
  os?: InventoryOs;
  packages: InventoryPackage[];
  layers: LayerReport[];
  errors: InventoryError[];
  /** True when a layer was not read whole or an extractor failed: the inventory may miss packages. */
  partial: boolean;
}

const major = (v: string | undefined): string | undefined => (v ? /^(\d+)/.exec(v)?.[1] : undefined);

const FALLBACK: Record<OsPackageManager, string> = { dpkg: 'Debian', apk: 'Alpine', rpm: 'Red Hat' };

/** The OSV ecosystem of an OS package (see the module comment for the rules). */
export function distroEcosystem(os: OsRelease | undefined, manager: OsPackageManager): string {
  if (!os) return FALLBACK[manager];
  const v = os.versionId;
  const scoped = (base: string, release: string | undefined): string => (release ? `${base}:${release}` : base);
  switch (os.id) {
    case 'debian':
      return scoped('Debian', major(v));
    case 'ubuntu':
      return v ? `Ubuntu:${v}${/\bLTS\b/.test(os.version ?? '') ? ':LTS' : ''}` : 'Ubuntu';
    case 'alpine': {
      const m = /^(\d+)\.(\d+)/.exec(v ?? '');
      return m ? `Alpine:v${m[1]}.${m[2]}` : 'Alpine';
    }
    case 'wolfi':
      return 'Wolfi';
    case 'chainguard':
      return 'Chainguard';
    case 'rocky':
      return scoped('Rocky Linux', major(v));
    case 'almalinux':
      return scoped('AlmaLinux', major(v));
    case 'rhel':
      return 'Red Hat';
    case 'opensuse-leap':
      return scoped('openSUSE', v ? `Leap ${v}` : undefined);
    case 'opensuse-tumbleweed':
      return 'openSUSE:Tumbleweed';
    default:
      return os.name ?? os.id;
  }
}

const PURL_TYPE: Record<OsPackageManager, string> = { dpkg: 'deb', apk: 'apk', rpm: 'rpm' };
const PURL_NAMESPACE: Record<string, string> = { rhel: 'redhat', 'opensuse-leap': 'opensuse', 'opensuse-tumbleweed': 'opensuse' };

/** purl of an OS package: `pkg:deb/debian/bash@5.2.15-2+b2?arch=amd64&distro=debian-12`; rpm epochs go to `epoch=`. */
export function osPackagePurl(p: ExtractedPackage, manager: OsPackageManager, os: OsRelease | undefined): string {
  const ns = os ? (PURL_NAMESPACE[os.id] ?? os.id) : FALLBACK[manager].toLowerCase().replace(' ', '');
  let version = p.version;
  let epoch: string | undefined;
  const m = manager === 'rpm' ? /^(\d+):(.*)$/.exec(version) : null;
  if (m) [epoch, version] = [m[1], m[2] as string];
  const distro = os ? (os.versionId ? `${os.id}-${os.versionId}` : os.id) : undefined;
  return purl(PURL_TYPE[manager], ns, p.name, version, { arch: p.arch, epoch, distro });
}

const OS_RELEASE_PREFERENCE = ['/etc/os-release', '/usr/lib/os-release'];

/** Turns the walker's per-file results into the inventory (OS ecosystems, purls, lockfile/installed dedupe). */
export function buildInventory(walk: WalkResult): ScanInventory {
  let os: InventoryOs | undefined;
  for (const want of OS_RELEASE_PREFERENCE) {
    if (os) break;
    for (const f of walk.files) {
      const found = f.path === want ? f.outputs.find((o) => o.result.os)?.result.os : undefined;
      if (found) os = { ...found, path: f.path, layerDigest: f.layerDigest };
    }
  }
  if (os) {
    const ecosystem = distroEcosystem(os, 'dpkg');
    if (comparatorFor(ecosystem)) os.ecosystem = ecosystem;
  }

  const all: InventoryPackage[] = [];
  for (const f of walk.files) {
    for (const o of f.outputs) {
      for (const p of o.result.packages ?? []) {
        const manager = p.osManager;
        const ecosystem = manager ? distroEcosystem(os, manager) : p.ecosystem;
        if (!ecosystem) continue;
        const pkg: InventoryPackage = {
          ecosystem,
          name: p.name,
          version: p.version,
          purl: p.purl ?? (manager ? osPackagePurl(p, manager, os) : purl('generic', undefined, p.name, p.version)),
          path: f.path,
          layerDigest: f.layerDigest,
          extractor: o.extractor,
        };
        if (p.sourceName !== undefined) pkg.sourceName = p.sourceName;
        if (p.sourceVersion !== undefined) pkg.sourceVersion = p.sourceVersion;
        if (p.arch !== undefined) pkg.arch = p.arch;
        if (p.innerPath !== undefined) pkg.innerPath = p.innerPath;
        if (p.fromLockfile) pkg.fromLockfile = true;
        if (p.dev) pkg.dev = true;
        all.push(Object.assign(pkg, p.installPath !== undefined ? { installPath: p.installPath } : {}));
      }
    }
  }

  const errors: InventoryError[] = [];
  for (const l of walk.layers) {
    if (l.status !== 'ok') errors.push({ kind: 'layer', layerDigest: l.digest, message: l.error ?? l.status });
  }
  for (const e of walk.extractorErrors) errors.push({ kind: 'extractor', layerDigest: e.layer, extractor: e.extractor, path: e.path, message: e.message });
  const inventory: ScanInventory = {
    packages: dedupe(all),
    layers: walk.layers,
    errors,
    partial: walk.layers.some((l) => l.status !== 'ok') || walk.extractorErrorCount > 0,
  };
  if (os) inventory.os = os;
  return inventory;
}

/**
 * One package per install location: where a lockfile and an installed copy describe the same directory, the
 * installed copy is kept (it is what is on disk, and its layer is the one that installed it); two lockfiles
 * describing one location keep the first. Exact repeats (same file, name, version) are dropped.
 */
function dedupe(pkgs: Array<InventoryPackage & { installPath?: string }>): InventoryPackage[] {
  const installed = new Set<string>();
  for (const p of pkgs) if (p.installPath !== undefined && !p.fromLockfile) installed.add(`${p.ecosystem}\0${p.installPath}`);
  const seen = new Set<string>();
  const out: InventoryPackage[] = [];
  for (const { installPath, ...p } of pkgs) {
    const at = installPath !== undefined ? `${p.ecosystem}\0${installPath}` : undefined;
    if (at !== undefined && p.fromLockfile) {
      if (installed.has(at) || seen.has(`lock\0${at}`)) continue;
      seen.add(`lock\0${at}`);
    }
    const key = [p.ecosystem, p.name, p.version, p.path, p.innerPath ?? '', p.arch ?? '', installPath ?? ''].join('\0');
    if (seen.has(key)) continue;
    seen.add(key);
    out.push(p);
  }
  return out;
}
