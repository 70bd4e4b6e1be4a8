import { join } from 'node:path';
import { afterAll, expect, it } from 'vitest';
import { Cleanup, makeTempDir, setupSuite, skipUnlessWith } from '../support/clients.js';
import {
  readBlob,
  readLayoutRef,
  sha256,
  writeImageLayout,
  writeIndexLayout,
  type IndexManifestJson,
  type ManifestJson,
  type WrittenImage,
} from '../support/oci-layout.js';
import { dumpServerLogsOnFailure, startBerth, type RunningServer } from '../support/server.js';
import { hostPlatform, Skopeo, startContainerd, type Containerd } from '../support/tools.js';

skipUnlessWith(['containerd', 'ctr', 'skopeo'], { root: true })('containerd (ctr) pulls from and pushes to a real registry process', () => {
  const cleanup = new Cleanup();
  let server: RunningServer;
  let containerd: Containerd;
  let skopeo: Skopeo;
  let tmp: string;
  let image: WrittenImage;
  let repo: string;

  setupSuite(async () => {
    tmp = cleanup.dir(await makeTempDir('ctr'));
    server = await startBerth();
    cleanup.add(() => server.stop());
    containerd = await startContainerd(tmp);
    cleanup.add(() => containerd.stop());
    skopeo = await Skopeo.create(tmp);
    repo = `${server.host}/e2e/containerd/app`;
    image = await writeImageLayout(join(tmp, 'src'), {
      tag: 'v1',
      platform: hostPlatform(),
      layers: [
        { files: { 'etc/motd': 'pushed by skopeo, pulled by containerd\n' } },
        { files: { 'usr/local/bin/tool': '#!/bin/sh\necho tool\n' } },
      ],
    });
    await skopeo.copy(`oci:${join(tmp, 'src')}:v1`, `docker://${repo}:v1`, ['--preserve-digests']);
  });

  // ctr takes registry credentials per command (`--user AWS:<password>`, what `docker login` stores).
  const creds = (): string[] => (server.registryPassword ? ['--user', `AWS:${server.registryPassword}`] : []);

  dumpServerLogsOnFailure(() => server);
  afterAll(async () => {
    if (containerd && process.env['E2E_DEBUG']) process.stderr.write(`[e2e] containerd log tail:\n${containerd.logs().slice(-4000)}\n`);
    await cleanup.run();
  });

  /** DIGEST column of `ctr images ls` for a reference. */
  async function listedDigest(ref: string): Promise<string | undefined> {
    const r = await containerd.ctrOk(['images', 'ls']);
    for (const line of r.stdout.split('\n')) {
      const cols = line.trim().split(/\s+/);
      if (cols[0] === ref) return cols[2];
    }
    return undefined;
  }

  /** Content of a blob from containerd's content store. */
  async function content(digest: string): Promise<Buffer> {
    return (await containerd.ctrOk(['content', 'get', digest])).stdoutBytes;
  }

  it('ctr pull of an image pushed by skopeo', async () => {
    await containerd.ctrOk(['images', 'pull', '--plain-http', ...creds(), '--snapshotter', 'native', `${repo}:v1`]);
    expect(await listedDigest(`${repo}:v1`)).toBe(image.manifestDigest);
    // the manifest and config in containerd's content store are the ones we wrote
    expect(sha256(await content(image.manifestDigest))).toBe(image.manifestDigest);
    expect(sha256(await content(image.configDigest))).toBe(image.configDigest);
    // every layer was fetched intact (and unpacked, which checks the diff ids)
    for (const l of image.layers) expect(sha256(await content(l.digest))).toBe(l.digest);
    const snapshots = await containerd.ctrOk(['snapshots', '--snapshotter', 'native', 'ls']);
    expect(snapshots.stdout.trim().split('\n').length).toBeGreaterThan(image.layers.length);
  });

  it('ctr push to a new repository name; skopeo inspects the pushed copy', async () => {
    const target = `${server.host}/e2e/containerd/pushed`;
    await containerd.ctrOk(['images', 'push', '--plain-http', ...creds(), `${target}:v1`, `${repo}:v1`]);
    const info = await skopeo.inspect(`docker://${target}:v1`);
    expect(info.Digest).toBe(image.manifestDigest);
    expect(info.Layers).toEqual(image.layers.map((l) => l.digest));

    // and the blobs really are readable under the new name (containerd may have mounted them)
    const out = join(tmp, 'out-pushed');
    await skopeo.copy(`docker://${target}:v1`, `oci:${out}:v1`, ['--preserve-digests']);
    const back = await readLayoutRef(out, 'v1');
    expect(back.digest).toBe(image.manifestDigest);
    for (const l of (back.json as ManifestJson).layers) expect((await readBlob(out, l.digest)).length).toBe(l.size);
  });

  it('ctr pull --all-platforms of a multi-platform index and push of it to a new name keep every digest', async () => {
    const src = join(tmp, 'src-index');
    const index = await writeIndexLayout(src, {
      tag: 'multi',
      platforms: [
        { architecture: 'amd64', os: 'linux' },
        { architecture: 'arm64', os: 'linux' },
      ],
    });
    const multiRepo = `${server.host}/e2e/containerd/multi`;
    await skopeo.copy(`oci:${src}:multi`, `docker://${multiRepo}:v1`, ['--all', '--preserve-digests']);

    await containerd.ctrOk(['images', 'pull', '--plain-http', ...creds(), '--snapshotter', 'native', '--all-platforms', `${multiRepo}:v1`]);
    expect(await listedDigest(`${multiRepo}:v1`)).toBe(index.indexDigest);

    const target = `${server.host}/e2e/containerd/multi-pushed`;
    await containerd.ctrOk(['images', 'push', '--plain-http', ...creds(), `${target}:v1`, `${multiRepo}:v1`]);
    const raw = await skopeo.inspectRaw(`docker://${target}:v1`);
    expect(sha256(raw)).toBe(index.indexDigest);
    expect((JSON.parse(raw) as IndexManifestJson).manifests.map((m) => m.digest)).toEqual(index.images.map((i) => i.manifestDigest));
    for (const img of index.images) {
      const info = await skopeo.inspect(`docker://${target}@${img.manifestDigest}`);
      expect(info.Digest).toBe(img.manifestDigest);
      expect(info.Layers).toEqual(img.layers.map((l) => l.digest));
      expect(info.Architecture).toBe(img.platform.architecture);
    }
  });
});
