// The process layout users run: one API process (WORKER_IN_PROCESS=false), one worker process,
// and HTTP clients in this process. Each row is measured side by side with its baseline in the same
// run, alternating, RUNS times, and reported as a ratio (median and range):
//   1. HTTP enqueueJobs of BATCH from CLIENTS clients → COMPLETED in the worker process, on BullMQ,
//      against raw BullMQ addBulk of BATCH from CLIENTS producers, a bare Worker process at the
//      same concurrency;
//   2. the same on pg-boss, against raw pg-boss insert of BATCH;
//   3. HTTP enqueueJob, one job a request, CLIENTS clients → COMPLETED (BullMQ), against a bare
//      graphql-yoga process answering the same mutation with a constant (the HTTP ceiling here).
// Each run reports the CPU per job of every process (API, worker, client, postgres, redis-server)
// and the SQL statements and Redis commands each process sent per job.
import { Queue } from 'bullmq';
import { Redis } from 'ioredis';
import { pathToFileURL } from 'node:url';
import pg from 'pg';
import { PgBoss } from 'pg-boss';
import { counters, installCounters } from './counters.ts';
import {
  childReached,
  childStats,
  cpuSinceUs,
  createBenchDatabase,
  envInt,
  fmt,
  graphql,
  jobgraphEnv,
  keepAliveAgent,
  machineInfo,
  machineTicks,
  obliterateQueue,
  preloadHistory,
  withAdmin,
  printMachine,
  processTicks,
  randomName,
  REDIS_URL,
  runMain,
  spawnTs,
  summarize,
  table,
  verdict,
  writeResult,
  type BenchDatabase,
  type Child,
  type ProcessStats,
} from './lib.ts';

const JOBS = envInt('BENCH_LAYOUT_JOBS', 10_000);
const SINGLE_JOBS = envInt('BENCH_LAYOUT_SINGLE_JOBS', 4_000);
const CLIENTS = envInt('BENCH_LAYOUT_CLIENTS', 20);
const BATCH = envInt('BENCH_LAYOUT_BATCH', 100);
const RUNS = envInt('BENCH_LAYOUT_RUNS', 3);
const WARMUP = envInt('BENCH_WARMUP', 500);
const CONCURRENCY = envInt('BENCH_CONCURRENCY', 20);
const RUN_TIMEOUT_MS = envInt('BENCH_LAYOUT_TIMEOUT_MS', 180_000);
const TARGET = 0.5;
/** BENCH_LAYOUT_HISTORY=<n>: a row on a ledger already holding n finished jobs, against an empty one. */
const HISTORY = envInt('BENCH_LAYOUT_HISTORY', 0);
const HISTORY_TARGET = 0.8;
const BULL_PREFIX = 'bench';

const ENQUEUE_JOBS = 'mutation ($jobs: [EnqueueJobInput!]!) { enqueueJobs(jobs: $jobs) { job { id } } }';
const ENQUEUE_JOB = 'mutation ($type: String!, $input: JSON!) { enqueueJob(type: $type, input: $input) { job { id status } } }';

/** A process of a subject whose CPU and traffic are reported under `role`. */
interface Member {
  role: 'API' | 'worker' | 'server';
  child: Child;
}

/** One side of a row: what sends the jobs, and the processes that carry them. */
interface Subject {
  name: string;
  members: Member[];
  /** Sends n jobs (or requests); resolves once every one was accepted. */
  produce(n: number): Promise<void>;
  /** The worker process whose completions end a run; none when answering is the end (bare yoga). */
  worker?: Child;
  stop(): Promise<void>;
}

interface Run {
  subject: string;
  jobs: number;
  /** Until the last job was accepted. */
  acceptMs: number;
  /** Until the last job was COMPLETED (accepted, for a subject without a worker). */
  totalMs: number;
  jobsPerS: number;
  /** CPU µs per job, by process. */
  cpuUsPerJob: Record<string, number>;
  /** Statements and commands per job, by the process that sent them. */
  sqlPerJob: Record<string, number>;
  ledgerPerJob: Record<string, number>;
  redisPerJob: Record<string, number>;
  /** Statements by kind and Redis commands per job, by process, for where the time goes. */
  byKindPerJob: Record<string, Record<string, number>>;
  machineBusyPct: number;
}

// ── subjects ─────────────────────────────────────────────────────────────────

/** `n` split into CLIENTS lanes taking `size` at a time, each lane awaiting its call before the next. */
async function lanes(n: number, size: number, send: (count: number) => Promise<unknown>): Promise<void> {
  let left = n;
  await Promise.all(
    Array.from({ length: CLIENTS }, async () => {
      while (left > 0) {
        const count = Math.min(size, left);
        left -= count;
        await send(count);
      }
    }),
  );
}

const noopJobs = (count: number) => Array.from({ length: count }, () => ({ type: 'bench.noop', input: {} }));

/**
 * jobgraph's API and worker processes; from another checkout of jobgraph when `tree` is given
 * (BENCH_LAYOUT_AB: a change measured against the code before it, in the same run).
 */
async function jobgraph(backend: 'bullmq' | 'pgboss', mode: 'bulk' | 'single', db: BenchDatabase, tree?: string): Promise<Subject> {
  const queueName = randomName('bench_layout');
  const env = jobgraphEnv(db, backend, CONCURRENCY, queueName, { BENCH_COUNT: '1' });
  // BENCH_PROFILE_DIR: both processes write a CPU profile there when they exit.
  const profile = process.env.BENCH_PROFILE_DIR ? ['--cpu-prof', `--cpu-prof-dir=${process.env.BENCH_PROFILE_DIR}`] : [];
  const script = (name: string) => (tree ? pathToFileURL(`${tree}/bench/${name}`).href : `./${name}`);
  const worker = spawnTs(script('worker.ts'), env, profile);
  const api = spawnTs(script('api.ts'), { ...env, WORKER_IN_PROCESS: 'false', PORT: '0' }, profile);
  const port = Number((await api.waitFor(/^listening (\d+)$/, 60_000, 'API start'))[1]);
  await worker.waitFor(/^ready /, 60_000, 'worker start');
  const url = `http://127.0.0.1:${port}`;
  const agent = keepAliveAgent(CLIENTS);
  return {
    name: `jobgraph${tree ? ` (${tree})` : ''} on ${backend}, HTTP ${mode === 'bulk' ? `enqueueJobs ×${BATCH}` : 'enqueueJob'}`,
    members: [
      { role: 'API', child: api },
      { role: 'worker', child: worker },
    ],
    worker,
    produce: (n) =>
      mode === 'bulk'
        ? lanes(n, BATCH, (count) => graphql(agent, url, ENQUEUE_JOBS, { jobs: noopJobs(count) }))
        : lanes(n, 1, () => graphql(agent, url, ENQUEUE_JOB, { type: 'bench.noop', input: {} })),
    async stop() {
      agent.destroy();
      await Promise.all([api.stop(), worker.stop()]);
      if (backend === 'bullmq') await obliterateQueue(queueName, 'jobgraph').catch((error: unknown) => console.warn(String(error)));
    },
  };
}

async function rawBullmq(): Promise<Subject> {
  const name = randomName('bench_layout_raw');
  const worker = spawnTs('./raw-worker.ts', { BENCH_CONCURRENCY: String(CONCURRENCY), BENCH_COUNT: '1' }, [], ['bullmq', name, BULL_PREFIX]);
  await worker.waitFor(/^ready$/, 60_000, 'raw BullMQ worker start');
  const connection = new Redis(REDIS_URL, { maxRetriesPerRequest: null });
  const queue = new Queue(name, { connection, prefix: BULL_PREFIX });
  return {
    name: `raw BullMQ addBulk ×${BATCH}`,
    members: [{ role: 'worker', child: worker }],
    worker,
    produce: (n) =>
      lanes(n, BATCH, (count) =>
        queue.addBulk(
          Array.from({ length: count }, (_, i) => ({
            name: 'bench.noop',
            data: { i },
            opts: { removeOnComplete: true, removeOnFail: true, attempts: 1 },
          })),
        ),
      ),
    async stop() {
      await worker.stop();
      await queue.obliterate({ force: true }).catch(() => {});
      await queue.close();
      connection.disconnect();
    },
  };
}

async function rawPgboss(db: BenchDatabase): Promise<Subject> {
  const schema = randomName('bench_rawboss');
  const name = 'bench';
  const worker = spawnTs('./raw-worker.ts', { DATABASE_URL: db.url, BENCH_CONCURRENCY: String(CONCURRENCY), BENCH_COUNT: '1' }, [], ['pgboss', name, schema]);
  await worker.waitFor(/^ready$/, 60_000, 'raw pg-boss worker start');
  const boss = new PgBoss({ connectionString: db.url, schema, schedule: false, supervise: false, migrate: false });
  boss.on('error', (error) => console.warn('raw pg-boss producer:', error instanceof Error ? error.message : error));
  await boss.start();
  return {
    name: `raw pg-boss insert ×${BATCH}`,
    members: [{ role: 'worker', child: worker }],
    worker,
    produce: (n) => lanes(n, BATCH, (count) => boss.insert(name, Array.from({ length: count }, (_, i) => ({ data: { i } })))),
    async stop() {
      await worker.stop();
      await boss.stop({ graceful: false, close: true, timeout: 2_000 });
      const admin = new pg.Client({ connectionString: db.url });
      await admin.connect();
      await admin.query(`DROP SCHEMA IF EXISTS ${pg.escapeIdentifier(schema)} CASCADE`).finally(() => admin.end());
    },
  };
}

async function bareYoga(): Promise<Subject> {
  const server = spawnTs('./bare-yoga.ts', { PORT: '0' });
  const port = Number((await server.waitFor(/^listening (\d+)$/, 60_000, 'bare yoga start'))[1]);
  const url = `http://127.0.0.1:${port}`;
  const agent = keepAliveAgent(CLIENTS);
  return {
    name: 'bare graphql-yoga, constant answer',
    members: [{ role: 'server', child: server }],
    produce: (n) => lanes(n, 1, () => graphql(agent, url, ENQUEUE_JOB, { type: 'bench.noop', input: {} })),
    async stop() {
      agent.destroy();
      await server.stop();
    },
  };
}

// ── measurement ──────────────────────────────────────────────────────────────

const round = (v: number, d = 1) => Math.round(v * 10 ** d) / 10 ** d;

async function measure(subject: Subject, n: number): Promise<Run> {
  const statsOf = () => Promise.all(subject.members.map((m) => childStats(m.child)));
  const before = await statsOf();
  const base = subject.worker ? ((await childStats(subject.worker)).completed ?? 0) : 0;
  const servers = { postgres: processTicks('postgres'), redis: processTicks('redis-server') };
  const machine = machineTicks();
  const own = process.cpuUsage();
  counters.on = true;
  const clientBefore = { pg: counters.pg.total, redis: counters.redis.total };
  const t0 = performance.now();
  await subject.produce(n);
  const t1 = performance.now();
  if (subject.worker) await childReached(subject.worker, base + n, RUN_TIMEOUT_MS);
  const t2 = performance.now();
  counters.on = false;
  const ownCpu = process.cpuUsage(own);
  const machineAfter = machineTicks();
  const after = await statsOf();
  const perJob = (v: number) => round(v / n, 2);
  const byRole = (pick: (s: ProcessStats) => number | undefined) =>
    Object.fromEntries(subject.members.map((m, i) => [m.role, perJob((pick(after[i]!) ?? 0) - (pick(before[i]!) ?? 0))]));
  const cpuUsPerJob: Record<string, number> = {
    ...Object.fromEntries(subject.members.map((m, i) => [m.role, round(((after[i]!.cpuMs - before[i]!.cpuMs) * 1000) / n)])),
    client: round((ownCpu.user + ownCpu.system) / n),
    postgres: round(cpuSinceUs('postgres', servers.postgres) / n),
    'redis-server': round(cpuSinceUs('redis-server', servers.redis) / n),
  };
  return {
    subject: subject.name,
    jobs: n,
    acceptMs: round(t1 - t0),
    totalMs: round(t2 - t0),
    jobsPerS: Math.round(n / ((t2 - t0) / 1000)),
    cpuUsPerJob,
    sqlPerJob: { ...byRole((s) => s.pgStatements), client: perJob(counters.pg.total - clientBefore.pg) },
    ledgerPerJob: byRole((s) => s.ledgerStatements),
    redisPerJob: { ...byRole((s) => s.redisCommands), client: perJob(counters.redis.total - clientBefore.redis) },
    byKindPerJob: Object.fromEntries(
      subject.members.map((m, i) => {
        const was = before[i]!.byKind ?? {};
        const kinds = Object.entries(after[i]!.byKind ?? {}).map(([k, v]) => [k, perJob(v - (was[k] ?? 0))] as const);
        return [m.role, Object.fromEntries(kinds.filter(([, v]) => v >= 0.01).sort((x, y) => y[1] - x[1]))];
      }),
    ),
    machineBusyPct: Math.round(((machineAfter.busy - machine.busy) / Math.max(1, machineAfter.total - machine.total)) * 100),
  };
}

interface Row {
  row: string;
  /** The ratio the row must reach (TARGET unless it says). */
  target?: number;
  baseline: string;
  subject: string;
  jobs: number;
  baselineRuns: Run[];
  subjectRuns: Run[];
  ratios: number[];
}

/** Starts both sides, warms both up, then alternates baseline and subject RUNS times. */
async function row(label: string, n: number, startBaseline: () => Promise<Subject>, startSubject: () => Promise<Subject>): Promise<Row> {
  console.log(`\n── ${label}: ${n} jobs a run, ${RUNS} runs, alternating ──`);
  const baseline = await startBaseline();
  try {
    const subject = await startSubject();
    try {
      for (const side of [baseline, subject]) if (WARMUP > 0) await measure(side, Math.min(WARMUP, n));
      const result: Row = { row: label, baseline: baseline.name, subject: subject.name, jobs: n, baselineRuns: [], subjectRuns: [], ratios: [] };
      for (let run = 1; run <= RUNS; run++) {
        const b = await measure(baseline, n);
        const s = await measure(subject, n);
        result.baselineRuns.push(b);
        result.subjectRuns.push(s);
        result.ratios.push(s.jobsPerS / b.jobsPerS);
        console.log(`run ${run}: ${baseline.name} ${b.jobsPerS}/s; ${subject.name} ${s.jobsPerS}/s; ratio ${(s.jobsPerS / b.jobsPerS).toFixed(2)}`);
        if (process.env.BENCH_LAYOUT_KINDS) console.log(JSON.stringify(s.byKindPerJob));
      }
      return result;
    } finally {
      await subject.stop().catch((error: unknown) => console.warn(`${subject.name}: stop failed:`, error));
    }
  } finally {
    await baseline.stop().catch((error: unknown) => console.warn(`${baseline.name}: stop failed:`, error));
  }
}

const medianRange = (values: number[], digits = 0) => {
  const s = summarize(values);
  return `${fmt(s.p50, digits)} (${fmt(s.min, digits)}–${fmt(s.max, digits)})`;
};

/** Median over runs of a per-process figure. */
function medianOf(runs: Run[], pick: (r: Run) => Record<string, number>): Record<string, number> {
  const keys = [...new Set(runs.flatMap((r) => Object.keys(pick(r))))];
  return Object.fromEntries(keys.map((k) => [k, summarize(runs.map((r) => pick(r)[k] ?? 0)).p50]));
}
const describe = (figures: Record<string, number>, digits: number) =>
  Object.entries(figures)
    .filter(([, v]) => v > 0)
    .map(([k, v]) => `${k} ${fmt(v, digits)}`)
    .join(', ') || '0';

async function main(): Promise<void> {
  const machine = await machineInfo();
  printMachine(machine);
  console.log(
    `layout: API process (WORKER_IN_PROCESS=false) + 1 worker process (concurrency ${CONCURRENCY}) + ${CLIENTS} HTTP clients here; ` +
      `${JOBS} jobs a bulk run, ${SINGLE_JOBS} a single-request run, ${RUNS} runs a row, warm-up ${WARMUP}`,
  );
  installCounters();
  const dbs: BenchDatabase[] = [];
  const db = async () => {
    const created = await createBenchDatabase();
    dbs.push(created);
    return created;
  };
  const rows: Row[] = [];
  try {
    const only = process.env.BENCH_LAYOUT_ONLY?.split(',');
    const wanted = (key: string) => !only || only.includes(key);
    // BENCH_LAYOUT_AB=<checkout>: each row's baseline is jobgraph from that checkout instead.
    const before = process.env.BENCH_LAYOUT_AB;
    const jobgraphBefore = (backend: 'bullmq' | 'pgboss', mode: 'bulk' | 'single') => async () => jobgraph(backend, mode, await db(), before);
    if (wanted('bullmq')) {
      rows.push(await row('bulk enqueue → COMPLETED, BullMQ', JOBS, before ? jobgraphBefore('bullmq', 'bulk') : rawBullmq, async () => jobgraph('bullmq', 'bulk', await db())));
    }
    if (wanted('pgboss')) {
      const shared = await db();
      rows.push(
        await row('bulk enqueue → COMPLETED, pg-boss', JOBS, before ? jobgraphBefore('pgboss', 'bulk') : () => rawPgboss(shared), async () => jobgraph('pgboss', 'bulk', await db())),
      );
    }
    if (wanted('single')) {
      rows.push(await row('one job a request → COMPLETED, BullMQ', SINGLE_JOBS, before ? jobgraphBefore('bullmq', 'single') : bareYoga, async () => jobgraph('bullmq', 'single', await db())));
    }
    if (HISTORY > 0 && wanted('history')) {
      const label = `bulk enqueue → COMPLETED, BullMQ, ${HISTORY.toLocaleString('en')} finished jobs in the ledger vs none`;
      const full = await db();
      console.log(`\nloading ${HISTORY.toLocaleString('en')} finished jobs (3 events each) into ${full.name} …`);
      const loadMs = await preloadHistory(full.url, HISTORY);
      // BENCH_LAYOUT_SLOW_MS: statements on the full ledger slower than this go to PostgreSQL's log.
      if (process.env.BENCH_LAYOUT_SLOW_MS) {
        await withAdmin((admin) => admin.query(`ALTER DATABASE ${pg.escapeIdentifier(full.name)} SET log_min_duration_statement = ${Number(process.env.BENCH_LAYOUT_SLOW_MS)}`));
      }
      console.log(`loaded in ${Math.round(loadMs / 1000)} s`);
      const withHistory = async () => {
        const subject = await jobgraph('bullmq', 'bulk', full);
        subject.name = `${subject.name}, ${HISTORY.toLocaleString('en')} finished jobs in the ledger`;
        return subject;
      };
      rows.push({ ...(await row(label, JOBS, async () => jobgraph('bullmq', 'bulk', await db()), withHistory)), target: HISTORY_TARGET });
    }
  } finally {
    await Promise.all(dbs.map((d) => d.drop().catch(() => {})));
  }

  console.log('\n### Ratios (subject ÷ baseline, jobs/s to COMPLETED; median of runs, range in brackets)\n');
  console.log(
    table(
      ['row', 'baseline jobs/s', 'jobgraph jobs/s', 'ratio', 'target', 'verdict'],
      rows.map((r) => [
        r.row,
        medianRange(r.baselineRuns.map((x) => x.jobsPerS)),
        medianRange(r.subjectRuns.map((x) => x.jobsPerS)),
        medianRange(r.ratios, 2),
        `≥ ${r.target ?? TARGET}`,
        verdict(summarize(r.ratios).p50 >= (r.target ?? TARGET)),
      ]),
    ),
  );
  console.log('\n### Where it goes (medians of the runs): CPU µs per job by process; statements and commands per job by the process that sent them\n');
  console.log(
    table(
      ['side', 'accepted after ms', 'CPU µs/job', 'SQL stmts/job', 'of which ledger', 'Redis cmds/job', 'machine busy'],
      rows.flatMap((r) =>
        (
          [
            [r.baseline, r.baselineRuns],
            [r.subject, r.subjectRuns],
          ] as const
        ).map(([name, runs]) => [
          name,
          medianRange(runs.map((x) => x.acceptMs)),
          describe(medianOf(runs, (x) => x.cpuUsPerJob), 0),
          describe(medianOf(runs, (x) => x.sqlPerJob), 2),
          describe(medianOf(runs, (x) => x.ledgerPerJob), 2),
          describe(medianOf(runs, (x) => x.redisPerJob), 2),
          `${summarize(runs.map((x) => x.machineBusyPct)).p50}%`,
        ]),
      ),
    ),
  );
  const file = await writeResult('layout', { machine, jobs: JOBS, singleJobs: SINGLE_JOBS, clients: CLIENTS, batch: BATCH, runs: RUNS, rows });
  console.log(`\nresults: ${file}`);
}

runMain(main);
