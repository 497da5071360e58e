// Enqueue latency: the typed `noop` mutation over HTTP against a listening API (jobgraph on
// BullMQ, an API process of its own with its worker in process running the no-op task), at 1, 10
// and 50 concurrent keep-alive clients; beside it, what the layers cost alone at the same
// concurrency: a GraphQL query that touches nothing (HTTP + yoga), system.enqueue() without HTTP
// (ledger + queue), and raw BullMQ queue.add().
import { Queue } from 'bullmq';
import { Redis } from 'ioredis';
import { loadConfig } from '../src/config.ts';
import { JobSystem } from '../src/jobs/system.ts';
import { createLogger } from '../src/lib/logger.ts';
import {
  childStats,
  closedLoop,
  createBenchDatabase,
  envInt,
  graphql,
  keepAliveAgent,
  machineInfo,
  obliterateQueue,
  printMachine,
  randomName,
  REDIS_URL,
  runMain,
  spawnTs,
  summarize,
  table,
  verdict,
  writeResult,
  type Summary,
} from './lib.ts';
import { benchLimits, benchRegistry } from './tasks.ts';

const REQUESTS = envInt('BENCH_REQUESTS', 2_000);
const WARMUP = envInt('BENCH_WARMUP_REQUESTS', 200);
const LEVELS = (process.env.BENCH_CLIENTS ?? '1,10,50').split(',').map(Number);
const CONCURRENCY = envInt('BENCH_CONCURRENCY', 20);
/** The paced row: 50 clients that together send this many requests per second (below saturation). */
const PACED_RATE = envInt('BENCH_PACED_RATE', 200);

/** `lanes` clients each sending on a fixed schedule, `rate` requests/s in all (an open loop); latencies in ms. */
async function pacedLoop(lanes: number, rate: number, total: number, op: () => Promise<unknown>): Promise<{ latencies: number[]; elapsedMs: number }> {
  const latencies: number[] = [];
  const intervalMs = (lanes * 1000) / rate;
  const perLane = Math.ceil(total / lanes);
  const t0 = performance.now();
  await Promise.all(
    Array.from({ length: lanes }, async (_, lane) => {
      for (let k = 0; k < perLane; k++) {
        const due = t0 + (lane * intervalMs) / lanes + k * intervalMs;
        const wait = due - performance.now();
        if (wait > 0) await new Promise((resolve) => setTimeout(resolve, wait));
        const t = performance.now();
        await op();
        latencies.push(performance.now() - t);
      }
    }),
  );
  return { latencies, elapsedMs: performance.now() - t0 };
}

interface Row {
  what: string;
  clients: number;
  latency: Summary;
  perSecond: number;
  /** API process CPU per request (HTTP rows), ms. */
  apiCpuMsPerRequest?: number;
}

async function main(): Promise<void> {
  const machine = await machineInfo();
  printMachine(machine);
  console.log(`enqueue latency: ${REQUESTS} requests per row (after ${WARMUP} warm-up), clients ${LEVELS.join('/')}\n`);
  const db = await createBenchDatabase();
  const queueName = randomName('bench_lat');
  const rawName = randomName('bench_rawadd');
  const env = {
    DATABASE_URL: db.url,
    REDIS_URL,
    QUEUE_BACKEND: 'bullmq',
    QUEUE_NAME: queueName,
    WORKER_CONCURRENCY: String(CONCURRENCY),
    SHUTDOWN_TIMEOUT_MS: '5000',
    LOG_LEVEL: process.env.BENCH_LOG_LEVEL ?? 'warn',
  };
  // BENCH_API_WORKER=false: the API process runs no worker (the jobs then wait in BullMQ), to see what the worker costs it.
  const api = spawnTs('./api.ts', { ...env, WORKER_IN_PROCESS: process.env.BENCH_API_WORKER ?? 'true', PORT: '0' });
  let system: JobSystem | undefined;
  const redis = new Redis(REDIS_URL, { maxRetriesPerRequest: 1 });
  const rawQueue = new Queue(rawName, { connection: redis, prefix: 'jobgraph_bench' });
  const rows: Row[] = [];
  try {
    const port = Number((await api.waitFor(/^listening (\d+)$/, 60_000, 'API start'))[1]);
    const url = `http://127.0.0.1:${port}`;
    // The same backend and queue from this process, without HTTP: what the ledger and the queue cost.
    const config = loadConfig({ ...env, WORKER_IN_PROCESS: 'false' });
    system = await JobSystem.start({ config, logger: createLogger(config.LOG_LEVEL), registry: benchRegistry(), limits: benchLimits, worker: false });
    const inProcess = system;

    const kinds: { what: string; http: boolean; op: (agent: ReturnType<typeof keepAliveAgent>) => () => Promise<unknown> }[] = [
      {
        what: 'HTTP mutation noop (jobgraph)',
        http: true,
        op: (agent) => () => graphql(agent, url, 'mutation { noop(input: {}) { job { id } } }'),
      },
      { what: 'HTTP query { __typename } (HTTP + yoga only)', http: true, op: (agent) => () => graphql(agent, url, '{ __typename }') },
      { what: 'system.enqueue() in process (ledger + queue, no HTTP)', http: false, op: () => () => inProcess.enqueue('bench.noop', {}) },
      {
        what: 'raw BullMQ queue.add()',
        http: false,
        op: () => () => rawQueue.add('bench.noop', { x: 1 }, { removeOnComplete: true, removeOnFail: true, attempts: 1 }),
      },
    ];

    for (const clients of LEVELS) {
      for (const kind of kinds) {
        const agent = keepAliveAgent(clients);
        const op = kind.op(agent);
        await closedLoop(clients, WARMUP, op);
        const before = kind.http ? await childStats(api) : undefined;
        const { latencies, elapsedMs } = await closedLoop(clients, REQUESTS, op);
        const after = kind.http ? await childStats(api) : undefined;
        agent.destroy();
        const row: Row = {
          what: kind.what,
          clients,
          latency: summarize(latencies),
          perSecond: Math.round(REQUESTS / (elapsedMs / 1000)),
          ...(before && after ? { apiCpuMsPerRequest: (after.cpuMs - before.cpuMs) / REQUESTS } : {}),
        };
        rows.push(row);
        console.log(`  ${clients} client(s), ${kind.what}: p50 ${row.latency.p50.toFixed(2)} ms, p99 ${row.latency.p99.toFixed(2)} ms`);
      }
    }
    // An open loop below saturation: 50 clients, PACED_RATE requests/s in all.
    {
      const agent = keepAliveAgent(50);
      const op = kinds[0]!.op(agent);
      const before = await childStats(api);
      const { latencies, elapsedMs } = await pacedLoop(50, PACED_RATE, REQUESTS, op);
      const after = await childStats(api);
      agent.destroy();
      const row: Row = {
        what: `HTTP mutation noop (jobgraph), paced: ${PACED_RATE} req/s in all`,
        clients: 50,
        latency: summarize(latencies),
        perSecond: Math.round(latencies.length / (elapsedMs / 1000)),
        apiCpuMsPerRequest: (after.cpuMs - before.cpuMs) / latencies.length,
      };
      rows.push(row);
      console.log(`  50 clients, ${row.what}: p50 ${row.latency.p50.toFixed(2)} ms, p99 ${row.latency.p99.toFixed(2)} ms`);
    }
  } finally {
    await api.stop();
    await system?.stop();
    await rawQueue.obliterate({ force: true }).catch(() => {});
    await rawQueue.close().catch(() => {});
    redis.disconnect();
    await obliterateQueue(queueName, 'jobgraph').catch((error: unknown) => console.warn(String(error)));
    await db.drop();
  }

  console.log(
    '\n' +
      table(
        ['clients', 'what', 'p50 ms', 'p90 ms', 'p99 ms', 'max ms', 'req/s', 'API CPU ms/req', 'target'],
        rows.map((r) => {
          const target =
            r.clients === 50 && r.what.startsWith('HTTP mutation') && !r.what.includes('paced')
              ? `p50 ≤ 3: ${verdict(r.latency.p50 <= 3)}; p99 ≤ 15: ${verdict(r.latency.p99 <= 15)}`
              : '';
          return [
            r.clients,
            r.what,
            r.latency.p50.toFixed(2),
            r.latency.p90.toFixed(2),
            r.latency.p99.toFixed(2),
            r.latency.max.toFixed(1),
            r.perSecond,
            r.apiCpuMsPerRequest?.toFixed(2) ?? '',
            target,
          ];
        }),
      ),
  );
  await writeResult('enqueue-latency', { machine, params: { requests: REQUESTS, warmup: WARMUP, levels: LEVELS, workerConcurrency: CONCURRENCY, pacedRate: PACED_RATE }, rows });
}

runMain(main);
