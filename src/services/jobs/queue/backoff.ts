/** Exponential backoff between attempts of a failed job. */
export interface Backoff {
  /** Delay after the first failed attempt. */
  baseMs: number;
  /** Upper bound of any delay. */
  maxMs: number;
}

export const DEFAULT_BACKOFF: Backoff = { baseMs: 10_000, maxMs: 3_600_000 };

/** Delay before the next attempt after `attempts` failed ones (1, 2, 3, … → base, 2·base, 4·base, … capped at max). */
export function retryDelayMs(attempts: number, b: Backoff = DEFAULT_BACKOFF): number {
  const n = Math.max(1, Math.floor(attempts));
  // 2^30 already exceeds any sane max; avoid Infinity for absurd attempt counts.
  return Math.min(b.maxMs, b.baseMs * 2 ** Math.min(n - 1, 30));
}
