// `npm install` (postinstall): fills Node's compile cache with the modules `npm start`, its worker
// and `npm run worker` load, so that a first start neither strips the TypeScript types nor compiles
// them again (measured: ~30 MB less memory in each process, and a faster start). Importing these
// modules starts nothing; the entry points themselves (src/main.ts, src/worker.ts) are not run.
import { flushCompileCache } from 'node:module';
// The same cache as npm start's (its import enables it).
import '../bin/compile-cache.mjs';

const started = Date.now();
const modules = [
  '../src/config.ts',
  '../src/api/server.ts',
  '../src/api/yoga.ts',
  '../src/api/metrics.ts',
  '../src/domain/queries.ts',
  '../src/jobs/system.ts',
  '../src/tasks/registry.ts',
  '../src/tasks/deps.ts',
  '../src/db/embedded-postgres.ts',
  '../src/lib/supervisor.ts',
  '../src/lib/telemetry.ts',
  '../src/adapters/bullmq.ts',
  '../src/adapters/pgboss.ts',
  '../src/adapters/inline.ts',
  '../src/events/bus.ts',
];
try {
  for (const module of modules) await import(module);
  flushCompileCache();
  console.log(`jobgraph: compile cache warmed in ${Date.now() - started} ms`);
} catch (error) {
  console.warn(`jobgraph: compile cache not warmed (${error instanceof Error ? error.message : String(error)}); the first start compiles instead`);
}
process.exit(0); // a module's pool or timer must not keep npm install waiting
