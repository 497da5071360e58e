// `npm start`: the GraphQL API. Its event loop serves HTTP and WebSocket and runs no task: the
// work runs in a worker process that it supervises (WORKER_IN_PROCESS=true, the default) or in
// worker processes of their own (`npm run worker`, WORKER_IN_PROCESS=false). With neither Redis
// nor DATABASE_URL it runs embedded: the PGlite ledger in ./.jobgraph, served to the API and the
// worker by a ledger process of its own, and jobs carried by the worker's in-process queue.
import { fileURLToPath } from 'node:url';
import { createHttpServer } from './api/server.ts';
import { createApi } from './api/yoga.ts';
import { createMetrics } from './api/metrics.ts';
import { workflowReads } from './domain/queries.ts';
import { loadConfig, type Config } from './config.ts';
import { JobSystem } from './jobs/system.ts';
import { createTaskRegistry } from './tasks/registry.ts';
import { createTaskDeps } from './tasks/deps.ts';
import { createLogger, type Logger } from './lib/logger.ts';
import { stopOnSignals } from './lib/shutdown.ts';
import { SupervisedProcess } from './lib/supervisor.ts';

const config = loadConfig();
const logger = createLogger(config.LOG_LEVEL);
const children: SupervisedProcess[] = [];
try {
  // The processes `npm start` supervises share its environment, plus the embedded ledger's URL.
  const childEnv: NodeJS.ProcessEnv = { ...process.env };
  let apiConfig: Config = config;
  if (config.WORKER_IN_PROCESS && !config.DATABASE_URL) {
    const ledgerHost = new SupervisedProcess({ name: 'ledger', module: entry('./ledger-host.ts'), env: childEnv, logger, restart: false });
    children.push(ledgerHost);
    const { url } = (await ledgerHost.start()) as { type: 'ready'; url: string };
    childEnv.EMBEDDED_LEDGER_URL = url;
    apiConfig = { ...config, EMBEDDED_LEDGER_URL: url };
  }
  const system = await JobSystem.start({ config: apiConfig, logger, registry: createTaskRegistry(), deps: createTaskDeps(config), worker: false });
  if (config.WORKER_IN_PROCESS) {
    // Work yields the CPU to serving: on a busy machine the scheduler favours the API's answers.
    const worker = new SupervisedProcess({ name: 'worker', module: entry('./worker.ts'), env: childEnv, logger, restart: true, nice: 10 });
    children.unshift(worker);
    await worker.start();
  }
  const metrics = createMetrics(system, config, logger);
  const http = createHttpServer(createApi(system, workflowReads(system.db.prisma), config, logger, { metrics }), system, logger);
  const port = await http.listen(config.PORT);
  logger.info({ url: `http://localhost:${port}/graphql` }, `jobgraph API ready: GraphiQL at http://localhost:${port}/graphql`);
  await seedOnFirstEmbeddedStart(system, logger);
  stopOnSignals(async () => {
    await http.close();
    await stopChildren(children, config, ['worker']);
    await system.stop();
    await stopChildren(children, config, ['ledger']);
  }, logger);
} catch (error) {
  logger.fatal({ err: error }, error instanceof Error ? error.message : 'failed to start');
  await stopChildren(children, config, ['worker', 'ledger']).catch(() => {});
  process.exit(1);
}

/**
 * The embedded first start loads the demo as a job of its own: /ready does not wait for it, and
 * its progress shows like any job's. Its idempotency key makes it once per ledger.
 */
async function seedOnFirstEmbeddedStart(system: JobSystem, log: Logger): Promise<void> {
  if (system.db.kind === 'postgres' || (await system.db.prisma.report.count()) > 0) return;
  const { job } = await system.enqueue('demo.seedDemoData', {}, { idempotencyKey: 'embedded-first-start' });
  log.info({ jobId: job.id }, 'first start: loading the demo data as a job (npm run seed does the same by hand)');
}

/** Stops the named children in order: the worker hands its jobs back, the ledger goes last. */
async function stopChildren(all: SupervisedProcess[], cfg: Config, names: string[]): Promise<void> {
  for (const name of names) {
    for (const child of all.filter((c) => c.name === name)) await child.stop(cfg.SHUTDOWN_TIMEOUT_MS + 10_000);
  }
}

function entry(relative: string): string {
  return fileURLToPath(new URL(relative, import.meta.url));
}
