import { randomUUID } from 'node:crypto';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, expect, it } from 'vitest';
import { Cleanup, makeTempDir, setupSuite, skipUnless } from '../support/clients.js';
import { sha256, writeImageLayout, writeIndexLayout, type ManifestJson, type WrittenImage, type WrittenIndex } from '../support/oci-layout.js';
import { dumpServerLogsOnFailure, nativeReceives, startBerth, type RunningServer } from '../support/server.js';
import { hostPlatform, Podman, Skopeo } from '../support/tools.js';

interface PodmanImage {
  Id: string;
  Digest: string;
  RepoTags: string[];
  RepoDigests: string[];
  Architecture: string;
  Os: string;
  RootFS?: { Type: string; Layers: string[] };
}

skipUnless('podman', 'skopeo')('podman pulls from a real registry process', () => {
  const cleanup = new Cleanup();
  let server: RunningServer;
  let podman: Podman;
  let skopeo: Skopeo;
  let tmp: string;
  let image: WrittenImage;
  let repo: string;

  setupSuite(async () => {
    tmp = cleanup.dir(await makeTempDir('podman'));
    server = await startBerth();
    cleanup.add(() => server.stop());
    podman = await Podman.create(tmp);
    cleanup.add(() => podman.dispose());
    skopeo = await Skopeo.create(tmp);
    repo = `${server.host}/e2e/podman/app`;
    image = await writeImageLayout(join(tmp, 'src'), {
      tag: 'v1',
      platform: hostPlatform(),
      layers: [
        { files: { 'etc/motd': 'pushed by skopeo, pulled by podman\n' } },
        { files: { 'srv/www/index.html': '<h1>berth</h1>\n', 'srv/www/robots.txt': 'User-agent: *\n' } },
      ],
    });
    await skopeo.copy(`oci:${join(tmp, 'src')}:v1`, `docker://${repo}:v1`, ['--preserve-digests']);
  });

  dumpServerLogsOnFailure(() => server);
  afterAll(async () => {
    await cleanup.run();
  });

  async function inspect(ref: string): Promise<PodmanImage> {
    const r = await podman.runOk(['image', 'inspect', ref]);
    const list = JSON.parse(r.stdout) as PodmanImage[];
    expect(list).toHaveLength(1);
    return list[0] as PodmanImage;
  }

  it('podman pull of an image pushed by skopeo; podman image inspect shows its digest', async () => {
    const r = await podman.runOk(['pull', '--signature-policy', podman.signaturePolicy, '--tls-verify=false', `${repo}:v1`]);
    const id = r.stdout.trim().split('\n').pop();
    // podman's image id is the hex of the config digest
    expect(`sha256:${id}`).toBe(image.configDigest);

    const info = await inspect(`${repo}:v1`);
    expect(info.Digest).toBe(image.manifestDigest);
    expect(info.RepoDigests).toContain(`${repo}@${image.manifestDigest}`);
    expect(info.RepoTags).toContain(`${repo}:v1`);
    expect(info.Architecture).toBe(hostPlatform().architecture);
    expect(info.Os).toBe('linux');
    expect(info.RootFS?.Layers).toEqual(image.layers.map((l) => l.diffId));
  });

  it('podman pull by digest', async () => {
    const ref = `${repo}@${image.manifestDigest}`;
    await podman.runOk(['pull', '--signature-policy', podman.signaturePolicy, '--tls-verify=false', ref]);
    const info = await inspect(ref);
    expect(info.Digest).toBe(image.manifestDigest);
    expect(`sha256:${info.Id}`).toBe(image.configDigest);
  });

  it('podman pull of a multi-platform index picks the image for this machine', async () => {
    const host = hostPlatform();
    const other = host.architecture === 'arm64' ? { architecture: 'amd64', os: 'linux' } : { architecture: 'arm64', os: 'linux' };
    const src = join(tmp, 'src-index');
    const index: WrittenIndex = await writeIndexLayout(src, { tag: 'multi', platforms: [other, host] });
    const multiRepo = `${server.host}/e2e/podman/multi`;
    await skopeo.copy(`oci:${src}:multi`, `docker://${multiRepo}:v1`, ['--all', '--preserve-digests']);

    await podman.runOk(['pull', '--signature-policy', podman.signaturePolicy, '--tls-verify=false', `${multiRepo}:v1`]);
    const info = await inspect(`${multiRepo}:v1`);
    const mine = index.images[1];
    expect(mine).toBeDefined();
    expect(`sha256:${info.Id}`).toBe(mine?.configDigest);
    expect(info.Architecture).toBe(host.architecture);
    expect(info.RepoDigests).toContain(`${multiRepo}@${index.indexDigest}`);
    expect(info.RepoDigests).toContain(`${multiRepo}@${mine?.manifestDigest}`);
  });

  it('podman push to a new repository; skopeo sees the same image', async () => {
    const target = `${server.host}/e2e/podman/pushed`;
    const digestFile = join(tmp, 'podman-push-digest');
    await podman.runOk([
      'push',
      '--signature-policy',
      podman.signaturePolicy,
      '--tls-verify=false',
      '--digestfile',
      digestFile,
      `${repo}:v1`,
      `docker://${target}:copy`,
    ]);
    const digest = (await readFile(digestFile, 'utf8')).trim();
    const info = await skopeo.inspect(`docker://${target}:copy`);
    expect(info.Digest).toBe(digest);
    // podman may recompress layers, but the uncompressed content (diff ids) must be the same
    const config = await skopeo.inspectConfig(`docker://${target}:copy`);
    expect(config.rootfs.diff_ids).toEqual(image.layers.map((l) => l.diffId));
    expect(info.Layers).toHaveLength(image.layers.length);
  });

  it('podman build (FROM scratch, COPY) and push with zstd layers; a fresh podman pulls it and finds the file', async () => {
    // a locally built image has no gzip'd variant to reuse, so the push really compresses with zstd
    const builder = await Podman.create(join(tmp, 'builder'));
    cleanup.add(() => builder.dispose());
    const ctx = join(tmp, 'zstd-ctx');
    await mkdir(ctx, { recursive: true });
    const text = `zstd layer ${randomUUID()}\n`;
    await writeFile(join(ctx, 'note.txt'), text);
    await writeFile(join(ctx, 'Containerfile'), 'FROM scratch\nCOPY note.txt /data/note.txt\n');
    await builder.runOk(['build', '--signature-policy', builder.signaturePolicy, '-t', 'localhost/berth-e2e/zstd:latest', ctx]);
    const target = `${server.host}/e2e/podman/zstd`;
    const digestFile = join(tmp, 'zstd-digest');
    const received = await nativeReceives(server);
    await builder.runOk([
      'push',
      '--signature-policy',
      builder.signaturePolicy,
      '--tls-verify=false',
      '--format',
      'oci',
      '--compression-format',
      'zstd',
      '--digestfile',
      digestFile,
      'localhost/berth-e2e/zstd:latest',
      `docker://${target}:v1`,
    ]);
    const digest = (await readFile(digestFile, 'utf8')).trim();
    // The layer, compressed as it is sent, goes as one PATCH with Transfer-Encoding: chunked, which
    // Berth decodes from the socket natively (src/http/chunked-reads.ts).
    if (received !== null) expect(await nativeReceives(server)).toBeGreaterThan(received);
    const raw = await skopeo.inspectRaw(`docker://${target}:v1`);
    expect(sha256(raw)).toBe(digest);
    const manifest = JSON.parse(raw) as ManifestJson;
    expect(manifest.layers.map((l) => l.mediaType)).toEqual(['application/vnd.oci.image.layer.v1.tar+zstd']);
    // zstd frames start with 28 b5 2f fd: the registry kept the bytes as pushed
    const first = manifest.layers[0];
    if (!first) throw new Error('no layers');
    const blob = Buffer.from(await (await fetch(`${server.url}/v2/e2e/podman/zstd/blobs/${first.digest}`)).arrayBuffer());
    expect(sha256(blob)).toBe(first.digest);
    expect(blob.subarray(0, 4).toString('hex')).toBe('28b52ffd');

    const fresh = await Podman.create(join(tmp, 'fresh'));
    cleanup.add(() => fresh.dispose());
    await fresh.runOk(['pull', '--signature-policy', fresh.signaturePolicy, '--tls-verify=false', `${target}:v1`]);
    const r = await fresh.runOk(['image', 'inspect', `${target}:v1`]);
    const pulled = (JSON.parse(r.stdout) as PodmanImage[])[0];
    expect(pulled?.Digest).toBe(digest);
    const mountPoint = (await fresh.runOk(['image', 'mount', `${target}:v1`])).stdout.trim();
    try {
      expect(await readFile(join(mountPoint, 'data', 'note.txt'), 'utf8')).toBe(text);
    } finally {
      await fresh.run(['image', 'unmount', `${target}:v1`]);
    }
  });
});
