/**
 * Slows down repeated authentication failures from one source address: after `free`
 * failures within a minute, each further failure is answered only after a delay that
 * doubles up to `maxDelayMs`. A success does not reset the count (an attacker could
 * interleave valid requests). Per node and in memory: it bounds guessing speed, it is not
 * a lockout. The response itself says nothing about why a credential failed.
 */
export class AuthThrottle {
  private readonly failures = new Map<string, { count: number; since: number }>();

  constructor(
    private readonly now: () => number = Date.now,
    private readonly free = 5,
    private readonly maxDelayMs = 5000,
    private readonly windowMs = 60_000,
  ) {}

  /** Records a failure from `source` and returns how long to wait before answering. */
  failed(source: string): number {
    const now = this.now();
    let entry = this.failures.get(source);
    if (!entry || now - entry.since > this.windowMs) {
      entry = { count: 0, since: now };
      if (this.failures.size >= 10_000) this.failures.clear();
      this.failures.set(source, entry);
    }
    entry.count++;
    const over = entry.count - this.free;
    return over <= 0 ? 0 : Math.min(this.maxDelayMs, 100 * 2 ** (over - 1));
  }

  async delayFailure(source: string): Promise<void> {
    const ms = this.failed(source);
    if (ms > 0) await new Promise((r) => setTimeout(r, ms));
  }
}
