/**
 * Hostile and broken layers pushed to a Berth that scans on push: a gzip bomb, a tar whose
 * entries climb out of the root with `..` and a symlink, and a truncated stream. Each sits on
 * top of a good Debian base layer. The scan of each is FAILED with the reason, the packages of
 * the base are still indexed and matched, the server's memory stays bounded, and the registry
 * keeps serving (health, pulls, and the next scan).
 */
import { once } from 'node:events';
import { join } from 'node:path';
import { createGzip, gzipSync } from 'node:zlib';
import { CreateRepositoryCommand, DescribeImageScanFindingsCommand, ECRClient, type DescribeImageScanFindingsCommandOutput } from '@aws-sdk/client-ecr';
import { afterAll, expect, it } from 'vitest';
import { rawTarHeader, TAR_END, tarBlocks } from '../../src/scan/walker/layers.test-support.js';
import { Cleanup, makeTempDir, run, setupSuite } from '../support/clients.js';
import { makeTar, writeImageLayout } from '../support/oci-layout.js';
import { appLayer, baseLayer, scanningSuite, VULNDB, writeRawImageLayout } from '../support/scan-fixtures.js';
import { REPO_ROOT, TEST_ROOT_CREDENTIALS, dumpServerLogsOnFailure, startBerth, type RunningServer } from '../support/server.js';
import { Skopeo } from '../support/tools.js';

const suite = scanningSuite();

/** A gzip'd tar holding one file of `bytes` zeros (about 1,000:1), streamed so the test never holds it whole. */
async function gzipBomb(bytes: number): Promise<Buffer> {
  const gz = createGzip({ level: 9 });
  const chunks: Buffer[] = [];
  gz.on('data', (c: Buffer) => chunks.push(c));
  const ended = once(gz, 'end');
  gz.write(rawTarHeader('opt/zeros.bin', bytes, '0'));
  const zero = Buffer.alloc(1 << 20);
  for (let left = bytes; left > 0; left -= zero.length) {
    if (!gz.write(left >= zero.length ? zero : zero.subarray(0, left))) await once(gz, 'drain');
  }
  gz.end(TAR_END);
  await ended;
  return Buffer.concat(chunks);
}

function traversal(): Buffer {
  const evil = Buffer.from('pwned\n');
  return gzipSync(
    Buffer.concat([
      rawTarHeader('../../../tmp/evil', evil.length, '0'),
      tarBlocks(evil),
      rawTarHeader('etc/shadow-link', 0, '2', '../../../../etc/shadow'),
      TAR_END,
    ]),
  );
}

const cleanup = new Cleanup();
let server: RunningServer;
let ecr: ECRClient;
let skopeo: Skopeo;
let layout: string;

async function finished(tag: string): Promise<DescribeImageScanFindingsCommandOutput> {
  const end = Date.now() + 120_000;
  for (;;) {
    const out = await ecr.send(new DescribeImageScanFindingsCommand({ repositoryName: 'hostile/app', imageId: { imageTag: tag }, maxResults: 1000 }));
    if (!['PENDING', 'IN_PROGRESS'].includes(out.imageScanStatus?.status ?? 'PENDING')) return out;
    if (Date.now() > end) throw new Error(`the scan of ${tag} did not finish`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

async function rssBytes(): Promise<number> {
  const text = await (await fetch(`${server.url}/metrics`)).text();
  return Number(/^process_resident_memory_bytes (\d+(?:\.\d+)?(?:e\+\d+)?)$/m.exec(text)?.[1] ?? NaN);
}

suite('hostile layers: failed scans, a healthy registry', () => {
  setupSuite(async () => {
    const tmp = cleanup.dir(await makeTempDir('scan-hostile'));
    server = await startBerth({ env: { BERTH_JOBS__POLL_INTERVAL_SECONDS: '0.1' } });
    cleanup.add(() => server.stop());
    ecr = new ECRClient({ endpoint: server.url, region: 'us-east-1', credentials: { ...TEST_ROOT_CREDENTIALS } });
    cleanup.add(() => ecr.destroy());
    skopeo = await Skopeo.create(tmp);
    layout = join(tmp, 'layout');
    const env = { ...process.env, AWS_ACCESS_KEY_ID: TEST_ROOT_CREDENTIALS.accessKeyId, AWS_SECRET_ACCESS_KEY: TEST_ROOT_CREDENTIALS.secretAccessKey };
    const imported = await run(process.execPath, [join(REPO_ROOT, 'bin', 'berth.js'), 'vulndb', 'import', join(VULNDB, 'debian'), '--data-dir', server.dataDir], { env, timeoutMs: 120_000 });
    if (imported.code !== 0) throw new Error(imported.stderr);
    await ecr.send(new CreateRepositoryCommand({ repositoryName: 'hostile/app', imageScanningConfiguration: { scanOnPush: true } }));
    const base = gzipSync(await makeTar(baseLayer()));
    const app = gzipSync(await makeTar(appLayer()));
    await writeRawImageLayout(layout, 'bomb', [base, await gzipBomb(300 * 1024 * 1024)]);
    await writeRawImageLayout(layout, 'traversal', [base, traversal()]);
    await writeRawImageLayout(layout, 'truncated', [base, app.subarray(0, Math.floor(app.length / 2))]);
    await writeImageLayout(layout, { tag: 'good', layers: [{ files: baseLayer() }] });
  });
  dumpServerLogsOnFailure(() => server);
  afterAll(() => cleanup.run());

  it.each([
    ['bomb', /decompress|ratio|bomb/i],
    ['traversal', /escapes the image root/],
    ['truncated', /unexpected end|truncated|end-of-archive|incorrect header|unexpected/i],
  ])('%s: FAILED with the reason; the base layer is still indexed and matched', async (tag, reason) => {
    const before = await rssBytes();
    await skopeo.copy(`oci:${layout}:${tag}`, `docker://${server.host}/hostile/app:${tag}`);
    const out = await finished(tag);
    expect(out.imageScanStatus?.status).toBe('FAILED');
    expect(out.imageScanStatus?.description).toMatch(/1 of 2 layers could not be read completely/);
    expect(out.imageScanStatus?.description).toMatch(reason);
    // The perl advisories of the good base layer are still found.
    expect(out.imageScanFindings?.findings?.some((f) => f.name === 'DEBIAN-CVE-2026-7017')).toBe(true);
    expect((await fetch(`${server.url}/healthz`)).status).toBe(200);
    // Bounded memory: a 300 MiB bomb is given up long before it is inflated.
    expect((await rssBytes()) - before).toBeLessThan(200 * 1024 * 1024);
  });

  it('keeps serving: the hostile images pull, and the next image scans COMPLETE', async () => {
    const inspect = await skopeo.runOk(['inspect', '--tls-verify=false', `docker://${server.host}/hostile/app:bomb`]);
    expect(inspect.stdout).toContain('"Digest"');
    await skopeo.copy(`oci:${layout}:good`, `docker://${server.host}/hostile/app:good`);
    expect((await finished('good')).imageScanStatus?.status).toBe('COMPLETE');
  });
});
