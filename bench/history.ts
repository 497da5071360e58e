// The ledger with history (issue 18), not one of the `npm run bench` set: evidence for BENCHMARKS.md.
//   1. What the dashboard and every /metrics scrape read, on an empty ledger and on one holding
//      BENCH_HISTORY_JOBS finished jobs (default 1,000,000), side by side in one run; the counts as
//      they were read before tallies (GROUP BY over every job) beside them for scale.
//   2. Pruning while jobs run: BENCH_PRUNE_JOBS finished jobs past their retention removed in
//      PRUNE_BATCH statements by the worker's Pruner, while a loop creates, claims and completes
//      jobs on the same ledger; that loop's latency beside the same loop without pruning.
// Usage: npx tsx bench/history.ts
import { openLedger } from '../src/db/client.ts';
import { Ledger } from '../src/jobs/ledger/index.ts';
import { Pruner } from '../src/jobs/pruner.ts';
import { createLogger } from '../src/lib/logger.ts';
import { createBenchDatabase, envInt, fmt, machineInfo, preloadHistory, printMachine, runMain, summarize, table, writeResult, type BenchDatabase } from './lib.ts';

const HISTORY = envInt('BENCH_HISTORY_JOBS', 1_000_000);
const PRUNE_JOBS = envInt('BENCH_PRUNE_JOBS', 200_000);
const LIVE = envInt('BENCH_HISTORY_LIVE', 200);
const REPS = envInt('BENCH_HISTORY_REPS', 30);
const BATCH = envInt('PRUNE_BATCH', 500);
const DAY = 86_400_000;

const newJob = () => ({ type: 'bench.noop', phase: 'TEST_EXECUTION' as const, input: {}, maxAttempts: 4, backend: 'INLINE' as const });

async function timeIt(fn: () => Promise<unknown>): Promise<number[]> {
  await fn(); // warm: plans cached, pages in memory
  const ms: number[] = [];
  for (let i = 0; i < REPS; i++) {
    const t = performance.now();
    await fn();
    ms.push(performance.now() - t);
  }
  return ms;
}

async function reads(ledger: Ledger): Promise<Record<string, number[]>> {
  const q = ledger.queries;
  return {
    'counts (queueInfo, dashboard overview, jobgraph_jobs)': await timeIt(() => q.counts()),
    'live workers (queueInfo)': await timeIt(() => q.liveWorkers(30_000)),
    'retention summary (queueInfo, /metrics)': await timeIt(() => ledger.retention.summary()),
    'throughput, last 60 min (dashboard chart)': await timeIt(() => q.throughput(60)),
    'jobs(first: 20) (dashboard list)': await timeIt(() => q.listJobs({ first: 20 })),
    'jobs(first: 20, status: QUEUED)': await timeIt(() => q.listJobs({ first: 20, status: ['QUEUED'] })),
    'jobs(first: 20, status: COMPLETED)': await timeIt(() => q.listJobs({ first: 20, status: ['COMPLETED'] })),
    'jobs(first: 20, type: bench.noop)': await timeIt(() => q.listJobs({ first: 20, type: 'bench.noop' })),
    'for scale: counts as read before tallies (GROUP BY over every job)': await timeIt(() =>
      ledger.db.query(`SELECT "status", "type", count(*)::int AS count FROM "Job" GROUP BY "status", "type"`),
    ),
  };
}

/** Creates, claims and completes jobs one after another until `until` resolves; returns each job's ms. */
async function jobLoop(ledger: Ledger, until: Promise<unknown>): Promise<number[]> {
  let done = false;
  void until.finally(() => (done = true));
  const ms: number[] = [];
  while (!done) {
    const t = performance.now();
    const { job } = await ledger.transitions.createJob(newJob());
    await ledger.transitions.claim(job.id, 'bench-worker');
    await ledger.transitions.complete(job.id, 'bench-worker', null);
    ms.push(performance.now() - t);
  }
  return ms;
}

async function withLedger<T>(db: BenchDatabase, fn: (ledger: Ledger) => Promise<T>): Promise<T> {
  const ldb = await openLedger({ databaseUrl: db.url, poolMax: 4 });
  try {
    return await fn(new Ledger(ldb));
  } finally {
    await ldb.close();
  }
}

async function addLive(ledger: Ledger): Promise<void> {
  for (let i = 0; i < LIVE; i++) await ledger.transitions.createJob({ ...newJob(), delayMs: DAY });
}

async function main(): Promise<void> {
  const machine = await machineInfo();
  printMachine(machine);
  const dbs: BenchDatabase[] = [];
  try {
    // ── 1. reads ──
    const empty = await createBenchDatabase();
    const full = await createBenchDatabase();
    dbs.push(empty, full);
    console.log(`loading ${HISTORY.toLocaleString('en')} finished jobs (3 events each) …`);
    const loadMs = await preloadHistory(full.url, HISTORY);
    console.log(`loaded in ${Math.round(loadMs / 1000)} s; ${LIVE} waiting jobs in each ledger`);
    const sides: Record<string, Record<string, number[]>> = {};
    for (const [name, db] of [['empty', empty], ['history', full]] as const) {
      sides[name] = await withLedger(db, async (ledger) => {
        await addLive(ledger);
        return reads(ledger);
      });
    }
    const sizes = await withLedger(full, (ledger) =>
      ledger.db.query<{ relation: string; bytes: number }>(
        `SELECT c.relname AS relation, pg_relation_size(c.oid)::float8 AS bytes FROM pg_class c
         WHERE c.relname IN ('Job', 'JobEvent', 'Job_pkey', 'JobEvent_pkey', 'Job_createdAt_idx', 'Job_type_createdAt_idx',
                             'Job_waiting_idx', 'Job_held_idx', 'Job_type_idempotencyKey_key', 'JobTally')
         ORDER BY bytes DESC`,
      ),
    );
    const names = Object.keys(sides.empty!);
    const cell = (ms: number[]) => {
      const s = summarize(ms);
      return `${fmt(s.p50, 2)} / ${fmt(s.p90, 2)}`;
    };
    console.log(`\n### Reads, ms p50 / p90 over ${REPS} (after one warm-up)\n`);
    console.log(
      table(
        ['read', 'empty ledger', `${HISTORY.toLocaleString('en')} finished jobs`, 'p90 ≤ 100 ms'],
        names.map((name) => [name, cell(sides.empty![name]!), cell(sides.history![name]!), name.startsWith('for scale') ? '—' : summarize(sides.history![name]!).p90 <= 100 ? 'met' : 'MISSED']),
      ),
    );

    const total = sizes.reduce((sum, row) => sum + row.bytes, 0);
    console.log(`\n### On disk, ${HISTORY.toLocaleString('en')} finished jobs (3 events each) and ${LIVE} waiting: ${fmt(total / HISTORY, 0)} bytes a finished job\n`);
    console.log(table(['relation', 'MiB', 'bytes a finished job'], sizes.map((row) => [row.relation, fmt(row.bytes / 1_048_576, 1), fmt(row.bytes / HISTORY, 1)])));

    // ── 2. pruning while jobs run ──
    const pruneDb = await createBenchDatabase();
    dbs.push(pruneDb);
    console.log(`\nloading ${PRUNE_JOBS.toLocaleString('en')} finished jobs 10 days old …`);
    await preloadHistory(pruneDb.url, PRUNE_JOBS, { daysAgo: 10 });
    const pruneResult = await withLedger(pruneDb, async (ledger) => {
      const quiet = await jobLoop(ledger, new Promise((resolve) => setTimeout(resolve, 5_000)));
      const pruner = new Pruner({
        ledger,
        logger: createLogger('warn'),
        rules: { default: { completed: 7 * DAY, failed: 30 * DAY }, byTask: new Map() },
        batch: BATCH,
        intervalMs: 3_600_000,
      });
      const started = performance.now();
      const pruning = pruner.prune();
      const during = await jobLoop(ledger, pruning);
      const pruned = await pruning;
      const pruneMs = performance.now() - started;
      const [left] = await ledger.db.query<{ n: number }>(`SELECT count(*)::int AS n FROM "Job" WHERE "type" = 'bench.history'`);
      return { quiet, during, pruned, pruneMs, left: left!.n };
    });
    const { quiet, during, pruned, pruneMs, left } = pruneResult;
    console.log(`\n### Pruning ${pruned.toLocaleString('en')} jobs (${BATCH} a statement) while a job loop runs: ${fmt(pruneMs / 1000, 1)} s, ${fmt(pruned / (pruneMs / 1000), 0)} jobs/s; ${left} past their period left\n`);
    const lat = (ms: number[]) => {
      const s = summarize(ms);
      return [ms.length, fmt(s.p50, 2), fmt(s.p90, 2), fmt(s.p99, 2), fmt(s.max, 1)];
    };
    console.log(table(['job loop (create, claim, complete)', 'jobs', 'p50 ms', 'p90 ms', 'p99 ms', 'max ms'], [['alone (5 s)', ...lat(quiet)], ['while pruning', ...lat(during)]]));
    const file = await writeResult('history', { machine, sizes, history: HISTORY, live: LIVE, reps: REPS, reads: sides, prune: { batch: BATCH, pruned, pruneMs, quiet: summarize(quiet), during: summarize(during) } });
    console.log(`\nresults: ${file}`);
  } finally {
    await Promise.all(dbs.map((d) => d.drop().catch(() => {})));
  }
}

runMain(main);
