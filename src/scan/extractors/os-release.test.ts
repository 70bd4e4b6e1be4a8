import { describe, expect, it } from 'vitest';
import { distroEcosystem } from '../inventory.js';
import { fixture, readFixture } from '../fixtures.test-support.js';
import { parseOsRelease } from './os-release.js';

const deb = fixture('debian/os-release', 'Debian 12 os-release (real fixture)');

describe.skipIf(!deb.present)(deb.title, () => {
  it('reads Debian 12', () => {
    const os = parseOsRelease(readFixture('debian/os-release'));
    expect(os).toMatchObject({ id: 'debian', versionId: '12', versionCodename: 'bookworm', prettyName: 'Debian GNU/Linux 12 (bookworm)' });
    expect(distroEcosystem(os, 'dpkg')).toBe('Debian:12');
  });
});

describe('os-release', () => {
  it.each([
    ['NAME="Alpine Linux"\nID=alpine\nVERSION_ID=3.19.1\n', 'apk', 'Alpine:v3.19'],
    ['ID=ubuntu\nVERSION_ID="22.04"\nVERSION="22.04.4 LTS (Jammy Jellyfish)"\nID_LIKE=debian\n', 'dpkg', 'Ubuntu:22.04:LTS'],
    ['ID=ubuntu\nVERSION_ID="23.10"\nVERSION="23.10 (Mantic Minotaur)"\n', 'dpkg', 'Ubuntu:23.10'],
    ["ID='rocky'\nVERSION_ID='9.3'\n", 'rpm', 'Rocky Linux:9'],
    ['ID="almalinux"\nVERSION_ID="8.9"\n', 'rpm', 'AlmaLinux:8'],
    ['ID="rhel"\nVERSION_ID="9.4"\n', 'rpm', 'Red Hat'],
    ['ID=wolfi\nVERSION_ID=20230201\n', 'apk', 'Wolfi'],
    ['ID="opensuse-leap"\nVERSION_ID="15.5"\n', 'rpm', 'openSUSE:Leap 15.5'],
    ['ID=debian\n# testing has no VERSION_ID\n', 'dpkg', 'Debian'],
    ['ID=fedora\nNAME="Fedora Linux"\nVERSION_ID=40\n', 'rpm', 'Fedora Linux'],
  ] as const)('%j → %s packages in %s', (text, manager, ecosystem) => {
    expect(distroEcosystem(parseOsRelease(text), manager)).toBe(ecosystem);
  });

  it('falls back to the manager distribution, unscoped, without os-release', () => {
    expect([distroEcosystem(undefined, 'dpkg'), distroEcosystem(undefined, 'apk'), distroEcosystem(undefined, 'rpm')]).toEqual(['Debian', 'Alpine', 'Red Hat']);
  });

  it('unquotes and unescapes values and ignores junk', () => {
    expect(parseOsRelease('garbage line\nID=Debian\nPRETTY_NAME="say \\"hi\\" \\\\ $"\n')).toEqual({ id: 'debian', prettyName: 'say "hi" \\ $' });
    expect(parseOsRelease('NAME=x\n')).toBeUndefined();
  });
});
