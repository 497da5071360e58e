// `npm start`: the GraphQL API. Its event loop serves HTTP and WebSocket and runs no task: the
// work runs in a worker process that it supervises (WORKER_IN_PROCESS=true, the default) or in
// worker processes of their own (`npm run worker`, WORKER_IN_PROCESS=false). Without DATABASE_URL
// it runs embedded: it starts a PostgreSQL of its own in ./.jobgraph (src/db/embedded-postgres.ts),
// which its worker and any `npm run worker` of the same folder share, and stops it last.
import { enableCompileCache, getCompileCacheDir } from 'node:module';
import { fileURLToPath } from 'node:url';
import { listenAddress, loadConfig, urlHost, type Config } from './config.ts';
import { createLogger, type Logger } from './lib/logger.ts';
import { stopOnSignals } from './lib/shutdown.ts';
import { startTelemetry } from './lib/telemetry.ts';
import { SupervisedProcess } from './lib/supervisor.ts';
import { startEmbeddedPostgres, type EmbeddedServer } from './db/embedded-postgres.ts';
import type { JobSystem } from './jobs/system.ts';

// Node keeps what it compiled of the sources for the next start (and for the processes below).
enableCompileCache();
const config = loadConfig();
const logger = createLogger(config.LOG_LEVEL, config.LOG_FORMAT);
const children: SupervisedProcess[] = [];
let embedded: EmbeddedServer | undefined;
let stopping = false;
try {
  // Traces, when the OTEL_* variables ask for them; before anything starts. The worker process,
  // given the same variables, reports as jobgraph-worker.
  const telemetry = await startTelemetry({ serviceName: 'jobgraph-api', logger });
  // The processes `npm start` supervises share its environment, plus the embedded ledger's URL.
  const childEnv: NodeJS.ProcessEnv = { ...process.env, NODE_COMPILE_CACHE: getCompileCacheDir() };
  // The embedded server first: it starts while the API's modules load.
  const embeddedStarted = config.DATABASE_URL ? undefined : startEmbeddedPostgres({ dir: config.EMBEDDED_DIR, port: config.EMBEDDED_PORT, logger });
  embeddedStarted?.catch(() => {}); // awaited below
  const [{ createHttpServer }, { createApi }, { createMetrics, supervisedMetrics }, { workflowReads }, { JobSystem }, { createTaskRegistry, appWorkflows, appLimits, appSchedules }, { createTaskDeps }] = await Promise.all([
    import('./api/server.ts'),
    import('./api/yoga.ts'),
    import('./api/metrics.ts'),
    import('./domain/queries.ts'),
    import('./jobs/system.ts'),
    import('./tasks/registry.ts'),
    import('./tasks/deps.ts'),
  ]);
  embedded = await embeddedStarted;
  if (embedded) {
    childEnv.EMBEDDED_LEDGER_URL = embedded.url;
    keepEmbeddedRunning(embedded);
  }
  const apiConfig: Config = embedded ? { ...config, EMBEDDED_LEDGER_URL: embedded.url } : config;
  // The worker starts beside the API; jobs accepted before it is up wait in the ledger.
  const workerStarted = config.WORKER_IN_PROCESS ? startWorker(childEnv) : Promise.resolve();
  workerStarted.catch(() => {}); // awaited below, once the API listens
  const system = await JobSystem.start({ config: apiConfig, logger, registry: createTaskRegistry(), workflows: appWorkflows, limits: appLimits, schedules: appSchedules, deps: createTaskDeps(config), worker: false });
  // One scrape for what `npm start` runs: the worker's counters are asked for over IPC and summed in.
  const metrics = createMetrics(system, config, logger, { children: supervisedMetrics(() => children) });
  const http = createHttpServer(createApi(system, workflowReads(system.db.prisma), config, logger, { metrics }), system, logger);
  const { host, open } = listenAddress(config);
  const port = await http.listen(config.PORT, host);
  if (open) logger.warn({ host, port }, `API_OPEN=true: the API listens on ${host}:${port} without API_TOKENS; anyone who reaches it is the admin`);
  const graphiql = `http://${urlHost(host)}:${port}/graphql`;
  logger.info({ url: graphiql, host }, `jobgraph API ready: GraphiQL at ${graphiql}`);
  stopOnSignals(async () => {
    stopping = true;
    await http.close();
    await stopChildren();
    await system.stop();
    await embedded?.stop();
    await telemetry?.shutdown();
  }, logger);
  await seedOnFirstEmbeddedStart(system, logger);
  // A stop asked for while the worker was still starting ends its start: not a failure.
  await workerStarted.catch((error: unknown) => {
    if (!stopping) throw error;
  });
} catch (error) {
  // While a signal's stop is under way, that stop ends the process; else this is a failed start.
  if (!stopping) await endFatally(error, error instanceof Error ? error.message : 'failed to start');
}

/**
 * The embedded server is started again if it ends while `npm start` runs (its processes reconnect
 * as to any PostgreSQL that restarted); it is looked at every second.
 */
function keepEmbeddedRunning(server: EmbeddedServer): void {
  const timer = setInterval(() => {
    void (async () => {
      if (stopping || (await server.running())) return;
      clearInterval(timer);
      logger.error({ dataDir: server.dataDir }, 'the embedded PostgreSQL ended: starting it again');
      try {
        embedded = await startEmbeddedPostgres({ dir: config.EMBEDDED_DIR, port: server.port, logger });
        keepEmbeddedRunning(embedded);
      } catch (error) {
        await endFatally(error, 'the embedded PostgreSQL cannot be started again: stopping');
      }
    })();
  }, 1_000);
  timer.unref();
}

/** Logs why, stops the worker and the embedded server (each at most once), and exits 1. */
async function endFatally(error: unknown, message: string): Promise<never> {
  logger.fatal({ err: error }, message);
  stopping = true;
  await stopChildren().catch(() => {});
  await embedded?.stop().catch(() => {});
  process.exit(1);
}

/** Starts the worker process, started again whenever it dies; work yields the CPU to serving (nice 10). */
async function startWorker(env: NodeJS.ProcessEnv): Promise<void> {
  const worker = new SupervisedProcess({ name: 'worker', module: entry('./worker.ts'), env, logger, restart: true, nice: 10 });
  children.push(worker);
  await worker.start();
}

/**
 * The embedded first start loads the demo as a job of its own: /ready does not wait for it, and
 * its progress shows like any job's. Its idempotency key makes it once per ledger.
 */
async function seedOnFirstEmbeddedStart(system: JobSystem, log: Logger): Promise<void> {
  if (system.db.kind === 'postgres') return;
  // Raw SQL: the API's first Prisma query loads its query compiler (~0.3 s of this thread), which
  // the first request that needs it pays instead of every start.
  const [{ found }] = (await system.db.query<{ found: boolean }>('SELECT EXISTS (SELECT 1 FROM "Report") AS found')) as [{ found: boolean }];
  if (found) return;
  const { job } = await system.enqueue('demo.seedDemoData', {}, { idempotencyKey: 'embedded-first-start' });
  log.info({ jobId: job.id }, 'first start: loading the demo data as a job (npm run seed does the same by hand)');
}

/** Stops the worker, which hands its jobs back (the embedded server is stopped after it). */
async function stopChildren(): Promise<void> {
  for (const child of children) await child.stop(config.SHUTDOWN_TIMEOUT_MS + 10_000);
}

function entry(relative: string): string {
  return fileURLToPath(new URL(relative, import.meta.url));
}
