/**
 * Go binaries: the module versions and Go version embedded by the Go linker (see go-buildinfo.ts).
 *
 * Which files: every regular file with an execute bit, plus every regular file in a `bin`/`sbin` directory, of
 * at least 1 KiB. Container images do not always keep executables in the usual directories (`/ko-app/x`,
 * `/manager`, `node_modules/@bufbuild/buf-linux-x64/bin/buf`), and the tar header's mode is the one signal
 * that costs nothing. Files whose first bytes are not ELF are dropped after those bytes. The file is streamed,
 * never buffered, so its size is not capped: only the build info windows are kept.
 */
import { golangPurl } from '../purl.js';
import type { EntryInfo, Extractor, FileSink } from '../walker/types.js';
import { GoBuildInfoReader, goPackages } from './go-buildinfo.js';

const BIN_DIR = /\/s?bin\/[^/]+$/;

export function wantsGoBinary(e: EntryInfo): boolean {
  return e.size >= 1024 && ((e.mode & 0o111) !== 0 || BIN_DIR.test(e.path));
}

export const goBinaryExtractor: Extractor = {
  name: 'go-binary',
  wants: wantsGoBinary,
  open(): FileSink {
    const reader = new GoBuildInfoReader();
    return {
      write: (chunk) => reader.write(chunk),
      finish() {
        const info = reader.result();
        if (!info) {
          if (reader.error) throw new Error(reader.error);
          return {};
        }
        return {
          packages: goPackages(info).map((p) => ({ ecosystem: 'Go', name: p.name, version: p.version, purl: golangPurl(p.name, p.version) })),
        };
      },
    };
  },
};
