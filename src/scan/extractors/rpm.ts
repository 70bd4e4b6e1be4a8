/**
 * rpm: the SQLite rpmdb of current RHEL-family images (`/var/lib/rpm/rpmdb.sqlite`, and
 * `/usr/lib/sysimage/rpm/rpmdb.sqlite` where newer Fedora-based images keep it). The file is opened from
 * memory (better-sqlite3 deserializes a Buffer), read-only, and each row of `Packages` is an rpm header blob.
 * Not covered: the BerkeleyDB `Packages` of RHEL/CentOS 7-8 and the ndb `Packages.db` of SUSE.
 *
 * Versions are written `epoch:version-release` when the epoch is set (as rpm compares them); the source is the
 * `SOURCERPM` package, with the binary's epoch.
 */
import Database from 'better-sqlite3';
import type { ExtractedPackage } from '../walker/types.js';
import { bufferedExtractor } from './buffered.js';
import { parseSourceRpm, readRpmHeader } from './rpm-header.js';

export const RPMDB_PATHS = ['/var/lib/rpm/rpmdb.sqlite', '/usr/lib/sysimage/rpm/rpmdb.sqlite'] as const;

export function rpmPackagesFromHeaders(blobs: Iterable<Buffer>): ExtractedPackage[] {
  const pkgs: ExtractedPackage[] = [];
  for (const blob of blobs) {
    const h = readRpmHeader(blob);
    if (!h.name || !h.version || h.name === 'gpg-pubkey') continue;
    const epoch = h.epoch !== undefined && h.epoch !== 0 ? `${h.epoch}:` : '';
    const vr = h.release ? `${h.version}-${h.release}` : h.version;
    const pkg: ExtractedPackage = { osManager: 'rpm', name: h.name, version: `${epoch}${vr}` };
    const src = h.sourceRpm ? parseSourceRpm(h.sourceRpm) : undefined;
    pkg.sourceName = src?.name ?? h.name;
    pkg.sourceVersion = src ? `${epoch}${src.version}-${src.release}` : pkg.version;
    if (h.arch) pkg.arch = h.arch;
    pkgs.push(pkg);
  }
  return pkgs;
}

/** The header blobs of an rpmdb.sqlite image. */
export function rpmdbHeaderBlobs(db: Buffer): Buffer[] {
  // SQLite cannot read a deserialized database whose header says WAL (bytes 18-19 = 2): mark the copy as
  // rollback-journal. The WAL file itself is not in the image's rpmdb.sqlite, so nothing is lost.
  const image = Buffer.from(db);
  if (image.length >= 20 && image[18] === 2 && image[19] === 2) image[18] = image[19] = 1;
  const sqlite = new Database(image, { readonly: true });
  try {
    const rows = sqlite.prepare('SELECT blob FROM Packages').raw().all() as Array<[unknown]>;
    return rows.map(([b]) => {
      if (!Buffer.isBuffer(b)) throw new Error('rpmdb Packages.blob is not a BLOB');
      return b;
    });
  } finally {
    sqlite.close();
  }
}

export const rpmExtractor = bufferedExtractor({
  name: 'rpm',
  wants: (e) => (RPMDB_PATHS as readonly string[]).includes(e.path),
  cap: (l) => l.maxArchiveBytes,
  parse: (content) => ({ packages: rpmPackagesFromHeaders(rpmdbHeaderBlobs(content)) }),
});
