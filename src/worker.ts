// `npm run worker`: a worker process, no API. Start as many as you like against the same
// DATABASE_URL (and REDIS_URL): they share the queue and the ledger.
import { loadConfig } from './config.ts';
import { JobSystem } from './jobs/system.ts';
import { createLogger } from './logger.ts';
import { stopOnSignals } from './shutdown.ts';

const config = loadConfig();
const logger = createLogger(config.LOG_LEVEL);
try {
  const system = await JobSystem.start({ config, logger, worker: true });
  stopOnSignals(() => system.stop(), logger);
} catch (error) {
  logger.fatal({ err: error }, error instanceof Error ? error.message : 'worker failed to start');
  process.exit(1);
}
