import { randomUUID } from 'node:crypto';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { afterAll, expect, it } from 'vitest';
import { Cleanup, makeTempDir, setupSuite, skipUnless } from '../support/clients.js';
import {
  MT_DOCKER_LIST,
  MT_DOCKER_MANIFEST,
  MT_OCI_INDEX,
  MT_OCI_MANIFEST,
  readDirTransport,
  readTar,
  sha256,
  type IndexManifestJson,
} from '../support/oci-layout.js';
import { dumpServerLogsOnFailure, nativeReceives, startBerth, type RunningServer } from '../support/server.js';
import { Buildah, Skopeo } from '../support/tools.js';

skipUnless('buildah', 'skopeo')('buildah builds from scratch and pushes to a real registry process', () => {
  const cleanup = new Cleanup();
  let server: RunningServer;
  let buildah: Buildah;
  let skopeo: Skopeo;
  let tmp: string;
  const content = `built by buildah for berth e2e ${randomUUID()}\n`;
  const localImage = 'localhost/berth-e2e/buildah-hello:latest';
  let repo: string;

  setupSuite(async () => {
    tmp = cleanup.dir(await makeTempDir('buildah'));
    server = await startBerth();
    cleanup.add(() => server.stop());
    buildah = await Buildah.create(tmp);
    cleanup.add(() => buildah.dispose());
    skopeo = await Skopeo.create(tmp);
    repo = `${server.host}/e2e/buildah/hello`;

    const container = (await buildah.runOk(['from', '--signature-policy', buildah.signaturePolicy, 'scratch'])).stdout.trim();
    expect(container).not.toBe('');
    cleanup.add(() => buildah.run(['rm', container]));
    const file = join(tmp, 'hello.txt');
    await writeFile(file, content);
    await buildah.runOk(['add', container, file, '/data/hello.txt']);
    await buildah.runOk(['config', '--cmd', '["/data/hello.txt"]', '--label', 'org.example.e2e=buildah', container]);
    await buildah.runOk(['commit', '--signature-policy', buildah.signaturePolicy, container, localImage]);
  });

  dumpServerLogsOnFailure(() => server);
  afterAll(async () => {
    await cleanup.run();
  });

  async function pushAndCheck(format: 'oci' | 'v2s2', tag: string, mediaType: string, uploadsLayer: boolean): Promise<void> {
    const digestFile = join(tmp, `digest-${tag}`);
    const received = await nativeReceives(server);
    await buildah.runOk([
      'push',
      '--signature-policy',
      buildah.signaturePolicy,
      '--tls-verify=false',
      '--retry',
      '0',
      '--format',
      format,
      '--digestfile',
      digestFile,
      localImage,
      `docker://${repo}:${tag}`,
    ]);
    const pushedDigest = (await readFile(digestFile, 'utf8')).trim();
    // buildah compresses the layer as it sends it: one PATCH with Transfer-Encoding: chunked, which
    // Berth decodes from the socket natively (src/http/chunked-reads.ts). (The second push finds the layer there.)
    if (received !== null && uploadsLayer) expect(await nativeReceives(server)).toBeGreaterThan(received);
    expect(pushedDigest).toMatch(/^sha256:[0-9a-f]{64}$/);

    const info = await skopeo.inspect(`docker://${repo}:${tag}`);
    expect(info.Digest).toBe(pushedDigest);
    const raw = await skopeo.inspectRaw(`docker://${repo}:${tag}`);
    expect(sha256(raw)).toBe(pushedDigest);
    expect((JSON.parse(raw) as { mediaType?: string }).mediaType).toBe(mediaType);

    // Pull it back with another client and find the file in a layer.
    const out = join(tmp, `pulled-${tag}`);
    await skopeo.copy(`docker://${repo}:${tag}`, `dir:${out}`);
    const pulled = await readDirTransport(out);
    expect(pulled.manifestDigest).toBe(pushedDigest);
    expect(pulled.manifest.layers.length).toBeGreaterThanOrEqual(1);
    let found: Buffer | undefined;
    const diffIds: string[] = [];
    for (const layer of pulled.manifest.layers) {
      const blob = await pulled.blob(layer.digest);
      expect(blob.length).toBe(layer.size);
      diffIds.push(sha256(blob[0] === 0x1f && blob[1] === 0x8b ? gunzipSync(blob) : blob));
      const files = await readTar(blob);
      found ??= files.get('data/hello.txt');
    }
    expect(found?.toString('utf8')).toBe(content);
    const config = JSON.parse((await pulled.blob(pulled.manifest.config.digest)).toString('utf8')) as {
      rootfs: { diff_ids: string[] };
      config?: { Labels?: Record<string, string> };
    };
    expect(config.rootfs.diff_ids).toEqual(diffIds);
    expect(config.config?.Labels?.['org.example.e2e']).toBe('buildah');
  }

  it('pushes an OCI image and skopeo pulls it back with the file in a layer', async () => {
    await pushAndCheck('oci', 'oci', MT_OCI_MANIFEST, true);
  });

  it('pushes a Docker schema 2 image and skopeo pulls it back with the file in a layer', async () => {
    await pushAndCheck('v2s2', 'v2s2', MT_DOCKER_MANIFEST, false);
  });

  it('buildah pulls the pushed image into fresh storage and the file is in its root filesystem', async () => {
    const fresh = await Buildah.create(join(tmp, 'fresh'));
    cleanup.add(() => fresh.dispose());
    const ctr = (
      await fresh.runOk(['from', '--signature-policy', fresh.signaturePolicy, '--tls-verify=false', '--pull=always', '--retry', '0', `docker://${repo}:oci`])
    ).stdout
      .trim()
      .split('\n')
      .pop() ?? '';
    expect(ctr).not.toBe('');
    const mountPoint = (await fresh.runOk(['mount', ctr])).stdout.trim();
    try {
      expect(await readFile(join(mountPoint, 'data', 'hello.txt'), 'utf8')).toBe(content);
    } finally {
      await fresh.run(['umount', ctr]);
      await fresh.run(['rm', ctr]);
    }
  });

  it.each([
    ['oci', MT_OCI_INDEX, MT_OCI_MANIFEST],
    ['v2s2', MT_DOCKER_LIST, MT_DOCKER_MANIFEST],
  ] as const)('buildah manifest push --all of a two-platform list (%s)', async (format, listType, imageType) => {
    // a second image, for arm64, with its own file
    const armContent = `arm64 flavour ${randomUUID()}\n`;
    const armImage = `localhost/berth-e2e/buildah-hello-arm64-${format}:latest`;
    const ctr = (await buildah.runOk(['from', '--signature-policy', buildah.signaturePolicy, 'scratch'])).stdout.trim();
    try {
      const f = join(tmp, `arm-${format}.txt`);
      await writeFile(f, armContent);
      await buildah.runOk(['add', ctr, f, '/data/hello.txt']);
      await buildah.runOk(['config', '--arch', 'arm64', '--os', 'linux', ctr]);
      await buildah.runOk(['commit', '--signature-policy', buildah.signaturePolicy, ctr, armImage]);
    } finally {
      await buildah.run(['rm', ctr]);
    }
    const list = `localhost/berth-e2e/buildah-list-${format}`;
    await buildah.runOk(['manifest', 'create', list]);
    await buildah.runOk(['manifest', 'add', list, `containers-storage:${localImage}`]);
    await buildah.runOk(['manifest', 'add', list, `containers-storage:${armImage}`]);

    const tag = `list-${format}`;
    const digestFile = join(tmp, `digest-${tag}`);
    await buildah.runOk([
      'manifest',
      'push',
      '--signature-policy',
      buildah.signaturePolicy,
      '--tls-verify=false',
      '--all',
      '--format',
      format,
      '--digestfile',
      digestFile,
      list,
      `docker://${repo}:${tag}`,
    ]);
    const digest = (await readFile(digestFile, 'utf8')).trim();

    const raw = await skopeo.inspectRaw(`docker://${repo}:${tag}`);
    expect(sha256(raw)).toBe(digest);
    const served = JSON.parse(raw) as IndexManifestJson;
    expect(served.mediaType).toBe(listType);
    expect(served.manifests.map((m) => m.platform?.architecture).sort()).toEqual(['amd64', 'arm64']);

    // every image of the list is there, with the right file in it
    const expected: Record<string, string> = { amd64: content, arm64: armContent };
    for (const m of served.manifests) {
      expect(m.mediaType).toBe(imageType);
      const arch = m.platform?.architecture ?? '?';
      const out = join(tmp, `pulled-${tag}-${arch}`);
      await skopeo.copy(`docker://${repo}@${m.digest}`, `dir:${out}`);
      const pulled = await readDirTransport(out);
      expect(pulled.manifestDigest).toBe(m.digest);
      let found: string | undefined;
      for (const layer of pulled.manifest.layers) found ??= (await readTar(await pulled.blob(layer.digest))).get('data/hello.txt')?.toString('utf8');
      expect(found).toBe(expected[arch]);
    }

    // and the whole list copies back out with skopeo --all, unchanged (dir: keeps Docker lists as they are)
    const outAll = join(tmp, `all-${tag}`);
    await skopeo.copy(`docker://${repo}:${tag}`, `dir:${outAll}`, ['--all', '--preserve-digests']);
    expect((await readDirTransport(outAll)).manifestDigest).toBe(digest);
  });
});
