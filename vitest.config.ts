import { defineConfig } from 'vitest/config';

// Three projects: fast unit tests next to the code, the port contract suites
// (run once per implementation), and end-to-end tests against a real server.
export default defineConfig({
  test: {
    reporters: ['default', './test/support/summary-reporter.ts'],
    projects: [
      { test: { name: 'unit', include: ['src/**/*.test.ts'], exclude: ['src/**/*.contract.test.ts'] } },
      { test: { name: 'contract', include: ['src/**/*.contract.test.ts'], testTimeout: 60_000, hookTimeout: 60_000 } },
      {
        test: {
          name: 'e2e',
          include: ['test/**/*.test.ts'],
          testTimeout: 180_000,
          hookTimeout: 180_000,
          fileParallelism: false,
        },
      },
    ],
  },
});
