import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { Cleanup, makeTempDir, skipUnless } from '../support/clients.js';
import { writeImageLayout, writeIndexLayout, type WrittenImage, type WrittenIndex } from '../support/oci-layout.js';
import { dumpServerLogsOnFailure, startBerth, type RunningServer } from '../support/server.js';
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

  beforeAll(async () => {
    tmp = cleanup.dir(await makeTempDir('podman'));
    server = await startBerth();
    cleanup.add(() => server.stop());
    podman = await Podman.create(tmp);
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
});
