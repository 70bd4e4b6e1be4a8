/**
 * JobRunner: the worker loop over the durable job queue (JobStore). Every node runs one;
 * the store's leased claims make each job run on one node at a time.
 *
 * - Polls every `pollMs` (and again as soon as a job finishes), claiming only the kinds it
 *   has handlers for and only as many jobs as it has free slots (`concurrency`).
 * - While a handler runs, its lease is extended every `leaseMs / 3`. When an extension fails
 *   (the lease expired and another node reclaimed the job), the handler's `signal` aborts and
 *   its outcome is discarded: the job is someone else's now.
 * - A handler that throws fails the attempt; the job runs again after an exponential
 *   backoff (`retryDelayMs`) until its attempts run out.
 * - Each poll first puts jobs whose lease expired (their node died) back in the queue, and
 *   about once an hour deletes settled jobs older than `retentionMs`.
 * - `stop()` stops claiming and waits for running handlers up to `graceMs`, then aborts them;
 *   jobs still unfinished keep their lease and are reclaimed when it expires.
 */
import { randomUUID } from 'node:crypto';
import { hostname } from 'node:os';
import type { JobRow, JobStore } from '../../../metadata/jobs-types.js';
import { retryDelayMs, type Backoff } from './backoff.js';

export type JobHandler = (job: JobRow, ctx: { signal: AbortSignal }) => Promise<void>;

export interface JobRunnerOptions {
  /** Lease owner name; default `<host>:<pid>:<random>`. */
  owner?: string;
  pollMs: number;
  concurrency: number;
  leaseMs: number;
  backoff?: Backoff;
  /** Done and failed jobs are deleted this long after they settle; default 7 days. */
  retentionMs?: number;
  now?: () => number;
  log?: { info(o: object, m: string): void; warn(o: object, m: string): void; error(o: object, m: string): void };
}

const PURGE_EVERY_MS = 3_600_000;
const silent = { info: () => undefined, warn: () => undefined, error: () => undefined };

export class JobRunner {
  readonly owner: string;
  private readonly handlers = new Map<string, JobHandler>();
  private readonly running = new Map<number, { done: Promise<void>; abort: AbortController }>();
  private readonly now: () => number;
  private readonly log: NonNullable<JobRunnerOptions['log']>;
  private timer: NodeJS.Timeout | null = null;
  private polling: Promise<number> | null = null;
  /** The timer loop runs (start). */
  private started = false;
  /** stop() was called: claim nothing more. */
  private stopping = false;
  private lastPurge = 0;

  constructor(
    private readonly jobs: JobStore,
    private readonly o: JobRunnerOptions,
  ) {
    this.owner = o.owner ?? `${hostname()}:${process.pid}:${randomUUID().slice(0, 8)}`;
    this.now = o.now ?? (() => Date.now());
    this.log = o.log ?? silent;
  }

  /** Handles jobs of `kind` (one handler per kind). */
  register(kind: string, handler: JobHandler): this {
    if (this.handlers.has(kind)) throw new Error(`a handler for job kind "${kind}" is already registered`);
    this.handlers.set(kind, handler);
    return this;
  }

  start(): void {
    if (this.started) return;
    this.started = true;
    this.stopping = false;
    this.schedule(0);
  }

  /** One round: reclaim expired leases, purge now and then, claim into the free slots and start them. Returns how many started. */
  poll(): Promise<number> {
    this.polling ??= this.pollOnce().finally(() => {
      this.polling = null;
    });
    return this.polling;
  }

  /** Resolves when no handler is running (for tests and shutdown). */
  async idle(): Promise<void> {
    while (this.running.size > 0) await Promise.all([...this.running.values()].map((r) => r.done));
  }

  /** Stops claiming; waits up to `graceMs` for running handlers, then aborts them. */
  async stop(graceMs = 30_000): Promise<void> {
    this.stopping = true;
    this.started = false;
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    await this.polling?.catch(() => undefined);
    let timeout: NodeJS.Timeout | undefined;
    const timedOut = new Promise<boolean>((resolve) => {
      timeout = setTimeout(() => resolve(true), graceMs);
    });
    const gaveUp = await Promise.race([this.idle().then(() => false), timedOut]);
    clearTimeout(timeout);
    if (gaveUp) {
      for (const r of this.running.values()) r.abort.abort(new Error('the job runner is stopping'));
      this.log.warn({ jobs: [...this.running.keys()] }, 'job runner stopped with jobs still running; their leases will expire');
    }
  }

  private schedule(ms: number): void {
    if (!this.started || this.stopping) return;
    if (this.timer) clearTimeout(this.timer);
    this.timer = setTimeout(() => {
      this.timer = null;
      this.poll()
        .catch((err: unknown) => this.log.error({ err }, 'job queue poll failed'))
        .finally(() => this.schedule(this.o.pollMs));
    }, ms);
    this.timer.unref();
  }

  private async pollOnce(): Promise<number> {
    const now = this.now();
    const reclaimed = await this.jobs.reclaimExpired(now);
    if (reclaimed.requeued + reclaimed.failed > 0) this.log.warn(reclaimed, 'reclaimed jobs whose lease expired');
    if (now - this.lastPurge >= PURGE_EVERY_MS) {
      this.lastPurge = now;
      const purged = await this.jobs.purge(now - (this.o.retentionMs ?? 7 * 86_400_000), ['done', 'failed']);
      if (purged > 0) this.log.info({ purged }, 'purged settled jobs');
    }
    const free = this.o.concurrency - this.running.size;
    if (free <= 0 || this.stopping || this.handlers.size === 0) return 0;
    const claimed = await this.jobs.claim({ owner: this.owner, now: this.now(), leaseMs: this.o.leaseMs, limit: free, kinds: [...this.handlers.keys()] });
    for (const job of claimed) this.launch(job);
    return claimed.length;
  }

  private launch(job: JobRow): void {
    const abort = new AbortController();
    const heartbeat = setInterval(() => {
      this.jobs.heartbeat(job.id, this.owner, this.now(), this.o.leaseMs).then(
        (held) => {
          if (!held) abort.abort(new Error(`lost the lease of job ${job.id}`));
        },
        (err: unknown) => this.log.warn({ err, job: job.id }, 'job heartbeat failed'),
      );
    }, Math.max(1, Math.floor(this.o.leaseMs / 3)));
    heartbeat.unref();
    const done = this.execute(job, abort.signal).finally(() => {
      clearInterval(heartbeat);
      this.running.delete(job.id);
      // A slot is free: look for more work now rather than at the next tick.
      this.schedule(0);
    });
    this.running.set(job.id, { done, abort });
  }

  private async execute(job: JobRow, signal: AbortSignal): Promise<void> {
    const handler = this.handlers.get(job.kind)!;
    try {
      await handler(job, { signal });
      if (!(await this.jobs.complete(job.id, this.owner, this.now()))) this.log.warn({ job: job.id, kind: job.kind }, 'job finished after its lease was lost');
    } catch (err) {
      const message = err instanceof Error ? err.message : String(err);
      try {
        const now = this.now();
        const outcome = await this.jobs.fail(job.id, this.owner, now, message, now + retryDelayMs(job.attempts, this.o.backoff));
        this.log[outcome === 'failed' ? 'error' : 'warn']({ err, job: job.id, kind: job.kind, attempt: job.attempts, outcome }, 'job failed');
      } catch (failErr) {
        this.log.error({ err: failErr, job: job.id }, 'could not record a job failure; its lease will expire');
      }
    }
  }
}
