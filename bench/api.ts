// An API process for the benchmarks: the GraphQL server (HTTP, SSE, WebSocket) on the bench
// registry, configured from the environment like `npm start` (WORKER_IN_PROCESS decides whether
// it also runs jobs). Listens on PORT (0: any free port) and prints "listening <port>". Its stdin:
// `stats <tag>` answers its CPU, memory and the statements and commands it sent (BENCH_COUNT=1);
// end of input (the bench died) or SIGTERM stops it.
import { createHttpServer } from '../src/api/server.ts';
import { createApi } from '../src/api/yoga.ts';
import { workflowReads } from '../src/domain/queries.ts';
import { loadConfig } from '../src/config.ts';
import { JobSystem } from '../src/jobs/system.ts';
import { createLogger } from '../src/lib/logger.ts';
import { stopOnSignals } from '../src/lib/shutdown.ts';
import { countChild } from './counters.ts';
import { serveStdin } from './lib.ts';
import { benchLimits, benchRegistry } from './tasks.ts';

const config = loadConfig();
const logger = createLogger(config.LOG_LEVEL);
const system = await JobSystem.start({ config, logger, registry: benchRegistry(), limits: benchLimits });
countChild(system.db);
const http = createHttpServer(createApi(system, workflowReads(system.db.prisma), config, logger), system, logger);
const port = await http.listen(config.PORT, '127.0.0.1');
const stop = async () => {
  await http.close();
  await system.stop();
};
stopOnSignals(stop, logger);
serveStdin(
  () => {},
  () => void stop().finally(() => process.exit(0)),
);
process.stdout.write(`listening ${port}\n`);
