/**
 * Several stateless nodes over PostgreSQL and S3 (the Ceph RADOS Gateway from
 * ../shared/services): skopeo pushes through one node and pulls through another, and a
 * chunked upload started on one node is finished on the other.
 */
import { createHash, randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { makeTempDir, removeDir, which } from '../support/clients.js';
import { sharedBackends, sharedBackendsMissing } from '../support/backends.js';
import { writeImageLayout, type WrittenImage } from '../support/oci-layout.js';
import { dumpServerLogsOnFailure, startBerth, type RunningServer } from '../support/server.js';
import { Skopeo } from '../support/tools.js';

const reason = sharedBackendsMissing() ?? (!which('skopeo') ? 'skopeo is not on PATH' : undefined);

const sha256 = (b: Buffer): string => `sha256:${createHash('sha256').update(b).digest('hex')}`;

describe.skipIf(reason !== undefined)(`multi-node over PostgreSQL and S3${reason ? ` (skipped: ${reason})` : ''}`, () => {
  const backends = sharedBackends('e2e');
  let a: RunningServer;
  let b: RunningServer;
  let tmp: string;
  let skopeo: Skopeo;
  let image: WrittenImage;

  beforeAll(async () => {
    const env = backends.env;
    a = await startBerth({ target: 'berth', env });
    b = await startBerth({ target: 'berth', env });
    tmp = await makeTempDir('berth-multinode-');
    skopeo = await Skopeo.create(tmp);
    image = await writeImageLayout(join(tmp, 'layout'), {
      tag: 'v1',
      layers: [{ files: { 'a.txt': 'first layer' } }, { files: { 'big.bin': randomBytes(7 * 1024 * 1024) } }],
    });
  });

  afterAll(async () => {
    await a?.stop();
    await b?.stop();
    await removeDir(tmp);
    await backends.cleanup();
  });

  dumpServerLogsOnFailure(() => a);

  it('pushes through one node and pulls the same digests through the other', async () => {
    await skopeo.copy(`oci:${join(tmp, 'layout')}:v1`, `docker://${a.host}/multi/app:v1`);
    const seen = await skopeo.inspect(`docker://${b.host}/multi/app:v1`);
    expect(seen.Digest).toBe(image.manifestDigest);
    expect(seen.Layers).toEqual(image.layers.map((l) => l.digest));
    await skopeo.copy(`docker://${b.host}/multi/app:v1`, `oci:${join(tmp, 'out')}:v1`, ['--preserve-digests']);
    const back = await skopeo.inspect(`oci:${join(tmp, 'out')}:v1`);
    expect(back.Layers).toEqual(image.layers.map((l) => l.digest));
  });

  it('finishes on node B a chunked upload that node A started, across S3 part boundaries', async () => {
    const data = randomBytes(11 * 1024 * 1024 + 333);
    const start = await fetch(`${a.url}/v2/multi/chunks/blobs/uploads/`, { method: 'POST' });
    expect(start.status).toBe(202);
    const location = start.headers.get('location') ?? '';
    const cuts = [0, 1000, 2_000_000, 6_000_000, 9_000_000, data.length];
    for (let i = 0; i < cuts.length - 2; i++) {
      const node = i % 2 === 0 ? a : b;
      const r = await fetch(`${node.url}${location}`, {
        method: 'PATCH',
        body: data.subarray(cuts[i], cuts[i + 1]),
        headers: { 'content-range': `${cuts[i]}-${cuts[i + 1]! - 1}`, 'content-type': 'application/octet-stream' },
      });
      expect(r.status, await r.text()).toBe(202);
    }
    const last = cuts[cuts.length - 2]!;
    const done = await fetch(`${b.url}${location}${location.includes('?') ? '&' : '?'}digest=${sha256(data)}`, {
      method: 'PUT',
      body: data.subarray(last),
      headers: { 'content-range': `${last}-${data.length - 1}`, 'content-type': 'application/octet-stream' },
    });
    expect(done.status, await done.text()).toBe(201);
    const back = Buffer.from(await (await fetch(`${a.url}/v2/multi/chunks/blobs/${sha256(data)}`)).arrayBuffer());
    expect(sha256(back)).toBe(sha256(data));
    const part = await fetch(`${b.url}/v2/multi/chunks/blobs/${sha256(data)}`, { headers: { range: 'bytes=5242870-5242889' } });
    expect(part.status).toBe(206);
    expect(Buffer.from(await part.arrayBuffer()).equals(data.subarray(5242870, 5242890))).toBe(true);
  });
});
