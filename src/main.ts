// `npm start`: the GraphQL API. Its event loop serves HTTP and WebSocket and runs no task: the
// work runs in a worker process that it supervises (WORKER_IN_PROCESS=true, the default) or in
// worker processes of their own (`npm run worker`, WORKER_IN_PROCESS=false). With neither Redis
// nor DATABASE_URL it runs embedded: the PGlite ledger in ./.jobgraph, served to the API and the
// worker by a ledger process of its own, and jobs carried by the worker's in-process queue.
import { enableCompileCache, getCompileCacheDir } from 'node:module';
import { fileURLToPath } from 'node:url';
import { loadConfig, type Config } from './config.ts';
import { createLogger, type Logger } from './lib/logger.ts';
import { stopOnSignals } from './lib/shutdown.ts';
import { startTelemetry } from './lib/telemetry.ts';
import { SupervisedProcess } from './lib/supervisor.ts';
import type { JobSystem } from './jobs/system.ts';

// Node keeps what it compiled of the sources for the next start (and for the processes below).
enableCompileCache();
const config = loadConfig();
const logger = createLogger(config.LOG_LEVEL, config.LOG_FORMAT);
const children: SupervisedProcess[] = [];
try {
  // Traces, when the OTEL_* variables ask for them; before anything starts. The worker process,
  // given the same variables, reports as jobgraph-worker.
  const telemetry = await startTelemetry({ serviceName: 'jobgraph-api', logger });
  // The processes `npm start` supervises share its environment, plus the embedded ledger's URL.
  const childEnv: NodeJS.ProcessEnv = { ...process.env, NODE_COMPILE_CACHE: getCompileCacheDir() };
  // The ledger process first: PGlite takes a second to open, and the API's modules load meanwhile.
  const ledgerUrl = config.WORKER_IN_PROCESS && !config.DATABASE_URL ? startLedger(childEnv) : undefined;
  const [{ createHttpServer }, { createApi }, { createMetrics }, { workflowReads }, { JobSystem }, { createTaskRegistry, appWorkflows, appLimits, appSchedules }, { createTaskDeps }] = await Promise.all([
    import('./api/server.ts'),
    import('./api/yoga.ts'),
    import('./api/metrics.ts'),
    import('./domain/queries.ts'),
    import('./jobs/system.ts'),
    import('./tasks/registry.ts'),
    import('./tasks/deps.ts'),
  ]);
  const url = await ledgerUrl;
  if (url) childEnv.EMBEDDED_LEDGER_URL = url;
  const apiConfig: Config = url ? { ...config, EMBEDDED_LEDGER_URL: url } : config;
  // The worker starts beside the API; jobs accepted before it is up wait in the ledger.
  const workerStarted = config.WORKER_IN_PROCESS ? startWorker(childEnv) : Promise.resolve();
  workerStarted.catch(() => {}); // awaited below, once the API listens
  const system = await JobSystem.start({ config: apiConfig, logger, registry: createTaskRegistry(), workflows: appWorkflows, limits: appLimits, schedules: appSchedules, deps: createTaskDeps(config), worker: false });
  const metrics = createMetrics(system, config, logger);
  const http = createHttpServer(createApi(system, workflowReads(system.db.prisma), config, logger, { metrics }), system, logger);
  const port = await http.listen(config.PORT);
  logger.info({ url: `http://localhost:${port}/graphql` }, `jobgraph API ready: GraphiQL at http://localhost:${port}/graphql`);
  stopOnSignals(async () => {
    await http.close();
    await stopChildren(['worker']);
    await system.stop();
    await stopChildren(['ledger']);
    await telemetry?.shutdown();
  }, logger);
  await seedOnFirstEmbeddedStart(system, logger);
  await workerStarted;
} catch (error) {
  logger.fatal({ err: error }, error instanceof Error ? error.message : 'failed to start');
  await stopChildren(['worker', 'ledger']).catch(() => {});
  process.exit(1);
}

/** Starts the embedded ledger's process; resolves with its loopback URL. If it ever ends, so does `npm start`. */
async function startLedger(env: NodeJS.ProcessEnv): Promise<string> {
  const ledger = new SupervisedProcess({
    name: 'ledger',
    module: entry('./ledger-host.ts'),
    env,
    logger,
    restart: false,
    // Nothing works without the ledger, and a new one would listen elsewhere: stop loudly.
    onExit: async () => {
      logger.fatal('the embedded ledger process ended: stopping');
      await stopChildren(['worker']);
      process.exit(1);
    },
  });
  children.push(ledger);
  const { url } = (await ledger.start()) as { type: 'ready'; url: string };
  return url;
}

/** Starts the worker process, started again whenever it dies; work yields the CPU to serving (nice 10). */
async function startWorker(env: NodeJS.ProcessEnv): Promise<void> {
  const worker = new SupervisedProcess({ name: 'worker', module: entry('./worker.ts'), env, logger, restart: true, nice: 10 });
  children.unshift(worker);
  await worker.start();
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
async function stopChildren(names: string[]): Promise<void> {
  for (const name of names) {
    for (const child of children.filter((c) => c.name === name)) await child.stop(config.SHUTDOWN_TIMEOUT_MS + 10_000);
  }
}

function entry(relative: string): string {
  return fileURLToPath(new URL(relative, import.meta.url));
}
