// `npm run worker`: a worker process, no API. Start as many as you like against the same
// DATABASE_URL (and REDIS_URL): they share the queue and the ledger. Without DATABASE_URL it works
// on the embedded ledger that `npm start` runs in EMBEDDED_DIR (./.jobgraph), found there.
// `npm start` runs one as a child it supervises (WORKER_IN_PROCESS=true), handing it the URL.
import { enableCompileCache } from 'node:module';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { answerMetricsRequests, createMetrics, METRICS_PATH, type Metrics } from './api/metrics.ts';
import { loadConfig } from './config.ts';
import { findEmbeddedPostgres } from './db/embedded-postgres.ts';
import { JobSystem } from './jobs/system.ts';
import { appLimits, appSchedules, appWorkflows, createTaskRegistry } from './tasks/registry.ts';
import { createTaskDeps } from './tasks/deps.ts';
import { createLogger } from './lib/logger.ts';
import { stopOnSignals } from './lib/shutdown.ts';
import { startTelemetry } from './lib/telemetry.ts';
import { exitWithParent, supervised, tellParent } from './lib/supervisor.ts';

/** Under `npm start`, a worker that a job grew past this is replaced (see WORKER_MAX_MEMORY_MB). */
const SUPERVISED_MAX_MEMORY_MB = 256;

// What it compiles is kept for the next start ($NODE_COMPILE_CACHE, which `npm start` passes on).
enableCompileCache();
const loaded = loadConfig();
const logger = createLogger(loaded.LOG_LEVEL, loaded.LOG_FORMAT);
try {
  // A worker started by hand beside `npm start` finds its embedded server in the folder.
  const config = loaded.DATABASE_URL || loaded.EMBEDDED_LEDGER_URL ? loaded : { ...loaded, EMBEDDED_LEDGER_URL: await findEmbeddedPostgres(loaded.EMBEDDED_DIR) };
  // Traces, when the OTEL_* variables ask for them; before anything starts.
  const telemetry = await startTelemetry({ serviceName: 'jobgraph-worker', logger });
  const system = await JobSystem.start({ config, logger, registry: createTaskRegistry(), workflows: appWorkflows, limits: appLimits, schedules: appSchedules, deps: createTaskDeps(config), worker: true, killWhenStuck: true });
  // Outcomes, retries and durations are counted where jobs run. Under `npm start` the API's
  // /metrics asks this process for them over IPC; a port of its own as well would count them twice.
  const metrics = supervised() || config.METRICS_PORT !== undefined ? createMetrics(system, config, logger) : undefined;
  if (metrics && supervised()) answerMetricsRequests(metrics);
  const metricsServer = metrics && !supervised() && config.METRICS_PORT !== undefined ? await serveMetrics(metrics, config.METRICS_PORT) : undefined;
  if (metricsServer) logger.info({ port: (metricsServer.address() as AddressInfo).port }, 'worker metrics on /metrics');
  const stop = async () => {
    metricsServer?.close();
    await system.stop();
    await telemetry?.shutdown();
  };
  // Under `npm start` the parent orders the stop (SIGTERM), after its listener closed and before
  // the ledger does: the terminal's Ctrl-C, sent to the whole process group, is left to it.
  stopOnSignals(stop, logger, supervised() ? ['SIGTERM'] : undefined);
  if (supervised()) {
    process.on('SIGINT', () => {});
    exitWithParent(() => system.stop(), 5_000);
  }
  replaceWhenGrown(system, stop, config.WORKER_MAX_MEMORY_MB ?? (supervised() ? SUPERVISED_MAX_MEMORY_MB : undefined));
  tellParent({ type: 'ready' });
} catch (error) {
  const message = error instanceof Error ? error.message : 'worker failed to start';
  logger.fatal({ err: error }, message);
  tellParent({ type: 'failed', message });
  process.exit(1);
}

/**
 * Heaps grown by a big job are not given back to the OS: a worker whose RSS is over `limitMb`
 * when a job of its own has ended stops (running jobs finish, within SHUTDOWN_TIMEOUT_MS) and
 * exits 0, to be replaced by a fresh process.
 */
function replaceWhenGrown(system: JobSystem, stop: () => Promise<void>, limitMb: number | undefined): void {
  if (limitMb === undefined) return;
  let replacing = false;
  system.onLocalChange((change) => {
    if (replacing || change.job.status === 'RUNNING' || change.job.status === 'CANCELLING') return;
    const rssMb = process.memoryUsage.rss() / 1_048_576;
    if (rssMb <= limitMb) return;
    replacing = true;
    logger.info({ rssMb: Math.round(rssMb), limitMb }, 'worker memory over WORKER_MAX_MEMORY_MB after a job: finishing the running jobs, then exiting to be replaced');
    void stop().then(
      () => process.exit(0),
      (error: unknown) => {
        logger.error({ err: error }, 'stop before replacement failed');
        process.exit(1);
      },
    );
  });
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
