// A worker process for the benchmarks: the real JobSystem with the bench tasks, configured from
// the environment like `npm run worker`. Prints "ready <workerId>" once it consumes. Its stdin:
// `go <gate>` lets a waiting bench.progress job start; `stats <tag>` answers its CPU, memory, the
// statements and commands it sent (BENCH_COUNT=1) and the jobs it completed; `reached <n> <tag>`
// answers once it completed n; end of input (the bench died) or SIGTERM stops it.
import { loadConfig } from '../src/config.ts';
import { JobSystem } from '../src/jobs/system.ts';
import { createLogger } from '../src/lib/logger.ts';
import { stopOnSignals } from '../src/lib/shutdown.ts';
import { countChild } from './counters.ts';
import { completions, serveStdin } from './lib.ts';
import { benchLimits, benchRegistry, openNamedGate, setDirectProgress } from './tasks.ts';

const config = loadConfig();
const logger = createLogger(config.LOG_LEVEL);
const system = await JobSystem.start({ config, logger, registry: benchRegistry(), limits: benchLimits, worker: true });
countChild(system.db);
system.onLocalChange(({ job }) => {
  if (job.status === 'COMPLETED') completions.add();
});
// bench.progress with everyEvent: the write ctx.progress makes, without its coalescing.
const workerId = system.workerId;
if (!workerId) throw new Error('the bench worker has no worker id');
setDirectProgress((jobId, percent, message) => system.ledger.transitions.progress(jobId, workerId, percent, message));
const stop = () => system.stop();
stopOnSignals(stop, logger);
serveStdin(
  (line) => {
    const go = /^go (\S+)$/.exec(line);
    if (go) openNamedGate(go[1]!);
  },
  () => void stop().finally(() => process.exit(0)),
);
process.stdout.write(`ready ${system.workerId}\n`);
