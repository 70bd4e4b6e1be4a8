import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { KyselyMetadataStore } from '../../../metadata/kysely/kysely-metadata-store.js';
import { openSqliteMetadataStore } from '../../../metadata/sqlite.js';
import { retryDelayMs } from './backoff.js';
import { JobRunner } from './job-runner.js';

let dir: string;
let meta: KyselyMetadataStore;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'berth-job-runner-'));
  meta = await openSqliteMetadataStore(join(dir, 'meta.db'));
});
afterAll(async () => {
  await meta?.close();
  await rm(dir, { recursive: true, force: true });
});

const until = async (cond: () => Promise<boolean> | boolean, ms = 5000): Promise<void> => {
  const end = Date.now() + ms;
  while (!(await cond())) {
    if (Date.now() > end) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 5));
  }
};
const gate = (): { wait: Promise<void>; open(): void } => {
  let open!: () => void;
  const wait = new Promise<void>((r) => (open = r));
  return { wait, open };
};

describe('retryDelayMs', () => {
  it('doubles from the base up to the cap', () => {
    const b = { baseMs: 100, maxMs: 1000 };
    expect([1, 2, 3, 4, 5, 60].map((n) => retryDelayMs(n, b))).toEqual([100, 200, 400, 800, 1000, 1000]);
    expect(retryDelayMs(0, b)).toBe(100);
  });
});

describe('JobRunner', () => {
  it('runs each job once through the handler of its kind and leaves kinds it cannot handle queued', async () => {
    const seen: unknown[] = [];
    const runner = new JobRunner(meta.jobs, { pollMs: 10, concurrency: 4, leaseMs: 10_000 });
    runner.register('echo', async (job) => void seen.push(job.payload));
    const ids = await Promise.all([1, 2, 3].map(async (i) => (await meta.jobs.enqueue({ kind: 'echo', payload: { i } }, Date.now())).job.id));
    const foreign = (await meta.jobs.enqueue({ kind: 'not-mine' }, Date.now())).job.id;
    runner.start();
    await until(async () => (await Promise.all(ids.map((id) => meta.jobs.get(id)))).every((j) => j?.state === 'done'));
    await runner.stop();
    expect(seen).toEqual(expect.arrayContaining([{ i: 1 }, { i: 2 }, { i: 3 }]));
    expect(seen).toHaveLength(3);
    expect((await meta.jobs.get(foreign))?.state).toBe('queued');
    expect(() => runner.register('echo', async () => undefined)).toThrow(/already registered/);
  });

  it('never runs more handlers at once than its concurrency', async () => {
    const g = gate();
    let active = 0;
    let peak = 0;
    const runner = new JobRunner(meta.jobs, { pollMs: 5, concurrency: 2, leaseMs: 10_000 });
    runner.register('slow', async () => {
      active++;
      peak = Math.max(peak, active);
      await g.wait;
      active--;
    });
    const ids = await Promise.all([1, 2, 3, 4, 5].map(async () => (await meta.jobs.enqueue({ kind: 'slow' }, Date.now())).job.id));
    runner.start();
    await until(() => active === 2);
    await new Promise((r) => setTimeout(r, 50)); // several polls with no free slot
    expect((await meta.jobs.counts()).running).toBe(2);
    g.open();
    await until(async () => (await Promise.all(ids.map((id) => meta.jobs.get(id)))).every((j) => j?.state === 'done'));
    await runner.stop();
    expect(peak).toBe(2);
  });

  it('retries a failing job after an exponential backoff, then gives up', async () => {
    let t = 1_000_000;
    const runner = new JobRunner(meta.jobs, { pollMs: 5, concurrency: 1, leaseMs: 10_000, now: () => t, backoff: { baseMs: 1000, maxMs: 60_000 } });
    const attempts: number[] = [];
    runner.register('flaky', async (job) => {
      attempts.push(job.attempts);
      throw new Error(`failure ${job.attempts}`);
    });
    const { job } = await meta.jobs.enqueue({ kind: 'flaky', maxAttempts: 3 }, t);
    await runner.poll();
    await runner.idle();
    expect(await meta.jobs.get(job.id)).toMatchObject({ state: 'queued', runAfter: t + 1000, lastError: 'failure 1' });
    t += 999;
    expect(await runner.poll()).toBe(0);
    t += 1;
    expect(await runner.poll()).toBe(1);
    await runner.idle();
    expect(await meta.jobs.get(job.id)).toMatchObject({ state: 'queued', runAfter: t + 2000, lastError: 'failure 2' });
    t += 2000;
    await runner.poll();
    await runner.idle();
    expect(await meta.jobs.get(job.id)).toMatchObject({ state: 'failed', lastError: 'failure 3' });
    expect(attempts).toEqual([1, 2, 3]);
  });

  it('keeps its lease alive while a handler runs, and aborts the handler when the lease is lost', async () => {
    let t = 2_000_000;
    const runner = new JobRunner(meta.jobs, { owner: 'me', pollMs: 5, concurrency: 1, leaseMs: 60, now: () => t });
    const g = gate();
    let aborted: unknown;
    runner.register('long', async (_job, { signal }) => {
      signal.addEventListener('abort', () => (aborted = signal.reason));
      await g.wait;
    });
    const { job } = await meta.jobs.enqueue({ kind: 'long' }, t);
    await runner.poll();
    t += 50;
    await until(async () => (await meta.jobs.get(job.id))?.leaseExpiresAt === t + 60); // heartbeat moved the lease on
    await meta.jobs.reclaimExpired(t + 61); // as if this node had stalled: another node reclaims the job
    await until(() => aborted !== undefined);
    expect(String(aborted)).toMatch(/lost the lease/);
    g.open();
    await runner.idle();
    expect((await meta.jobs.get(job.id))?.state).toBe('queued'); // not completed by the old holder
  });

  it('stop() waits for running handlers and claims nothing afterwards', async () => {
    const g = gate();
    let finished = false;
    const runner = new JobRunner(meta.jobs, { pollMs: 5, concurrency: 1, leaseMs: 10_000 });
    runner.register('stoppable', async () => {
      await g.wait;
      finished = true;
    });
    const { job } = await meta.jobs.enqueue({ kind: 'stoppable' }, Date.now());
    runner.start();
    await until(async () => (await meta.jobs.get(job.id))?.state === 'running');
    const stopping = runner.stop(5000);
    setTimeout(() => g.open(), 30);
    await stopping;
    expect(finished).toBe(true);
    expect((await meta.jobs.get(job.id))?.state).toBe('done');
    const later = await meta.jobs.enqueue({ kind: 'stoppable' }, Date.now());
    await new Promise((r) => setTimeout(r, 40));
    expect((await meta.jobs.get(later.job.id))?.state).toBe('queued');
  });

  it('stop() gives up after the grace period and aborts what still runs', async () => {
    const runner = new JobRunner(meta.jobs, { pollMs: 5, concurrency: 1, leaseMs: 10_000 });
    let reason: unknown;
    runner.register('stuck', (_job, { signal }) => new Promise<void>((_, reject) => signal.addEventListener('abort', () => reject((reason = signal.reason)))));
    const { job } = await meta.jobs.enqueue({ kind: 'stuck', maxAttempts: 1 }, Date.now());
    await runner.poll();
    await runner.stop(20);
    expect(String(reason)).toMatch(/stopping/);
    await runner.idle();
    expect((await meta.jobs.get(job.id))?.state).toBe('failed');
  });
});
