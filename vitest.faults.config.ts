import { createRequire } from 'node:module';
import { defineConfig } from 'vitest/config';

const require = createRequire(import.meta.url);

/**
 * `npm run test:faults`: the fault suite. Each scenario runs processes and services of its own, so
 * files run one at a time (two cores); the global setup writes the table to FAULTS.md.
 */
export default defineConfig({
  // As in vitest.config.ts: one copy of graphql.
  resolve: { alias: [{ find: /^graphql$/, replacement: require.resolve('graphql') }] },
  test: {
    include: ['test/faults/**/*.test.ts'],
    fileParallelism: false,
    maxWorkers: 1,
    testTimeout: 240_000,
    hookTimeout: 120_000,
    globalSetup: ['test/faults/support/global-setup.ts'],
  },
});
