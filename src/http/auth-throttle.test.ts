import { describe, expect, it } from 'vitest';
import { AuthThrottle } from './auth-throttle.js';

describe('AuthThrottle', () => {
  it('lets the first failures through, then doubles the delay up to the cap, per source', () => {
    let now = 0;
    const t = new AuthThrottle(() => now, 2, 1000);
    expect([t.failed('a'), t.failed('a'), t.failed('a'), t.failed('a'), t.failed('a'), t.failed('a'), t.failed('a')]).toEqual([0, 0, 100, 200, 400, 800, 1000]);
    expect(t.failed('b')).toBe(0);
    now = 61_000;
    expect(t.failed('a')).toBe(0);
  });
});
