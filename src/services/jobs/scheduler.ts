/**
 * Runs periodic work (garbage collection, lifecycle policies, upload purging) on every
 * node, with each run claimed through the database so it happens once per interval across
 * the cluster, survives restarts (the next run time is stored), and can be triggered on
 * demand. A run's result is recorded on the schedule row.
 */
import type { ScheduleStore } from '../../metadata/types.js';

export interface ScheduledTask {
  name: string;
  intervalMs: number;
  /** Returns a short JSON-able summary that is stored as the schedule's last result. */
  run(): Promise<unknown>;
}

export class Scheduler {
  private timer: NodeJS.Timeout | null = null;
  private running: Promise<void> | null = null;

  constructor(
    private readonly schedules: ScheduleStore,
    private readonly tasks: ScheduledTask[],
    private readonly now: () => number,
    private readonly log: { info(o: object, m: string): void; error(o: object, m: string): void },
  ) {}

  async start(tickMs: number): Promise<void> {
    for (const t of this.tasks) await this.schedules.ensure(t.name, t.intervalMs, this.now() + t.intervalMs);
    this.timer = setInterval(() => void this.tick(), tickMs);
    this.timer.unref();
  }

  /** Runs every due task once (used by the timer, and by tests). */
  tick(): Promise<void> {
    if (this.running) return this.running;
    this.running = (async () => {
      for (const t of this.tasks) {
        if (!(await this.schedules.claimDue(t.name, this.now()).catch(() => false))) continue;
        let result: string;
        try {
          result = JSON.stringify({ ok: true, result: await t.run() });
        } catch (err) {
          this.log.error({ err, task: t.name }, 'scheduled task failed');
          result = JSON.stringify({ ok: false, error: (err as Error).message });
        }
        await this.schedules.finish(t.name, this.now(), result).catch(() => undefined);
      }
    })().finally(() => {
      this.running = null;
    });
    return this.running;
  }

  async stop(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    await this.running;
  }
}
