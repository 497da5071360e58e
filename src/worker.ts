// `npm run worker`: a worker process, no API. Start as many as you like against the same
// DATABASE_URL (and REDIS_URL): they share the queue and the ledger. It needs DATABASE_URL.
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createMetrics, METRICS_PATH, type Metrics } from './api/metrics.ts';
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
  // Outcomes, retries and durations are counted where jobs run: a worker serves them itself.
  const metricsServer = config.METRICS_PORT === undefined ? undefined : await serveMetrics(createMetrics(system, config, logger), config.METRICS_PORT);
  if (metricsServer) logger.info({ port: (metricsServer.address() as AddressInfo).port }, 'worker metrics on /metrics');
  stopOnSignals(async () => {
    metricsServer?.close();
    await system.stop();
  }, logger);
} catch (error) {
  logger.fatal({ err: error }, error instanceof Error ? error.message : 'worker failed to start');
  process.exit(1);
}

function serveMetrics(metrics: Metrics, port: number): Promise<Server> {
  const server = createServer((req, res) => {
    if ((req.url ?? '/').split('?')[0] === METRICS_PATH) return void metrics.handle(req, res);
    res.writeHead(404, { 'content-type': 'text/plain' }).end('only /metrics here\n');
  });
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, () => resolve(server));
  });
}
