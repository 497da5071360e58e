import { createRequire } from 'node:module';
import { defineConfig } from 'vitest/config';

const require = createRequire(import.meta.url);

export default defineConfig({
  // graphql 16 has no "exports": Node loads its CommonJS build, Vite would pick its .mjs one, and
  // two copies of graphql break every instanceof check. Make Vite load the one Node loads.
  resolve: { alias: [{ find: /^graphql$/, replacement: require.resolve('graphql') }] },
  test: {
    include: ['test/**/*.test.ts'],
    // The fault suite has its own command (npm run test:faults) and configuration. test/process
    // (npm start's processes under the long tasks, handlers that spin a core for seconds) runs
    // after the rest, one file at a time: beside other files it starves their timing.
    exclude: ['test/faults/**', 'node_modules/**'],
    testTimeout: 60_000,
    hookTimeout: 60_000,
    // Two cores: files run two at a time; each file uses its own database / queue names.
    fileParallelism: true,
    maxWorkers: 2,
  },
});
