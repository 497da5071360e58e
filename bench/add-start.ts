// Add → start over HTTP on an idle system (issue 18's latency target, p50 ≤ 5 ms; graphile-worker
// reports 4.2 ms on average): the process layout users run (API process with
// WORKER_IN_PROCESS=false, one worker process), one enqueueJob at a time with a pause between, so
// nothing queues. Per job: from the client sending the request to the ledger's startedAt (the
// claim), split at the ledger's createdAt (the insert). One machine, one clock.
// Usage: npx tsx bench/add-start.ts   (BENCH_ADD_START_JOBS, BENCH_ADD_START_PAUSE_MS, BENCH_BACKENDS)
import pg from 'pg';
import {
  createBenchDatabase,
  envInt,
  fmt,
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
  wallNow,
  withAdmin,
  writeResult,
} from './lib.ts';

const JOBS = envInt('BENCH_ADD_START_JOBS', 300);
const PAUSE_MS = envInt('BENCH_ADD_START_PAUSE_MS', 20);
const BACKENDS = (process.env.BENCH_BACKENDS ?? 'bullmq,pgboss').split(',');
const ENQUEUE_JOB = 'mutation ($type: String!, $input: JSON!) { enqueueJob(type: $type, input: $input) { job { id } } }';

interface Sample {
  total: number;
  accept: number;
  toStart: number;
}

async function measure(backend: string): Promise<Sample[]> {
  const db = await createBenchDatabase();
  // BENCH_ASYNC_COMMIT=1: what waiting for the WAL flush at each commit costs on this path (an experiment, not a setting jobgraph uses).
  if (process.env.BENCH_ASYNC_COMMIT === '1') await withAdmin((admin) => admin.query(`ALTER DATABASE ${pg.escapeIdentifier(db.name)} SET synchronous_commit = off`));
  const queueName = randomName('bench_addstart');
  const env = jobgraphEnv(db, backend, 10, queueName);
  const worker = spawnTs('./worker.ts', env);
  const api = spawnTs('./api.ts', { ...env, WORKER_IN_PROCESS: 'false', PORT: '0' });
  const client = new pg.Client({ connectionString: db.url });
  try {
    const port = Number((await api.waitFor(/^listening (\d+)$/, 60_000, 'API start'))[1]);
    await worker.waitFor(/^ready /, 60_000, 'worker start');
    await client.connect();
    const url = `http://127.0.0.1:${port}`;
    const agent = keepAliveAgent(1);
    const sent = new Map<string, number>();
    for (let i = 0; i < JOBS + 20; i++) {
      const t0 = wallNow();
      const res = await graphql<{ enqueueJob: { job: { id: string } } }>(agent, url, ENQUEUE_JOB, { type: 'bench.noop', input: {} });
      if (i >= 20) sent.set(res.enqueueJob.job.id, t0); // the first 20 warm up
      await sleep(PAUSE_MS);
    }
    agent.destroy();
    const ids = [...sent.keys()];
    await until(
      async () => (await client.query(`SELECT count(*)::int AS n FROM "Job" WHERE id = ANY($1::uuid[]) AND "startedAt" IS NOT NULL`, [ids])).rows[0].n === ids.length,
      60_000,
      'every job started',
      100,
    );
    const { rows } = await client.query<{ id: string; created: number; started: number }>(
      `SELECT id, extract(epoch FROM "createdAt") * 1000 AS created, extract(epoch FROM "startedAt") * 1000 AS started FROM "Job" WHERE id = ANY($1::uuid[])`,
      [ids],
    );
    return rows.map((row) => {
      const t0 = sent.get(row.id)!;
      return { total: Number(row.started) - t0, accept: Number(row.created) - t0, toStart: Number(row.started) - Number(row.created) };
    });
  } finally {
    await client.end().catch(() => {});
    await Promise.all([api.stop(), worker.stop()]);
    if (backend === 'bullmq') await obliterateQueue(queueName, 'jobgraph').catch(() => {});
    await db.drop();
  }
}

async function main(): Promise<void> {
  const machine = await machineInfo();
  printMachine(machine);
  const results: Record<string, Sample[]> = {};
  for (const backend of BACKENDS) results[backend] = await measure(backend);
  const cells = (values: number[]) => {
    const s = summarize(values);
    return `${fmt(s.p50, 1)} / ${fmt(s.p90, 1)} / ${fmt(s.p99, 1)}`;
  };
  console.log(`\n### Add → start over HTTP, idle (one request at a time, ${PAUSE_MS} ms apart, ${JOBS} jobs): ms p50 / p90 / p99 (timestamps at ms precision)\n`);
  console.log(
    table(
      ['backend', 'send → started (claimed)', 'send → in the ledger', 'in the ledger → started', 'p50 ≤ 5 ms'],
      Object.entries(results).map(([backend, samples]) => [
        backend,
        cells(samples.map((s) => s.total)),
        cells(samples.map((s) => s.accept)),
        cells(samples.map((s) => s.toStart)),
        summarize(samples.map((s) => s.total)).p50 <= 5 ? 'met' : 'MISSED',
      ]),
    ),
  );
  const file = await writeResult('add-start', { machine, jobs: JOBS, pauseMs: PAUSE_MS, results });
  console.log(`\nresults: ${file}`);
}

runMain(main);
