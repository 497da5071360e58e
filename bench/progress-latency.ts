// Progress latency across processes: a worker process runs a bench.progress job that calls
// ctx.progress() N times, each message carrying its send time; an API process (no worker) serves
// the subscriptions; this process subscribes to jobEvents over SSE (graphql-sse, distinct
// connections) and over WebSocket (graphql-ws) and records when each event arrives. Per backend:
// BullMQ with the Redis bus; pg-boss, RabbitMQ and inline on Postgres with the Postgres
// (LISTEN/NOTIFY) bus. Every event is written (bench.progress everyEvent): ctx.progress() keeps
// only the latest value every 200 ms by design, and this measures the path from the write on.
// BENCH_RUNS rounds (3), the backends in turn; medians and ranges.
import { createClient as createSseClient } from 'graphql-sse';
import { createClient as createWsClient } from 'graphql-ws';
import WebSocket from 'ws';
import {
  childStats,
  createBenchDatabase,
  envInt,
  graphql,
  jobgraphEnv,
  keepAliveAgent,
  machineInfo,
  obliterateQueue,
  printMachine,
  randomName,
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
const BACKENDS = (process.env.BENCH_BACKENDS ?? 'bullmq,pgboss,rabbitmq,inline').split(',');
const RUNS = envInt('BENCH_RUNS', 3);

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

async function measure(backend: string, db: BenchDatabase): Promise<Row[]> {
  const queueName = randomName('bench_prog');
  const env = jobgraphEnv(db, backend, 4, queueName);
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
      { input: { count: EVENTS, gate, everyEvent: true } },
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
    for (let round = 1; round <= RUNS; round++) {
      for (const backend of BACKENDS) {
        process.stdout.write(`  round ${round}, ${backend} … `);
        try {
          const measured = await measure(backend, db);
          rows.push(...measured);
          console.log(measured.map((r) => `${r.transport} p50 ${r.latency.p50.toFixed(2)} ms p99 ${r.latency.p99.toFixed(2)} ms`).join('; '));
        } catch (error) {
          console.log(`FAILED: ${error instanceof Error ? error.message : String(error)}`);
        }
      }
    }
  } finally {
    await db.drop();
  }
  const spread = (values: number[], digits: number) => {
    const s = summarize(values);
    return values.length > 1 ? `${s.p50.toFixed(digits)} (${s.min.toFixed(digits)}–${s.max.toFixed(digits)})` : s.p50.toFixed(digits);
  };
  const groups = new Map<string, Row[]>();
  for (const r of rows) groups.set(`${r.backend}/${r.transport}`, [...(groups.get(`${r.backend}/${r.transport}`) ?? []), r]);
  console.log(`\nmedian of ${RUNS} runs, range in brackets; each run's p50 and p99 over its ${EVENTS} events\n`);
  console.log(
    table(
      ['backend', 'bus', 'transport', 'events (each run)', 'p50 ms', 'p90 ms', 'p99 ms', 'max ms', 'ctx.progress() p50/p99 ms', 'API CPU ms', 'target p50 ≤ 5, p99 ≤ 25'],
      [...groups.values()].map((list) => {
        const [first] = list as [Row];
        const median = (pick: (r: Row) => number) => summarize(list.map(pick)).p50;
        return [
          first.backend,
          first.bus,
          first.transport,
          list.map((r) => r.received).join(', '),
          spread(list.map((r) => r.latency.p50), 2),
          spread(list.map((r) => r.latency.p90), 2),
          spread(list.map((r) => r.latency.p99), 2),
          spread(list.map((r) => r.latency.max), 1),
          first.progressCall ? `${median((r) => r.progressCall?.p50 ?? NaN).toFixed(2)} / ${median((r) => r.progressCall?.p99 ?? NaN).toFixed(2)}` : '',
          Math.round(median((r) => r.apiCpuMs)),
          `${verdict(median((r) => r.latency.p50) <= 5)} / ${verdict(median((r) => r.latency.p99) <= 25)}`,
        ];
      }),
    ),
  );
  await writeResult('progress-latency', { machine, params: { events: EVENTS, backends: BACKENDS, runs: RUNS }, rows });
}

runMain(main);
