/**
 * collectYoungGeneration runs a real minor GC (seen through Node's 'gc' performance entries),
 * and the filesystem driver asks for one as a large body streams in.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PerformanceObserver, constants } from 'node:perf_hooks';
import { Readable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FsBlobStore } from './blobstore/fs/fs-blob-store.js';
import { collectYoungGeneration, youngCollectionsAsked } from './young-generation.js';

describe('collecting the young generation', () => {
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'berth-young-gc-'));
  });
  afterAll(() => rm(dir, { recursive: true, force: true }));

  it('is asked for across small bodies too (chunked PATCHes of 1 MiB)', async () => {
    const store = new FsBlobStore(dir);
    const before = youngCollectionsAsked;
    const piece = Buffer.alloc(64 * 1024, 3);
    for (let i = 0; i < 17; i++) {
      const w = await store.writer(`young/small-${i}`);
      await w.append(Readable.from((function* () { for (let j = 0; j < 16; j++) yield piece; })()), { last: true });
      await w.cancel();
    }
    expect(youngCollectionsAsked - before).toBeGreaterThanOrEqual(2);
  });

  it('runs a minor GC now', async () => {
    const kinds: number[] = [];
    const observer = new PerformanceObserver((list) => {
      for (const e of list.getEntries()) kinds.push((e as unknown as { detail: { kind: number } }).detail.kind);
    });
    observer.observe({ entryTypes: ['gc'] });
    try {
      // Let any collection already under way report first, then count only ours.
      await new Promise((r) => setTimeout(r, 50));
      kinds.length = 0;
      for (let i = 0; i < 3; i++) collectYoungGeneration();
      await new Promise((r) => setTimeout(r, 50));
    } finally {
      observer.disconnect();
    }
    expect(kinds.filter((k) => k === constants.NODE_PERFORMANCE_GC_MINOR).length).toBeGreaterThanOrEqual(3);
  });

  it('is asked for every 8 MiB streamed into the filesystem driver', async () => {
    const store = new FsBlobStore(dir);
    const w = await store.writer('young/large');
    const before = youngCollectionsAsked;
    const piece = Buffer.alloc(64 * 1024, 7);
    // 20 MiB in 64 KiB chunks, as a socket delivers them.
    await w.append(Readable.from((function* () { for (let i = 0; i < 320; i++) yield piece; })()), { last: true });
    await w.commit();
    // 2, or 3 with bytes counted before this test.
    expect(youngCollectionsAsked - before).toBeGreaterThanOrEqual(2);
    expect(youngCollectionsAsked - before).toBeLessThanOrEqual(3);
  });
});
