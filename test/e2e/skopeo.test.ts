import { join } from 'node:path';
import { afterAll, expect, it } from 'vitest';
import { Cleanup, makeTempDir, setupSuite, skipUnless } from '../support/clients.js';
import {
  MT_OCI_INDEX,
  MT_OCI_MANIFEST,
  readBlob,
  readLayoutRef,
  readManifest,
  sha256,
  writeImageLayout,
  writeIndexLayout,
  type IndexManifestJson,
  type ManifestJson,
  type WrittenImage,
} from '../support/oci-layout.js';
import { dumpServerLogsOnFailure, startBerth, type RunningServer } from '../support/server.js';
import { Skopeo, type SkopeoInspect } from '../support/tools.js';

/** ~1.5 MiB of deterministic, poorly compressible bytes, so a layer blob is not tiny. */
function noise(bytes: number, seed: number): Buffer {
  const out = Buffer.alloc(bytes);
  let x = seed >>> 0 || 1;
  for (let i = 0; i < bytes; i++) {
    x ^= x << 13;
    x >>>= 0;
    x ^= x >>> 17;
    x ^= x << 5;
    x >>>= 0;
    out[i] = x & 0xff;
  }
  return out;
}

skipUnless('skopeo')('skopeo against a real registry process', () => {
  const cleanup = new Cleanup();
  let server: RunningServer;
  let skopeo: Skopeo;
  let tmp: string;
  let image: WrittenImage;
  let repo: string;

  setupSuite(async () => {
    tmp = cleanup.dir(await makeTempDir('skopeo'));
    server = await startBerth();
    cleanup.add(() => server.stop());
    skopeo = await Skopeo.create(tmp);
    repo = `${server.host}/e2e/skopeo/app`;
    image = await writeImageLayout(join(tmp, 'src'), {
      tag: 'v1',
      layers: [
        { files: { 'etc/os-release': 'NAME="berth-e2e"\nID=berth\n', 'etc/hostname': 'berth\n' } },
        { files: { 'usr/share/data/blob.bin': noise(1536 * 1024, 42) } },
        { files: { 'app/main.sh': '#!/bin/sh\necho "hello from berth e2e"\n', 'app/README': 'three layers\n' } },
      ],
    });
  });

  dumpServerLogsOnFailure(() => server);
  afterAll(async () => {
    await cleanup.run();
  });

  it('copies a 3-layer image from an OCI layout into the registry and back out with identical digests', async () => {
    expect(image.layers).toHaveLength(3);
    await skopeo.copy(`oci:${join(tmp, 'src')}:v1`, `docker://${repo}:v1`, ['--preserve-digests']);

    // The registry serves the manifest under the same digest, byte for byte.
    const res = await fetch(`${server.url}/v2/e2e/skopeo/app/manifests/v1`, {
      headers: { Accept: `${MT_OCI_MANIFEST}, ${MT_OCI_INDEX}` },
    });
    expect(res.status).toBe(200);
    const body = Buffer.from(await res.arrayBuffer());
    expect(sha256(body)).toBe(image.manifestDigest);
    expect(res.headers.get('docker-content-digest')).toBe(image.manifestDigest);
    expect(res.headers.get('content-type')).toBe(MT_OCI_MANIFEST);

    const out = join(tmp, 'out');
    await skopeo.copy(`docker://${repo}:v1`, `oci:${out}:v1`, ['--preserve-digests']);
    const back = await readLayoutRef(out, 'v1');
    expect(back.digest).toBe(image.manifestDigest);
    expect(back.raw.equals(image.manifestBytes)).toBe(true);
    const manifest = back.json as ManifestJson;
    expect(manifest.config.digest).toBe(image.configDigest);
    expect(manifest.layers.map((l) => l.digest)).toEqual(image.layers.map((l) => l.digest));
    expect(manifest.layers.map((l) => l.size)).toEqual(image.layers.map((l) => l.size));
    // every blob arrived and its content hashes to its digest (readBlob checks)
    for (const l of manifest.layers) expect((await readBlob(out, l.digest)).length).toBe(l.size);
    const config = JSON.parse((await readBlob(out, manifest.config.digest)).toString('utf8')) as { rootfs: { diff_ids: string[] } };
    expect(config.rootfs.diff_ids).toEqual(image.layers.map((l) => l.diffId));
  });

  it('skopeo inspect reports the manifest digest, layers and config', async () => {
    const info = await skopeo.inspect(`docker://${repo}:v1`);
    expect(info.Digest).toBe(image.manifestDigest);
    expect(info.Layers).toEqual(image.layers.map((l) => l.digest));
    expect(info.Architecture).toBe('amd64');
    expect(info.Os).toBe('linux');
    expect(info.RepoTags).toContain('v1');

    const byDigest = await skopeo.inspect(`docker://${repo}@${image.manifestDigest}`);
    expect(byDigest.Digest).toBe(image.manifestDigest);
    expect(byDigest.Layers).toEqual(image.layers.map((l) => l.digest));

    const raw = await skopeo.inspectRaw(`docker://${repo}:v1`);
    expect(sha256(raw)).toBe(image.manifestDigest);

    const config = await skopeo.inspectConfig(`docker://${repo}:v1`);
    expect(config.rootfs.diff_ids).toEqual(image.layers.map((l) => l.diffId));
  });

  it('copies a multi-platform index with --all and back out with identical digests', async () => {
    const src = join(tmp, 'src-index');
    const index = await writeIndexLayout(src, {
      tag: 'multi',
      platforms: [
        { architecture: 'amd64', os: 'linux' },
        { architecture: 'arm64', os: 'linux', variant: 'v8' },
      ],
    });
    const multiRepo = `${server.host}/e2e/skopeo/multi`;
    await skopeo.copy(`oci:${src}:multi`, `docker://${multiRepo}:v1`, ['--all', '--preserve-digests']);

    const raw = await skopeo.inspectRaw(`docker://${multiRepo}:v1`);
    expect(sha256(raw)).toBe(index.indexDigest);
    const served = JSON.parse(raw) as IndexManifestJson;
    expect(served.manifests.map((m) => m.digest)).toEqual(index.images.map((i) => i.manifestDigest));

    // each platform resolves to its own image
    const amd = await skopeo.runOk(['--override-arch', 'amd64', 'inspect', '--tls-verify=false', `docker://${multiRepo}:v1`]);
    // skopeo inspect reports the digest of what the tag points to (the index) and the
    // layers/config of the image it picked for the platform
    const amdInfo = JSON.parse(amd.stdout) as SkopeoInspect;
    expect(amdInfo.Digest).toBe(index.indexDigest);
    expect(amdInfo.Architecture).toBe('amd64');
    expect(amdInfo.Layers).toEqual(index.images[0]?.layers.map((l) => l.digest));
    const arm = await skopeo.run(['--override-arch', 'arm64', '--override-variant', 'v8', 'inspect', '--tls-verify=false', `docker://${multiRepo}:v1`]);
    expect(arm.code, arm.stderr).toBe(0);
    const armInfo = JSON.parse(arm.stdout) as { Digest: string; Architecture: string; Layers: string[] };
    expect(armInfo.Architecture).toBe('arm64');
    expect(armInfo.Digest).toBe(index.indexDigest);
    // and by digest, the arm64 image itself
    const armImage = await skopeo.inspect(`docker://${multiRepo}@${index.images[1]?.manifestDigest ?? ''}`);
    expect(armImage.Digest).toBe(index.images[1]?.manifestDigest);
    expect(armImage.Architecture).toBe('arm64');
    expect(armInfo.Layers).toEqual(index.images[1]?.layers.map((l) => l.digest));

    const out = join(tmp, 'out-index');
    await skopeo.copy(`docker://${multiRepo}:v1`, `oci:${out}:multi`, ['--all', '--preserve-digests']);
    const back = await readLayoutRef(out, 'multi');
    expect(back.digest).toBe(index.indexDigest);
    expect(back.mediaType).toBe(MT_OCI_INDEX);
    for (const img of index.images) {
      const m = await readManifest(out, img.manifestDigest);
      expect(m.config.digest).toBe(img.configDigest);
      expect(m.layers.map((l) => l.digest)).toEqual(img.layers.map((l) => l.digest));
      for (const l of m.layers) expect((await readBlob(out, l.digest)).length).toBe(l.size);
      await readBlob(out, m.config.digest);
    }
  });

  it('skopeo list-tags lists every tag, sorted', async () => {
    const tagsRepo = `${server.host}/e2e/skopeo/tags`;
    const tags = ['v2', 'latest', '1.0.0', 'v1', 'beta', 'v10', 'a_b-c.d'];
    await skopeo.copy(`oci:${join(tmp, 'src')}:v1`, `docker://${tagsRepo}:${tags[0]}`, ['--preserve-digests']);
    for (const t of tags.slice(1)) {
      await skopeo.copy(`docker://${tagsRepo}:${tags[0]}`, `docker://${tagsRepo}:${t}`, ['--preserve-digests']);
    }
    const listed = await skopeo.listTags(`docker://${tagsRepo}`);
    expect(listed.Repository).toBe(tagsRepo);
    // The distribution spec wants lexical order. Distribution 2.8 returns directory order
    // (it only sorts since 3.0), so for the reference target we compare as a set.
    if (server.target === 'distribution') expect([...listed.Tags].sort()).toEqual([...tags].sort());
    else expect(listed.Tags).toEqual([...tags].sort());
    for (const t of tags) {
      const info = await skopeo.inspect(`docker://${tagsRepo}:${t}`);
      expect(info.Digest).toBe(image.manifestDigest);
    }
    // another repository's tags are its own
    const other = await skopeo.listTags(`docker://${repo}`);
    expect(other.Tags).toEqual(['v1']);
  });

  it('skopeo delete removes the manifest, then inspect fails', async () => {
    const delRepo = `${server.host}/e2e/skopeo/doomed`;
    const img = await writeImageLayout(join(tmp, 'src-del'), {
      tag: 'gone',
      layers: [{ files: { 'doomed.txt': `delete me ${Date.now()}\n` } }],
    });
    await skopeo.copy(`oci:${join(tmp, 'src-del')}:gone`, `docker://${delRepo}:gone`, ['--preserve-digests']);
    expect((await skopeo.inspect(`docker://${delRepo}:gone`)).Digest).toBe(img.manifestDigest);

    await skopeo.delete(`docker://${delRepo}:gone`);

    const byTag = await skopeo.run(['inspect', '--tls-verify=false', `docker://${delRepo}:gone`]);
    expect(byTag.code).not.toBe(0);
    expect(byTag.stderr).toMatch(/manifest unknown|not found|404/i);
    const byDigest = await skopeo.run(['inspect', '--tls-verify=false', `docker://${delRepo}@${img.manifestDigest}`]);
    expect(byDigest.code).not.toBe(0);
    expect(byDigest.stderr).toMatch(/manifest unknown|not found|404/i);

    // the other repository is untouched
    expect((await skopeo.inspect(`docker://${repo}:v1`)).Digest).toBe(image.manifestDigest);
  });

  it('copies a large (24 MiB) layer and between repositories (cross-repository blob mount)', async () => {
    const src = join(tmp, 'src-big');
    const big = await writeImageLayout(src, {
      tag: 'big',
      layers: [{ files: { 'big/noise.bin': noise(24 * 1024 * 1024, 7) } }, { files: { 'big/small.txt': 'small\n' } }],
    });
    expect(big.layers[0]?.size).toBeGreaterThan(24 * 1024 * 1024);
    const bigRepo = `${server.host}/e2e/skopeo/big`;
    await skopeo.copy(`oci:${src}:big`, `docker://${bigRepo}:v1`, ['--preserve-digests']);
    // registry to registry, into another repository: blobs may be mounted rather than re-uploaded
    const otherRepo = `${server.host}/e2e/skopeo/big-copy`;
    await skopeo.copy(`docker://${bigRepo}:v1`, `docker://${otherRepo}:v1`, ['--preserve-digests']);
    const out = join(tmp, 'out-big');
    await skopeo.copy(`docker://${otherRepo}:v1`, `oci:${out}:v1`, ['--preserve-digests']);
    const back = await readLayoutRef(out, 'v1');
    expect(back.digest).toBe(big.manifestDigest);
    const manifest = back.json as ManifestJson;
    expect(manifest.layers.map((l) => l.digest)).toEqual(big.layers.map((l) => l.digest));
    for (const l of manifest.layers) expect((await readBlob(out, l.digest)).length).toBe(l.size);

    // ranged blob read straight from the registry (what resuming clients do)
    const layer = big.layers[0];
    if (!layer) throw new Error('no layer');
    const res = await fetch(`${server.url}/v2/e2e/skopeo/big-copy/blobs/${layer.digest}`, { headers: { Range: 'bytes=1000-1999' } });
    expect(res.status).toBe(206);
    const part = Buffer.from(await res.arrayBuffer());
    const whole = await readBlob(out, layer.digest);
    expect(part.equals(whole.subarray(1000, 2000))).toBe(true);
  });

  it('the data survives a server restart and a crash (SIGKILL)', async () => {
    const before = server.pid;
    const exit = await server.kill('SIGTERM');
    // Berth shuts down cleanly on SIGTERM; Distribution just dies of the signal
    if (server.target === 'berth') expect(exit).toEqual({ code: 0, signal: null });
    await server.restart();
    expect(server.pid).not.toBe(before);
    const info = await skopeo.inspect(`docker://${repo}:v1`);
    expect(info.Digest).toBe(image.manifestDigest);
    const out = join(tmp, 'out-after-restart');
    await skopeo.copy(`docker://${repo}:v1`, `oci:${out}:v1`, ['--preserve-digests']);
    const back = await readLayoutRef(out, 'v1');
    expect(back.digest).toBe(image.manifestDigest);
    for (const l of (back.json as ManifestJson).layers) expect((await readBlob(out, l.digest)).length).toBe(l.size);
    expect((await skopeo.listTags(`docker://${server.host}/e2e/skopeo/multi`)).Tags).toEqual(['v1']);

    // push something, crash the server without warning, restart: what was acknowledged is there
    const src = join(tmp, 'src-crash');
    const img = await writeImageLayout(src, { tag: 'c', layers: [{ files: { 'crash.txt': `before the crash ${Date.now()}\n` } }] });
    await skopeo.copy(`oci:${src}:c`, `docker://${server.host}/e2e/skopeo/crash:c`, ['--preserve-digests']);
    const killed = await server.kill('SIGKILL');
    expect(killed.signal).toBe('SIGKILL');
    await server.restart();
    expect((await skopeo.inspect(`docker://${server.host}/e2e/skopeo/crash:c`)).Digest).toBe(img.manifestDigest);
    const outCrash = join(tmp, 'out-crash');
    await skopeo.copy(`docker://${server.host}/e2e/skopeo/crash:c`, `oci:${outCrash}:c`, ['--preserve-digests']);
    expect((await readLayoutRef(outCrash, 'c')).digest).toBe(img.manifestDigest);
    expect((await skopeo.inspect(`docker://${repo}:v1`)).Digest).toBe(image.manifestDigest);
  });
});
