/**
 * The BlobStore contract against a real S3 server (Ceph RGW from ../shared/services/s3-start.sh),
 * plus checks of the S3 driver's own design: the key layout, the bounded tail, takeover detection
 * and the cleanup of multipart uploads. Each run works under its own prefix and removes it.
 */
import { randomBytes, randomUUID } from 'node:crypto';
import { Readable } from 'node:stream';
import { AbortMultipartUploadCommand, GetObjectCommand } from '@aws-sdk/client-s3';
import { afterAll, describe, expect, it } from 'vitest';
import { describeBlobStoreContract, readAll } from '../contract.js';
import { BlobNotFoundError } from '../types.js';
import { S3BlobStore, createS3Client, type S3BlobStoreOptions } from './s3-blob-store.js';
import { KeyLayout, deleteKeys, listObjects, listUploads } from './s3-support.js';

const env = process.env;
const endpoint = env.S3_ENDPOINT;
const PART = 5 * 1024 * 1024;
const NO_S3 = 'S3_ENDPOINT is not set; start ../shared/services/s3-start.sh (scripts/test.sh does)';

function options(prefix: string): S3BlobStoreOptions {
  return {
    bucket: env.S3_BUCKET ?? 'registry-test',
    region: env.S3_REGION ?? 'us-east-1',
    ...(endpoint ? { endpoint } : {}),
    ...(env.S3_ACCESS_KEY_ID && env.S3_SECRET_ACCESS_KEY
      ? { accessKeyId: env.S3_ACCESS_KEY_ID, secretAccessKey: env.S3_SECRET_ACCESS_KEY }
      : {}),
    forcePathStyle: env.S3_FORCE_PATH_STYLE === 'true',
    prefix,
    partSize: PART,
  };
}

/** Direct access to the bucket, to look behind the port. */
function raw(prefix: string) {
  const o = options(prefix);
  const client = createS3Client(o);
  return {
    client,
    bucket: o.bucket,
    async keys(under = prefix): Promise<string[]> {
      const out: string[] = [];
      for await (const obj of listObjects(client, o.bucket, under, undefined)) if (obj.Key) out.push(obj.Key);
      return out.sort();
    },
    async uploads(): Promise<string[]> {
      const out: string[] = [];
      for await (const u of listUploads(client, o.bucket, prefix, undefined)) if (u.Key) out.push(u.Key);
      return out;
    },
    async text(key: string): Promise<string> {
      const res = await client.send(new GetObjectCommand({ Bucket: o.bucket, Key: key }));
      return (await res.Body!.transformToString()) ?? '';
    },
    /** Removes every object and multipart upload under the prefix. */
    async purge(): Promise<void> {
      await deleteKeys(client, o.bucket, await this.keys(), undefined);
      for await (const u of listUploads(client, o.bucket, prefix, undefined)) {
        await client.send(new AbortMultipartUploadCommand({ Bucket: o.bucket, Key: u.Key, UploadId: u.UploadId }));
      }
    },
  };
}

/** Sends `good`, then fails like a client that went away. */
function failingStream(good: Buffer): Readable {
  let sent = false;
  return new Readable({
    read() {
      if (sent) this.destroy(new Error('client went away'));
      else {
        sent = true;
        this.push(good);
      }
    },
  });
}

if (endpoint) {
  const prefix = `contract-${randomUUID()}/`;
  describeBlobStoreContract(
    's3',
    {
      open: async () => new S3BlobStore(options(prefix)),
      destroy: async () => {
        const r = raw(prefix);
        await r.purge();
        r.client.destroy();
      },
    },
    // Crosses two part boundaries with 5 MiB parts.
    { largeSize: 2 * PART + 12_345 },
  );
} else {
  describeBlobStoreContract('s3', null, { skipReason: NO_S3 });
}

describe('S3BlobStore options', () => {
  it('refuses a part size under 5 MiB', () => {
    expect(() => new S3BlobStore({ ...options('x/'), partSize: PART - 1 })).toThrow(RangeError);
  });
});

describe.skipIf(!endpoint)(`S3BlobStore driver specifics${endpoint ? '' : ` (skipped: ${NO_S3})`}`, () => {
  const prefix = `s3-specifics-${randomUUID()}/`;
  const layout = new KeyLayout(prefix);
  const bucket = raw(prefix);
  const key = (): string => `test/${randomUUID()}`;

  afterAll(async () => {
    await bucket.purge();
    bucket.client.destroy();
  });

  it('keeps many small appends from two instances in a few tail objects, then commits across parts', async () => {
    const a = new S3BlobStore(options(prefix));
    const b = new S3BlobStore(options(prefix));
    try {
      const k = key();
      const chunk = 300_000;
      const data = randomBytes(PART + 777_777); // 20 appends, one part boundary crossed
      let w = await a.writer(k);
      let most = 0;
      for (let off = 0, i = 0; off < data.length; off += chunk, i++) {
        if (i % 5 === 4) w = await (i % 2 ? b : a).writer(k, { resume: true });
        expect(w.size).toBe(off);
        await w.append(Readable.from([data.subarray(off, off + chunk)]));
        const state = JSON.parse(await bucket.text(layout.stateObject(k))) as { tail: { size: number }[] };
        most = Math.max(most, state.tail.length);
        // Tail sizes strictly decrease: at most log2(part / append) + 1 objects.
        for (let j = 1; j < state.tail.length; j++) expect(state.tail[j]!.size).toBeLessThan(state.tail[j - 1]!.size);
        expect(await bucket.keys(layout.stateDir(k))).toHaveLength(state.tail.length + 1); // + state.json
      }
      expect(most).toBeGreaterThan(1);
      expect(most).toBeLessThanOrEqual(Math.ceil(Math.log2(PART / chunk)) + 1);
      expect(await a.stat(k)).toBeNull();
      expect(await bucket.uploads()).toEqual([layout.object(k)]);

      const info = await w.commit();
      expect(info.size).toBe(data.length);
      expect((await readAll(await b.read(k))).equals(data)).toBe(true);
      // Only the object is left, at <prefix><key>.
      expect(await bucket.keys()).toEqual([layout.object(k)]);
      expect(await bucket.uploads()).toEqual([]);
      await a.delete(k);
      expect(await bucket.keys()).toEqual([]);
    } finally {
      await a.close();
      await b.close();
    }
  });

  it('fails the next append of a writer whose key was discarded or taken over', async () => {
    const store = new S3BlobStore(options(prefix));
    try {
      const k = key();
      const w1 = await store.writer(k);
      await w1.append(Readable.from([Buffer.from('a')]));
      const w2 = await store.writer(k); // discards w1's data
      await w2.append(Readable.from([Buffer.from('b')]));
      await expect(w1.append(Readable.from([Buffer.from('c')]))).rejects.toThrow(/discarded or taken over/);
      const w3 = await store.writer(k, { resume: true }); // takes over from w2
      expect(w3.size).toBe(1);
      await w3.append(Readable.from([Buffer.from('d')]));
      await expect(w2.append(Readable.from([Buffer.from('e')]))).rejects.toThrow(/discarded or taken over/);
      await w3.commit();
      expect((await readAll(await store.read(k))).toString()).toBe('bd');
      await store.delete(k);
    } finally {
      await store.close();
    }
  });

  it('ignores parts uploaded by a failed append, and overwrites them on the next one', async () => {
    const store = new S3BlobStore(options(prefix));
    try {
      const k = key();
      const w = await store.writer(k);
      await w.append(Readable.from([Buffer.from('hello')]));
      // Fills and uploads part 1, then the stream fails: part 1 is not in the state.
      await expect(w.append(failingStream(randomBytes(PART + 100)))).rejects.toThrow('client went away');
      expect(await bucket.uploads()).toEqual([layout.object(k)]);
      const resumed = await store.writer(k, { resume: true });
      expect(resumed.size).toBe(5);
      const more = randomBytes(PART + 3);
      await resumed.append(Readable.from([more]));
      await resumed.commit();
      expect((await readAll(await store.read(k))).equals(Buffer.concat([Buffer.from('hello'), more]))).toBe(true);
      expect(await bucket.uploads()).toEqual([]);
      await store.delete(k);
    } finally {
      await store.close();
    }
  });

  it('commits without a part after a failed append created the upload, and aborts it', async () => {
    const store = new S3BlobStore(options(prefix));
    try {
      const k = key();
      const w = await store.writer(k);
      await w.append(Readable.from([Buffer.from('hello ')]));
      await expect(w.append(failingStream(randomBytes(PART + 100)))).rejects.toThrow();
      await w.append(Readable.from([Buffer.from('wor'), Buffer.from('ld')]));
      await w.commit();
      expect((await readAll(await store.read(k))).toString()).toBe('hello world');
      expect(await bucket.uploads()).toEqual([]);
      expect(await bucket.keys()).toEqual([layout.object(k)]);
      await store.delete(k);
    } finally {
      await store.close();
    }
  });

  it('delete removes the writer state and aborts the multipart upload', async () => {
    const store = new S3BlobStore(options(prefix));
    try {
      const k = key();
      const w = await store.writer(k);
      await w.append(Readable.from([randomBytes(PART + 10)]));
      expect(w.size).toBe(PART + 10);
      const state = await bucket.keys(layout.stateDir(k));
      expect(state).toHaveLength(2); // state.json and one tail object of 10 bytes
      expect(state).toContain(layout.stateObject(k));
      expect(await bucket.uploads()).toEqual([layout.object(k)]);
      await store.delete(k);
      expect(await bucket.keys()).toEqual([]);
      expect(await bucket.uploads()).toEqual([]);
      await expect(w.append(Readable.from([Buffer.from('x')]))).rejects.toThrow();
    } finally {
      await store.close();
    }
  });

  it('reads empty ranges at and past the end, and a missing key even for length 0', async () => {
    const store = new S3BlobStore(options(prefix));
    try {
      const k = key();
      const w = await store.writer(k);
      await w.append(Readable.from([Buffer.from('0123456789')]));
      await w.commit();
      expect((await readAll(await store.read(k, { offset: 10 }))).length).toBe(0);
      expect((await readAll(await store.read(k, { offset: 20, length: 5 }))).length).toBe(0);
      expect((await readAll(await store.read(k, { offset: 3, length: 0 }))).length).toBe(0);
      expect((await readAll(await store.read(k, { offset: 8, length: 100 }))).toString()).toBe('89');
      await expect(store.read(`${k}-missing`, { length: 0 })).rejects.toBeInstanceOf(BlobNotFoundError);
      await store.delete(k);
    } finally {
      await store.close();
    }
  });
});
