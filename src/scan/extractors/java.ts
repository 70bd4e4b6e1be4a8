/**
 * Java: `META-INF/maven/<groupId>/<artifactId>/pom.properties` inside `.jar`, `.war` and `.ear` files, and inside
 * the archives nested in them (`WEB-INF/lib/*.jar`, Spring Boot's `BOOT-INF/lib/*.jar`, `lib/*.jar` of an ear), up to
 * two levels deep. A zip is read through its central directory (yauzl, from memory: the tar stream cannot seek,
 * so the archive is buffered up to `maxArchiveBytes`, and larger ones are reported, not read). Everything inflated
 * from one archive, nested archives included, counts against that same cap, and yauzl checks each entry's
 * declared size against the bytes it inflates, so a zip bomb ends with an error.
 * Not covered: jars without pom.properties (shaded or non-Maven builds; their MANIFEST.MF is not trusted for
 * names), Gradle caches, `.jpi`/`.hpi`.
 */
import yauzl from 'yauzl';
import { mavenPurl } from '../purl.js';
import type { ExtractedPackage, ExtractorLimits } from '../walker/types.js';
import { bufferedExtractor } from './buffered.js';

const ARCHIVE = /\.(?:jar|war|ear)$/i;
const POM_PROPERTIES = /^META-INF\/maven\/[^/]+\/[^/]+\/pom\.properties$/;
const MAX_DEPTH = 2;
const MAX_PROPERTIES_BYTES = 64 * 1024;

export function parseProperties(text: string): Map<string, string> {
  const out = new Map<string, string>();
  for (const raw of text.split(/\r?\n/)) {
    const line = raw.trim();
    if (line === '' || line.startsWith('#') || line.startsWith('!')) continue;
    const m = /^([^=:\s]+)\s*[=:\s]\s*(.*)$/.exec(line);
    if (m) out.set(m[1] as string, m[2] as string);
  }
  return out;
}

interface Budget {
  left: number;
}

function openZip(buf: Buffer): Promise<yauzl.ZipFile> {
  return new Promise((resolve, reject) =>
    yauzl.fromBuffer(buf, { lazyEntries: true, validateEntrySizes: true }, (err, zip) => (err ? reject(err) : resolve(zip))),
  );
}

function readEntry(zip: yauzl.ZipFile, entry: yauzl.Entry, budget: Budget): Promise<Buffer> {
  if (entry.uncompressedSize > budget.left) return Promise.reject(new Error(`${entry.fileName}: inflating it would exceed the archive cap`));
  budget.left -= entry.uncompressedSize;
  return new Promise((resolve, reject) =>
    zip.openReadStream(entry, (err, stream) => {
      if (err) return reject(err);
      const chunks: Buffer[] = [];
      stream.on('data', (c: Buffer) => chunks.push(c));
      stream.on('error', reject);
      stream.on('end', () => resolve(Buffer.concat(chunks)));
    }),
  );
}

/** Walks a zip's central directory, calling `visit` for each entry in turn. */
async function eachEntry(zip: yauzl.ZipFile, visit: (e: yauzl.Entry) => Promise<void>): Promise<void> {
  await new Promise<void>((resolve, reject) => {
    zip.on('error', reject);
    zip.on('end', resolve);
    zip.on('entry', (e: yauzl.Entry) => {
      visit(e).then(() => zip.readEntry(), (err: unknown) => {
        zip.close();
        reject(err);
      });
    });
    zip.readEntry();
  });
}

export async function javaArchivePackages(
  buf: Buffer,
  limits: ExtractorLimits,
  innerPath = '',
  depth = 0,
  budget: Budget = { left: limits.maxArchiveBytes },
  errors: string[] = [],
): Promise<ExtractedPackage[]> {
  const out: ExtractedPackage[] = [];
  const zip = await openZip(buf);
  await eachEntry(zip, async (e) => {
    if (POM_PROPERTIES.test(e.fileName) && e.uncompressedSize <= MAX_PROPERTIES_BYTES) {
      const props = parseProperties((await readEntry(zip, e, budget)).toString('utf8'));
      const [g, a, v] = [props.get('groupId'), props.get('artifactId'), props.get('version')];
      if (g && a && v) {
        const p: ExtractedPackage = { ecosystem: 'Maven', name: `${g}:${a}`, version: v, purl: mavenPurl(g, a, v) };
        if (innerPath) p.innerPath = innerPath;
        out.push(p);
      }
    } else if (ARCHIVE.test(e.fileName) && depth < MAX_DEPTH) {
      const where = innerPath ? `${innerPath}!/${e.fileName}` : e.fileName;
      try {
        const nested = await javaArchivePackages(await readEntry(zip, e, budget), limits, where, depth + 1, budget, errors);
        out.push(...nested);
      } catch (err) {
        // A broken nested archive does not hide what the others hold.
        errors.push(`${where}: ${err instanceof Error ? err.message : String(err)}`);
      }
    }
  });
  return out;
}

export const javaExtractor = bufferedExtractor({
  name: 'java',
  wants: (e) => ARCHIVE.test(e.path),
  cap: (l) => l.maxArchiveBytes,
  async parse(content, _entry, limits) {
    const errors: string[] = [];
    const packages = await javaArchivePackages(content, limits, '', 0, { left: limits.maxArchiveBytes }, errors);
    return errors.length > 0 ? { packages, errors } : { packages };
  },
});
