// Fan-out: S concurrent SSE subscribers (jobProgress of one job) on ONE API process, a child of
// this one so its memory and CPU can be read, while a worker process runs a job that emits E
// progress events. Reports how late each event reaches each subscriber (send time in the message
// → arrival here), and the API process's RSS and CPU time. Every event is written and published
// (everyEvent: past ctx.progress's coalescing to one write per 200 ms), so the rate is what the
// API must deliver.
import { request, type ClientRequest } from 'node:http';
import {
  childStats,
  createBenchDatabase,
  envInt,
  graphql,
  jobgraphEnv,
  keepAliveAgent,
  machineInfo,
  obliterateQueue,
  ownStats,
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
  type Child,
  type ProcessStats,
  type Summary,
} from './lib.ts';
import { sentAtOf } from './tasks.ts';

const SUBSCRIBERS = envInt('BENCH_FANOUT_SUBSCRIBERS', 1_000);
const EVENTS = envInt('BENCH_FANOUT_EVENTS', 100);
/** Pause between events in the job, ms: one round per value (20 → 50 events/s, 100 → 10 events/s). */
const PAUSES = (process.env.BENCH_FANOUT_PAUSES_MS ?? '20,100').split(',').map(Number);
/** Subscriptions opened at once while connecting. */
const CONNECT_BATCH = envInt('BENCH_FANOUT_CONNECT_BATCH', 100);
/** The rounds (one per pause) are run this many times, in turn. */
const RUNS = envInt('BENCH_RUNS', 3);

interface Subscriber {
  req: ClientRequest;
  /** Arrival minus send time of each progress event, by event index. */
  latencies: Map<number, number>;
  firstAt?: number;
  done: boolean;
  error?: string;
}

const QUERY = 'subscription ($id: ID!) { jobProgress(id: $id) { status progress message } }';

function subscribe(url: string, id: string): Subscriber {
  const body = JSON.stringify({ query: QUERY, variables: { id } });
  const sub: Subscriber = { req: undefined as unknown as ClientRequest, latencies: new Map(), done: false };
  sub.req = request(
    new URL('/graphql', url),
    {
      method: 'POST',
      agent: false,
      headers: { 'content-type': 'application/json', accept: 'text/event-stream', 'content-length': Buffer.byteLength(body) },
    },
    (res) => {
      if (res.statusCode !== 200) {
        sub.error = `HTTP ${res.statusCode}`;
        sub.done = true;
      }
      let buffer = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => {
        const at = wallNow();
        buffer += chunk;
        let end: number;
        while ((end = buffer.indexOf('\n\n')) >= 0) {
          const block = buffer.slice(0, end);
          buffer = buffer.slice(end + 2);
          let event = 'message';
          let data = '';
          for (const line of block.split('\n')) {
            if (line.startsWith('event:')) event = line.slice(6).trim();
            else if (line.startsWith('data:')) data += line.slice(5).trim();
          }
          if (event === 'complete') {
            sub.done = true;
            continue;
          }
          if (!data) continue;
          const parsed = JSON.parse(data) as { data?: { jobProgress?: { status: string; message: string | null } }; errors?: unknown[] };
          const job = parsed.data?.jobProgress;
          if (!job) {
            sub.error = JSON.stringify(parsed.errors ?? parsed).slice(0, 200);
            continue;
          }
          sub.firstAt ??= at;
          const index = /i=(\d+)$/.exec(job.message ?? '')?.[1];
          const sentAt = sentAtOf(job.message);
          if (job.status === 'RUNNING' && index && sentAt !== undefined && !sub.latencies.has(Number(index))) {
            sub.latencies.set(Number(index), at - sentAt);
          }
          if (job.status === 'COMPLETED' || job.status === 'FAILED') sub.done = true;
        }
      });
      res.on('end', () => (sub.done = true));
      res.on('error', (error) => {
        sub.error = error.message;
        sub.done = true;
      });
    },
  );
  sub.req.on('error', (error) => {
    sub.error = error.message;
    sub.done = true;
  });
  sub.req.end(body);
  return sub;
}

interface Round {
  pauseMs: number;
  connected: number;
  connectMs: number;
  delivered: number;
  expected: number;
  latency: Summary;
  lastSubscriberPerEvent: Summary;
  deliveredMs: number;
  api: {
    idle: ProcessStats;
    subscribed: ProcessStats;
    after: ProcessStats;
    rssPerSubscriberKiB: number;
    cpuMsSubscribing: number;
    cpuMsDelivering: number;
    cpuUsPerDelivery: number;
  };
  clientCpuMsDelivering: number;
}

/** One job emitting EVENTS progress events `pauseMs` apart, SUBSCRIBERS fresh subscriptions to it. */
async function round(url: string, api: Child, worker: Child, agent: ReturnType<typeof keepAliveAgent>, pauseMs: number): Promise<Round> {
  const subs: Subscriber[] = [];
  try {
    const gate = randomName('go');
    const enqueued = await graphql<{ progress: { job: { id: string } } }>(
      agent,
      url,
      'mutation ($input: ProgressInput!) { progress(input: $input) { job { id } } }',
      { input: { count: EVENTS, pauseMs, gate, gateTimeoutMs: 300_000, everyEvent: true } },
    );
    const id = enqueued.progress.job.id;
    // The job is claimed (RUNNING, waiting at its gate) before anyone subscribes.
    await sleep(1_500);
    const idle = await childStats(api);

    const connectStarted = performance.now();
    for (let i = 0; i < SUBSCRIBERS; i += CONNECT_BATCH) {
      const batch = Array.from({ length: Math.min(CONNECT_BATCH, SUBSCRIBERS - i) }, () => subscribe(url, id));
      subs.push(...batch);
      await until(() => batch.every((s) => s.firstAt !== undefined || s.done), 60_000, 'a batch of subscribers to get their first event', 5);
    }
    const connectMs = performance.now() - connectStarted;
    const failed = subs.filter((s) => s.error);
    if (failed.length) console.warn(`${failed.length} subscriber(s) failed, e.g. ${failed[0]!.error}`);
    await sleep(1_000);
    const subscribed = await childStats(api);
    const clientBefore = ownStats();

    worker.send(`go ${gate}`);
    const emitStarted = performance.now();
    await until(() => subs.every((s) => s.done), 120_000 + EVENTS * pauseMs, 'every subscriber to see the job complete', 20).catch((error: unknown) =>
      console.warn(String(error)),
    );
    const deliveredMs = performance.now() - emitStarted;
    const after = await childStats(api);
    const clientAfter = ownStats();

    const all = subs.flatMap((s) => [...s.latencies.values()]);
    // Per event: when did its last subscriber get it?
    const lastPerEvent = Array.from({ length: EVENTS }, (_, k) => Math.max(...subs.map((s) => s.latencies.get(k + 1) ?? -Infinity))).filter(Number.isFinite);
    const stats = (s: ProcessStats): ProcessStats => ({ rssMiB: Math.round(s.rssMiB * 10) / 10, heapUsedMiB: Math.round(s.heapUsedMiB * 10) / 10, cpuMs: Math.round(s.cpuMs) });
    return {
      pauseMs,
      connected: subs.filter((s) => s.firstAt !== undefined).length,
      connectMs: Math.round(connectMs),
      delivered: all.length,
      expected: SUBSCRIBERS * EVENTS,
      latency: summarize(all),
      lastSubscriberPerEvent: summarize(lastPerEvent),
      deliveredMs: Math.round(deliveredMs),
      api: {
        idle: stats(idle),
        subscribed: stats(subscribed),
        after: stats(after),
        rssPerSubscriberKiB: Math.round(((subscribed.rssMiB - idle.rssMiB) * 1024) / SUBSCRIBERS),
        cpuMsSubscribing: Math.round(subscribed.cpuMs - idle.cpuMs),
        cpuMsDelivering: Math.round(after.cpuMs - subscribed.cpuMs),
        cpuUsPerDelivery: Math.round(((after.cpuMs - subscribed.cpuMs) * 1000) / Math.max(1, all.length)),
      },
      clientCpuMsDelivering: Math.round(clientAfter.cpuMs - clientBefore.cpuMs),
    };
  } finally {
    for (const sub of subs) sub.req.destroy();
  }
}

async function main(): Promise<void> {
  const machine = await machineInfo();
  printMachine(machine);
  console.log(`fan-out: ${SUBSCRIBERS} SSE subscribers (jobProgress) on one API process; one job emitting ${EVENTS} progress events, ${PAUSES.join(' / ')} ms apart\n`);
  const db = await createBenchDatabase();
  const queueName = randomName('bench_fan');
  const env = jobgraphEnv(db, 'bullmq', 4, queueName);
  const worker = spawnTs('./worker.ts', env);
  // BENCH_PROFILE_DIR: the API process writes a V8 CPU profile there (see bench/profile-summary.ts).
  const profile = process.env.BENCH_PROFILE_DIR ? ['--cpu-prof', `--cpu-prof-dir=${process.env.BENCH_PROFILE_DIR}`] : [];
  const api = spawnTs('./api.ts', { ...env, WORKER_IN_PROCESS: 'false', PORT: '0' }, profile);
  const agent = keepAliveAgent(2);
  const rounds: Round[] = [];
  try {
    await worker.waitFor(/^ready /, 60_000, 'worker start');
    const port = Number((await api.waitFor(/^listening (\d+)$/, 60_000, 'API start'))[1]);
    const url = `http://127.0.0.1:${port}`;
    for (let run = 1; run <= RUNS; run++) {
      for (const pauseMs of PAUSES) {
        const r = await round(url, api, worker, agent, pauseMs);
        rounds.push(r);
        console.log(`  run ${run}, ${Math.round(1000 / Math.max(1, pauseMs))} events/s: p99 ${r.latency.p99.toFixed(1)} ms`);
        await sleep(1_000);
      }
    }
  } finally {
    agent.destroy();
    await Promise.all([api.stop(), worker.stop()]);
    await obliterateQueue(queueName, 'jobgraph').catch((error: unknown) => console.warn(String(error)));
    await db.drop();
  }
  const spread = (values: number[], digits = 1) => {
    const s = summarize(values);
    return values.length > 1 ? `${s.p50.toFixed(digits)} (${s.min.toFixed(digits)}–${s.max.toFixed(digits)})` : s.p50.toFixed(digits);
  };
  console.log(`\nmedian of ${RUNS} runs, range in brackets\n`);
  console.log(
    '\n' +
      table(
        ['events/s', 'delivered (each run)', 'p50 ms', 'p90 ms', 'p99 ms', 'max ms', 'last subscriber p99 ms', 'API CPU per delivery µs', 'target p99 ≤ 100'],
        PAUSES.map((pauseMs) => {
          const rs = rounds.filter((r) => r.pauseMs === pauseMs);
          return [
            `${Math.round(1000 / Math.max(1, pauseMs))} (${pauseMs} ms apart)`,
            rs.map((r) => `${r.delivered}/${r.expected}`).join(', '),
            spread(rs.map((r) => r.latency.p50)),
            spread(rs.map((r) => r.latency.p90)),
            spread(rs.map((r) => r.latency.p99)),
            spread(rs.map((r) => r.latency.max)),
            spread(rs.map((r) => r.lastSubscriberPerEvent.p99)),
            spread(rs.map((r) => r.api.cpuUsPerDelivery), 0),
            verdict(summarize(rs.map((r) => r.latency.p99)).p50 <= 100),
          ];
        }),
      ),
  );
  console.log(
    '\n' +
      table(
        ['events/s', 'API RSS MiB: before / subscribed / after', 'RSS per subscriber', 'API CPU to subscribe', 'API CPU delivering', 'per delivered event', "subscribers' process CPU"],
        rounds.map((r) => [
          Math.round(1000 / Math.max(1, r.pauseMs)),
          `${r.api.idle.rssMiB.toFixed(1)} / ${r.api.subscribed.rssMiB.toFixed(1)} / ${r.api.after.rssMiB.toFixed(1)}`,
          `${r.api.rssPerSubscriberKiB} KiB`,
          `${r.api.cpuMsSubscribing} ms`,
          `${r.api.cpuMsDelivering} ms over ${r.deliveredMs} ms`,
          `${r.api.cpuUsPerDelivery} µs`,
          `${r.clientCpuMsDelivering} ms`,
        ]),
      ),
  );
  await writeResult('fanout', { machine, params: { subscribers: SUBSCRIBERS, events: EVENTS, pausesMs: PAUSES, runs: RUNS }, rounds });
}

runMain(main);
