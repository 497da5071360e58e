import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    testTimeout: 60_000,
    hookTimeout: 60_000,
    // Two cores: files run two at a time; each file uses its own database / queue names.
    fileParallelism: true,
    maxWorkers: 2,
  },
});
