/**
 * npm: lockfiles (`package-lock.json` v1, v2, v3 and npm's hidden `node_modules/.package-lock.json`) and the
 * `package.json` of installed packages (`…/node_modules/<name>/package.json`, `…/node_modules/@scope/<name>/…`).
 *
 * - Names are the real package names: an alias (`"x": "npm:@babel/traverse@8.0.0"`) is installed in
 *   `node_modules/x` but is `@babel/traverse`, which is what advisories name. Lockfile v2/v3 give it in `name`,
 *   v1 in its `version` string, installed copies in their package.json.
 * - Every copy counts: nested copies (`node_modules/a/node_modules/b`) are separate packages with their own
 *   `installPath`.
 * - A lockfile entry and the installed package.json at the same `installPath` are one package: the inventory
 *   keeps the installed one (see `inventory.ts`); a lockfile without node_modules still reports its entries.
 * Not covered: `yarn.lock`, `pnpm-lock.yaml`, workspace links (`link: true`, which point to the app's own code).
 */
import { isValid as isSemver } from '../../core/vuln/versions/semver.js';
import { npmPurl } from '../purl.js';
import type { EntryInfo, ExtractedPackage } from '../walker/types.js';
import { basename, bufferedExtractor, dirname } from './buffered.js';

const INSTALLED = /\/node_modules\/(?:@[^/]+\/)?[^/@][^/]*\/package\.json$/;
const HIDDEN_LOCK = '/node_modules/.package-lock.json';

export function wantsNpm(e: EntryInfo): boolean {
  if (e.path.endsWith(HIDDEN_LOCK)) return true;
  if (basename(e.path) === 'package-lock.json') return !e.path.includes('/node_modules/');
  return INSTALLED.test(e.path);
}

const joinPath = (dir: string, rel: string): string => (dir === '/' ? `/${rel}` : `${dir}/${rel}`);

function pkg(name: string, version: string, installPath: string, fromLockfile: boolean, dev: boolean): ExtractedPackage {
  const p: ExtractedPackage = { ecosystem: 'npm', name, version, purl: npmPurl(name, version), installPath };
  if (fromLockfile) p.fromLockfile = true;
  if (dev) p.dev = true;
  return p;
}

/** `npm:@babel/traverse@8.0.0` → name and version; undefined for anything else. */
export function parseNpmAlias(spec: string): { name: string; version: string } | undefined {
  const m = /^npm:((?:@[^/@]+\/)?[^/@]+)@(.+)$/.exec(spec);
  return m ? { name: m[1] as string, version: m[2] as string } : undefined;
}

interface LockV1Dep {
  version?: unknown;
  dev?: unknown;
  dependencies?: Record<string, LockV1Dep>;
}

const isRecord = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

/** Packages of a lockfile whose install root (the directory holding `node_modules`) is `root`. */
export function npmLockPackages(lock: unknown, root: string): ExtractedPackage[] {
  if (!isRecord(lock)) throw new Error('lockfile is not a JSON object');
  const out: ExtractedPackage[] = [];
  if (isRecord(lock.packages)) {
    for (const [key, v] of Object.entries(lock.packages)) {
      if (key === '' || !isRecord(v) || v.link === true) continue;
      const at = key.lastIndexOf('node_modules/');
      if (at < 0) continue; // a workspace folder: the app's own code
      const name = typeof v.name === 'string' ? v.name : key.slice(at + 'node_modules/'.length);
      if (typeof v.version !== 'string' || !isSemver(v.version)) continue;
      out.push(pkg(name, v.version, joinPath(root, key), true, v.dev === true));
    }
    return out;
  }
  const walk = (deps: Record<string, LockV1Dep>, parent: string): void => {
    for (const [installName, d] of Object.entries(deps)) {
      if (!isRecord(d)) continue;
      const installPath = `${parent}/node_modules/${installName}`;
      if (typeof d.version === 'string') {
        const alias = parseNpmAlias(d.version);
        const name = alias?.name ?? installName;
        const version = alias?.version ?? d.version;
        if (isSemver(version)) out.push(pkg(name, version, installPath, true, d.dev === true));
      }
      if (isRecord(d.dependencies)) walk(d.dependencies as Record<string, LockV1Dep>, installPath);
    }
  };
  if (isRecord(lock.dependencies)) walk(lock.dependencies as Record<string, LockV1Dep>, root === '/' ? '' : root);
  return out;
}

export const npmExtractor = bufferedExtractor({
  name: 'npm',
  wants: wantsNpm,
  parse(content, entry) {
    const json: unknown = JSON.parse(content.toString('utf8'));
    if (entry.path.endsWith(HIDDEN_LOCK)) return { packages: npmLockPackages(json, dirname(dirname(entry.path))) };
    if (basename(entry.path) === 'package-lock.json') return { packages: npmLockPackages(json, dirname(entry.path)) };
    if (!isRecord(json) || typeof json.name !== 'string' || typeof json.version !== 'string') return {};
    return { packages: [pkg(json.name, json.version, dirname(entry.path), false, false)] };
  },
});
