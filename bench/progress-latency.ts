// Progress latency across processes: a worker process runs a bench.progress job that calls
// ctx.progress() N times, each message carrying its send time; an API process (no worker) serves
// the subscriptions; this process subscribes to jobEvents over SSE (graphql-sse, distinct
// connections) and over WebSocket (graphql-ws) and records when each event arrives. Per backend:
// BullMQ with the Redis bus, pg-boss with the Postgres (LISTEN/NOTIFY) bus, inline on Postgres
// with the Postgres bus.
import { createClient as createSseClient } from 'graphql-sse';
import { createClient as createWsClient } from 'graphql-ws';
import WebSocket from 'ws';
import {
  childStats,
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
  sleep,
  spawnTs,
  summarize,
  table,
  until,
  verdict,
  wallNow,
  writeResult,
  type BenchDatabase,
  type Summary,
} from './lib.ts';
import { sentAtOf } from './tasks.ts';

const EVENTS = envInt('BENCH_PROGRESS_EVENTS', 1_000);
const BACKENDS = (process.env.BENCH_BACKENDS ?? 'bullmq,pgboss,inline').split(',') as ('bullmq' | 'pgboss' | 'inline')[];

interface Received {
  seq: number;
  kind: string;
  message: string | null;
  at: number;
}

interface Row {
  backend: string;
  bus: string;
  transport: 'SSE' | 'WebSocket';
  received: number;
  latency: Summary;
  /** ctx.progress() in the worker: ledger write + publish, ms. */
  progressCall?: { p50: number; p90: number; p99: number; max: number };
  emitMs: number;
  apiCpuMs: number;
  workerCpuMs: number;
}

const SUBSCRIPTION = 'subscription ($id: ID!) { jobEvents(id: $id) { seq kind message } }';

async function measure(backend: 'bullmq' | 'pgboss' | 'inline', db: BenchDatabase): Promise<Row[]> {
  const queueName = randomName('bench_prog');
  const env = {
    DATABASE_URL: db.url,
    REDIS_URL,
    QUEUE_BACKEND: backend,
    QUEUE_NAME: queueName,
    PGBOSS_SCHEMA: randomName('bench_pgboss'),
    WORKER_CONCURRENCY: '4',
    SHUTDOWN_TIMEOUT_MS: '5000',
    LOG_LEVEL: process.env.BENCH_LOG_LEVEL ?? 'warn',
  };
  const worker = spawnTs('./worker.ts', env);
  const api = spawnTs('./api.ts', { ...env, WORKER_IN_PROCESS: 'false', PORT: '0' });
  const agent = keepAliveAgent(4);
  const stops: (() => void | Promise<void>)[] = [];
  try {
    await worker.waitFor(/^ready /, 60_000, 'worker start');
    const port = Number((await api.waitFor(/^listening (\d+)$/, 60_000, 'API start'))[1]);
    const url = `http://127.0.0.1:${port}`;
    const gate = randomName('go');
    const enqueued = await graphql<{ progress: { job: { id: string } } }>(
      agent,
      url,
      `mutation ($input: ProgressInput!) { progress(input: $input) { job { id } } }`,
      { input: { count: EVENTS, gate } },
    );
    const id = enqueued.progress.job.id;

    const received: Record<'SSE' | 'WebSocket', Received[]> = { SSE: [], WebSocket: [] };
    const finished: Record<'SSE' | 'WebSocket', boolean> = { SSE: false, WebSocket: false };
    const sink = (transport: 'SSE' | 'WebSocket') => ({
      next(result: { data?: { jobEvents?: { seq: number; kind: string; message: string | null } } | null }) {
        const at = wallNow();
        const event = result.data?.jobEvents;
        if (event) received[transport].push({ ...event, at });
      },
      error(error: unknown) {
        console.warn(`${transport} subscription error:`, error);
        finished[transport] = true;
      },
      complete() {
        finished[transport] = true;
      },
    });
    const sse = createSseClient({ url: `${url}/graphql`, retryAttempts: 0 });
    stops.push(() => sse.dispose());
    stops.push(sse.subscribe({ query: SUBSCRIPTION, variables: { id } }, sink('SSE')));
    const ws = createWsClient({ url: `${url.replace('http', 'ws')}/graphql`, webSocketImpl: WebSocket, retryAttempts: 0 });
    stops.push(() => ws.dispose());
    stops.push(ws.subscribe({ query: SUBSCRIPTION, variables: { id } }, sink('WebSocket')));
    // Both have replayed the first event from the ledger, i.e. their bus listener is registered;
    // give the transport's own SUBSCRIBE/LISTEN a moment, then let the job start.
    await until(() => received.SSE.length > 0 && received.WebSocket.length > 0, 30_000, 'subscriptions to start', 10);
    await sleep(500);
    const cpuBefore = { api: await childStats(api), worker: await childStats(worker) };
    worker.send(`go ${gate}`);
    await until(() => finished.SSE && finished.WebSocket, 120_000, `${backend}: all events`, 10);
    const cpuAfter = { api: await childStats(api), worker: await childStats(worker) };

    const job = await graphql<{ job: { status: string; result: { progressCallMs: Row['progressCall'] } | null } }>(
      agent,
      url,
      'query ($id: ID!) { job(id: $id) { status result } }',
      { id },
    );
    const rows: Row[] = [];
    for (const transport of ['SSE', 'WebSocket'] as const) {
      const progress = received[transport].filter((e) => e.kind === 'PROGRESS');
      const latencies = progress.flatMap((e) => {
        const sentAt = sentAtOf(e.message);
        return sentAt === undefined ? [] : [e.at - sentAt];
      });
      const times = progress.map((e) => sentAtOf(e.message) ?? NaN).filter(Number.isFinite);
      rows.push({
        backend,
        bus: backend === 'bullmq' ? 'redis' : 'postgres',
        transport,
        received: progress.length,
        latency: summarize(latencies),
        ...(job.job.result?.progressCallMs ? { progressCall: job.job.result.progressCallMs } : {}),
        emitMs: times.length ? Math.max(...times) - Math.min(...times) : NaN,
        apiCpuMs: cpuAfter.api.cpuMs - cpuBefore.api.cpuMs,
        workerCpuMs: cpuAfter.worker.cpuMs - cpuBefore.worker.cpuMs,
      });
    }
    return rows;
  } finally {
    for (const stop of stops.reverse()) await Promise.resolve(stop()).catch(() => {});
    agent.destroy();
    await Promise.all([api.stop(), worker.stop()]);
    if (backend === 'bullmq') await obliterateQueue(queueName, 'jobgraph').catch((error: unknown) => console.warn(String(error)));
  }
}

async function main(): Promise<void> {
  const machine = await machineInfo();
  printMachine(machine);
  console.log(`progress latency: ${EVENTS} ctx.progress() calls in a worker process → API process → SSE and WebSocket subscribers here\n`);
  const db = await createBenchDatabase();
  const rows: Row[] = [];
  try {
    for (const backend of BACKENDS) {
      process.stdout.write(`  ${backend} … `);
      try {
        const measured = await measure(backend, db);
        rows.push(...measured);
        console.log(measured.map((r) => `${r.transport} p50 ${r.latency.p50.toFixed(2)} ms p99 ${r.latency.p99.toFixed(2)} ms`).join('; '));
      } catch (error) {
        console.log(`FAILED: ${error instanceof Error ? error.message : String(error)}`);
      }
    }
  } finally {
    await db.drop();
  }
  console.log(
    '\n' +
      table(
        ['backend', 'bus', 'transport', 'events', 'p50 ms', 'p90 ms', 'p99 ms', 'max ms', 'ctx.progress() p50/p99 ms', 'emit span ms', 'API CPU ms', 'target p50 ≤ 5, p99 ≤ 25'],
        rows.map((r) => [
          r.backend,
          r.bus,
          r.transport,
          `${r.received}/${EVENTS}`,
          r.latency.p50.toFixed(2),
          r.latency.p90.toFixed(2),
          r.latency.p99.toFixed(2),
          r.latency.max.toFixed(1),
          r.progressCall ? `${r.progressCall.p50.toFixed(2)} / ${r.progressCall.p99.toFixed(2)}` : '',
          Math.round(r.emitMs),
          Math.round(r.apiCpuMs),
          `${verdict(r.latency.p50 <= 5)} / ${verdict(r.latency.p99 <= 25)}`,
        ]),
      ),
  );
  await writeResult('progress-latency', { machine, params: { events: EVENTS, backends: BACKENDS }, rows });
}

runMain(main);
