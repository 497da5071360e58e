// `npm start`: the GraphQL API, with a worker in the same process unless WORKER_IN_PROCESS=false.
// With neither Redis nor Postgres it runs embedded: PGlite ledger in ./.jobgraph, in-process queue.
import { createHttpServer } from './api/server.ts';
import { createApi } from './api/yoga.ts';
import { createMetrics } from './api/metrics.ts';
import { workflowReads } from './domain/queries.ts';
import { loadConfig } from './config.ts';
import { JobSystem } from './jobs/system.ts';
import { createTaskRegistry } from './tasks/registry.ts';
import { createTaskDeps } from './tasks/deps.ts';
import { createLogger } from './lib/logger.ts';
import { stopOnSignals } from './lib/shutdown.ts';

const config = loadConfig();
const logger = createLogger(config.LOG_LEVEL);
try {
  const system = await JobSystem.start({ config, logger, registry: createTaskRegistry(), deps: createTaskDeps(config) });
  const metrics = createMetrics(system, config, logger);
  const http = createHttpServer(createApi(system, workflowReads(system.db.prisma), config, logger, { metrics }), system, logger);
  const port = await http.listen(config.PORT);
  logger.info({ url: `http://localhost:${port}/graphql` }, `jobgraph API ready: GraphiQL at http://localhost:${port}/graphql`);
  // The embedded first start loads the demo as a job of its own: /ready does not wait for it, and
  // its progress shows like any job's. Its idempotency key makes it once per ledger.
  if (!config.DATABASE_URL && (await system.db.prisma.report.count()) === 0) {
    const { job } = await system.enqueue('demo.seedDemoData', {}, { idempotencyKey: 'embedded-first-start' });
    logger.info({ jobId: job.id }, 'first start: loading the demo data as a job (npm run seed does the same by hand)');
  }
  stopOnSignals(async () => {
    await http.close();
    await system.stop();
  }, logger);
} catch (error) {
  logger.fatal({ err: error }, error instanceof Error ? error.message : 'failed to start');
  process.exit(1);
}
