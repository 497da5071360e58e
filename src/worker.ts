// `npm run worker`: a worker process, no API. Start as many as you like against the same
// DATABASE_URL (and REDIS_URL): they share the queue and the ledger. It needs DATABASE_URL.
import { loadConfig } from './config.ts';
import { JobSystem } from './jobs/system.ts';
import { createTaskRegistry } from './tasks/registry.ts';
import { createTaskDeps } from './tasks/deps.ts';
import { createLogger } from './lib/logger.ts';
import { stopOnSignals } from './lib/shutdown.ts';

const config = loadConfig();
const logger = createLogger(config.LOG_LEVEL);
if (!config.DATABASE_URL) {
  // The embedded ledger belongs to the one process that opened it (`npm start`): a worker beside
  // it would see no jobs, or a ledger of its own.
  logger.fatal(
    'A separate worker needs PostgreSQL: set DATABASE_URL to the ledger the API uses. Without it the ledger is ' +
      'embedded (PGlite) and belongs to one process; `npm start` alone runs the API and a worker together.',
  );
  process.exit(1);
}
try {
  const system = await JobSystem.start({ config, logger, registry: createTaskRegistry(), deps: createTaskDeps(config), worker: true });
  stopOnSignals(() => system.stop(), logger);
} catch (error) {
  logger.fatal({ err: error }, error instanceof Error ? error.message : 'worker failed to start');
  process.exit(1);
}
