// No real rpmdb.sqlite is among the shared fixtures, so the databases here are built the way rpm writes them:
// a `Packages` table of header blobs, each blob laid out per the rpm header format (index count, data length,
// 16-byte big-endian index entries, data store). Only what that construction can show is tested.
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { describe, expect, it } from 'vitest';
import { scanLayers } from '../index.js';
import { bufferLayer, gzip, tarLayer } from '../walker/layers.test-support.js';
import { readRpmHeader, RPMTAG } from './rpm-header.js';
import { rpmdbHeaderBlobs, rpmPackagesFromHeaders } from './rpm.js';

type Tag = [tag: number, value: string | number];

/** An rpm header blob (no magic) holding string tags (type 6) and INT32 tags (type 4). */
function headerBlob(tags: Tag[]): Buffer {
  const index: Buffer[] = [];
  const data: Buffer[] = [];
  let off = 0;
  for (const [tag, value] of tags) {
    const e = Buffer.alloc(16);
    let bytes: Buffer;
    if (typeof value === 'number') {
      const pad = (4 - (off % 4)) % 4; // INT32 data is 4-byte aligned in the store
      if (pad) data.push(Buffer.alloc(pad));
      off += pad;
      bytes = Buffer.alloc(4);
      bytes.writeInt32BE(value);
      e.writeUInt32BE(4, 4);
    } else {
      bytes = Buffer.from(`${value}\0`);
      e.writeUInt32BE(6, 4);
    }
    e.writeUInt32BE(tag, 0);
    e.writeInt32BE(off, 8);
    e.writeUInt32BE(1, 12);
    index.push(e);
    data.push(bytes);
    off += bytes.length;
  }
  const head = Buffer.alloc(8);
  head.writeUInt32BE(tags.length, 0);
  head.writeUInt32BE(off, 4);
  return Buffer.concat([head, ...index, ...data]);
}

const PKGS: Tag[][] = [
  [[RPMTAG.NAME, 'openssl-libs'], [RPMTAG.EPOCH, 1], [RPMTAG.VERSION, '3.0.7'], [RPMTAG.RELEASE, '27.el9'], [RPMTAG.ARCH, 'x86_64'], [RPMTAG.SOURCERPM, 'openssl-3.0.7-27.el9.src.rpm']],
  [[RPMTAG.NAME, 'bash'], [RPMTAG.VERSION, '5.1.8'], [RPMTAG.RELEASE, '9.el9'], [RPMTAG.ARCH, 'x86_64'], [RPMTAG.SOURCERPM, 'bash-5.1.8-9.el9.src.rpm']],
  [[RPMTAG.NAME, 'gpg-pubkey'], [RPMTAG.VERSION, 'fd431d51'], [RPMTAG.RELEASE, '4ae0493b']],
];

/** An rpmdb.sqlite file as rpm creates it (WAL journal mode, as on RHEL 9). */
function rpmdb(blobs: Buffer[], wal: boolean): Buffer {
  const dir = mkdtempSync(join(tmpdir(), 'berth-rpmdb-'));
  try {
    const file = join(dir, 'rpmdb.sqlite');
    const db = new Database(file);
    if (wal) db.pragma('journal_mode = WAL');
    db.exec('CREATE TABLE Packages (hnum INTEGER PRIMARY KEY AUTOINCREMENT, blob BLOB NOT NULL)');
    const ins = db.prepare('INSERT INTO Packages (blob) VALUES (?)');
    for (const b of blobs) ins.run(b);
    db.close();
    return readFileSync(file);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

describe('rpm header blobs', () => {
  it('reads name, epoch, version, release, arch and source rpm', () => {
    expect(readRpmHeader(headerBlob(PKGS[0] as Tag[]))).toEqual({
      name: 'openssl-libs',
      epoch: 1,
      version: '3.0.7',
      release: '27.el9',
      arch: 'x86_64',
      sourceRpm: 'openssl-3.0.7-27.el9.src.rpm',
    });
  });

  it('throws on offsets outside the blob instead of reading them', () => {
    const blob = headerBlob([[RPMTAG.NAME, 'x']]);
    blob.writeInt32BE(1000, 8 + 8);
    expect(() => readRpmHeader(blob)).toThrow(/out of range/);
    expect(() => readRpmHeader(Buffer.from([0, 0, 0, 9, 0, 0, 0, 0]))).toThrow(/beyond the blob/);
  });
});

describe('rpmdb.sqlite', () => {
  it.each([false, true])('lists the packages (WAL mode: %s) with epoch:version-release and their source rpm', (wal) => {
    const pkgs = rpmPackagesFromHeaders(rpmdbHeaderBlobs(rpmdb(PKGS.map(headerBlob), wal)));
    expect(pkgs).toEqual([
      { osManager: 'rpm', name: 'openssl-libs', version: '1:3.0.7-27.el9', sourceName: 'openssl', sourceVersion: '1:3.0.7-27.el9', arch: 'x86_64' },
      { osManager: 'rpm', name: 'bash', version: '5.1.8-9.el9', sourceName: 'bash', sourceVersion: '5.1.8-9.el9', arch: 'x86_64' },
    ]);
  });

  it('puts them in the Rocky Linux release of the image, with rpm purls', async () => {
    const inv = await scanLayers([
      bufferLayer(
        gzip(
          await tarLayer([
            { name: 'etc/os-release', content: 'NAME="Rocky Linux"\nID="rocky"\nVERSION_ID="9.3"\n' },
            { name: 'var/lib/rpm/rpmdb.sqlite', content: rpmdb(PKGS.map(headerBlob), true) },
          ]),
        ),
      ),
    ]);
    expect(inv.errors).toEqual([]);
    expect(inv.packages.map((p) => [p.ecosystem, p.name, p.sourceName, p.purl])).toEqual([
      ['Rocky Linux:9', 'openssl-libs', 'openssl', 'pkg:rpm/rocky/openssl-libs@3.0.7-27.el9?arch=x86_64&distro=rocky-9.3&epoch=1'],
      ['Rocky Linux:9', 'bash', 'bash', 'pkg:rpm/rocky/bash@5.1.8-9.el9?arch=x86_64&distro=rocky-9.3'],
    ]);
  });

  it('records a corrupt database as an extractor error', async () => {
    const inv = await scanLayers([bufferLayer(await tarLayer([{ name: 'var/lib/rpm/rpmdb.sqlite', content: Buffer.alloc(4096, 7) }]))]);
    expect(inv.packages).toEqual([]);
    expect(inv.errors).toMatchObject([{ kind: 'extractor', extractor: 'rpm', path: '/var/lib/rpm/rpmdb.sqlite' }]);
    expect(inv.partial).toBe(true);
  });
});
