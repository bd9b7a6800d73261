import { defineConfig } from 'vitest/config';

// Tests that start whole systems of processes: one file at a time.
const e2e = ['e2e/**/*.test.ts', 'deploy/test/**/*.e2e.test.ts'];

export default defineConfig({
  test: {
    exclude: ['**/node_modules/**'],
    pool: 'forks',
    // Two cores: more parallel files than that only makes the process-spawning tests slower.
    maxWorkers: 2,
    minWorkers: 1,
    reporters: ['default', './scripts/summary-reporter.ts'],
    testTimeout: 60_000,
    hookTimeout: 120_000,
    projects: [
      {
        extends: true,
        test: {
          name: 'component',
          include: ['**/test/**/*.test.ts'],
          exclude: ['**/node_modules/**', ...e2e],
        },
      },
      {
        extends: true,
        test: {
          name: 'e2e',
          include: e2e,
          // Each file starts the whole system (five processes); one at a time keeps timings honest.
          poolOptions: { forks: { singleFork: true } },
        },
      },
    ],
  },
});
