import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    testTimeout: 30_000,
    hookTimeout: 120_000,
    // Integration tests boot real daemons; two cores do not run many at once well.
    fileParallelism: true,
    maxWorkers: 2,
  },
});
