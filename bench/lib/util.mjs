// Small shared helpers for the benchmark harness (no dependencies).

export const KiB = 1024;
export const MiB = 1024 * 1024;
export const GiB = 1024 * MiB;

export function fmtSize(bytes) {
  if (bytes >= GiB && bytes % GiB === 0) return `${bytes / GiB} GiB`;
  if (bytes >= MiB && bytes % MiB === 0) return `${bytes / MiB} MiB`;
  if (bytes >= KiB && bytes % KiB === 0) return `${bytes / KiB} KiB`;
  return `${bytes} B`;
}

export function fmtInt(n) {
  return n.toLocaleString('en-US');
}

export function fmtNum(v) {
  if (v == null || !Number.isFinite(v)) return String(v);
  const a = Math.abs(v);
  if (a >= 1000) return Math.round(v).toLocaleString('en-US');
  if (a >= 100) return v.toFixed(0);
  if (a >= 10) return v.toFixed(1);
  if (a >= 1 || a === 0) return v.toFixed(2);
  return String(Number(v.toPrecision(2)));
}

export const now = () => performance.now();

/** The middle value (the upper one of the two middle values for an even count). */
export const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

export function sleep(ms, signal) {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(signal.reason ?? new Error('aborted'));
    const t = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    const onAbort = () => {
      clearTimeout(t);
      reject(signal.reason ?? new Error('aborted'));
    };
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}

// Deterministic 32-bit PRNG (mulberry32) for sizes, offsets, shuffles.
export function prng(seed) {
  let a = seed >>> 0;
  return function next() {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/**
 * Run fn(i) for i in [0, count) with `concurrency` workers. Bounded: stops
 * issuing new work once the signal is aborted or `maxErrors` errors were seen.
 * Returns { ok, errors: [Error], issued, elapsedMs }.
 */
export async function pool(count, concurrency, fn, { signal, maxErrors = 20 } = {}) {
  let next = 0;
  let ok = 0;
  const errors = [];
  const t0 = now();
  async function worker() {
    while (next < count && !signal?.aborted && errors.length < maxErrors) {
      const i = next++;
      try {
        await fn(i);
        ok++;
      } catch (e) {
        errors.push(e);
      }
    }
  }
  const n = Math.max(1, Math.min(concurrency, count));
  await Promise.all(Array.from({ length: n }, worker));
  return { ok, errors, issued: next, elapsedMs: now() - t0 };
}

export function errMsg(e) {
  if (!e) return 'unknown error';
  if (e.name === 'AbortError' || e.code === 'ABORT_ERR') return `aborted (${e.cause?.message ?? e.message})`;
  return e.message ?? String(e);
}

export function log(...args) {
  process.stdout.write(args.join(' ') + '\n');
}

/** Concurrency levels of the manifest GET rows measured with wrk. */
export const WRK_LEVELS = [1, 16, 64];
