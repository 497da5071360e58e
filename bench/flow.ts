// Flow control's cost per job: the same no-op job with nothing, with a shared limit (the task names
// one: a take before the handler, a slot held while it runs, given back after; with a requests
// window, whose every take sums the uses in the window, and with slots only) and with a
// concurrency key (the claim's per-key admission; every job its own key, so nothing waits and what
// is measured is the admission itself). One job system (BullMQ, PostgreSQL ledger, worker in
// process), the variants in turn, BENCH_RUNS rounds; per round: enqueue N (enqueueMany, 500 a call),
// run to COMPLETED. CPU of this process and of PostgreSQL, per job.
import { loadConfig } from '../src/config.ts';
import { JobSystem } from '../src/jobs/system.ts';
import { createLogger } from '../src/lib/logger.ts';
import { cpuSinceUs, createBenchDatabase, envInt, machineInfo, printMachine, processTicks, randomName, REDIS_URL, runMain, summarize, table, until, writeResult } from './lib.ts';
import { benchLimits, benchRegistry } from './tasks.ts';

const JOBS = envInt('BENCH_JOBS', 3_000);
const RUNS = envInt('BENCH_RUNS', 3);
const CONCURRENCY = envInt('BENCH_CONCURRENCY', 20);
const BACKEND = process.env.BENCH_FLOW_BACKEND ?? 'bullmq';

const VARIANTS = [
  { name: 'none', task: 'bench.noop' },
  { name: 'shared limit, window and slots', task: 'bench.limitedNoop' },
  { name: 'shared limit, slots only', task: 'bench.slottedNoop' },
  { name: 'concurrency key', task: 'bench.keyedNoop' },
] as const;

async function main(): Promise<void> {
  printMachine(await machineInfo());
  console.log(`command: npm run bench -- flow (BENCH_JOBS=${JOBS} BENCH_RUNS=${RUNS} BENCH_CONCURRENCY=${CONCURRENCY} BENCH_FLOW_BACKEND=${BACKEND})\n`);
  const db = await createBenchDatabase();
  const config = loadConfig({
    DATABASE_URL: db.url,
    REDIS_URL,
    QUEUE_BACKEND: BACKEND,
    QUEUE_NAME: randomName('bench_flow'),
    PGBOSS_SCHEMA: randomName('bench_pgboss'),
    WORKER_CONCURRENCY: String(CONCURRENCY),
    LOG_LEVEL: process.env.BENCH_LOG_LEVEL ?? 'warn',
  });
  const system = await JobSystem.start({ config, logger: createLogger(config.LOG_LEVEL), registry: benchRegistry(), limits: benchLimits, worker: true });
  let completed = 0;
  const stop = system.onLocalChange((change) => {
    if (change.job.status === 'COMPLETED' && change.events.length > 0) completed++;
  });
  const rows: { variant: string; perS: number[]; nodeUs: number[]; pgUs: number[] }[] = VARIANTS.map((v) => ({ variant: v.name, perS: [], nodeUs: [], pgUs: [] }));
  try {
    // A warm-up of each variant, then the rounds, the variants in turn.
    for (const round of [0, ...Array.from({ length: RUNS }, (_, i) => i + 1)]) {
      for (const [i, variant] of VARIANTS.entries()) {
        const n = round === 0 ? Math.min(300, JOBS) : JOBS;
        const pgBefore = processTicks('postgres');
        const cpuBefore = process.cpuUsage();
        const started = performance.now();
        const target = completed + n;
        for (let sent = 0; sent < n; sent += 500) {
          const batch = Array.from({ length: Math.min(500, n - sent) }, (_, k) => ({ type: variant.task, input: { tag: `r${round}-${sent + k}` } }));
          await system.enqueueMany(batch);
        }
        await until(() => completed >= target, 300_000, `${variant.name}: ${n} jobs completed`);
        const ms = performance.now() - started;
        const cpu = process.cpuUsage(cpuBefore);
        if (round === 0) continue;
        rows[i]!.perS.push((n / ms) * 1000);
        rows[i]!.nodeUs.push((cpu.user + cpu.system) / n);
        rows[i]!.pgUs.push(cpuSinceUs('postgres', pgBefore) / n);
      }
    }
  } finally {
    stop();
    await system.stop();
    await db.drop();
  }
  const base = summarize(rows[0]!.perS).p50;
  console.log(
    table(
      ['variant', 'jobs/s (median)', 'spread', 'vs none', 'node CPU µs/job', 'PostgreSQL CPU µs/job'],
      rows.map((row) => {
        const s = summarize(row.perS);
        return [row.variant, s.p50, `${Math.round(s.min)}–${Math.round(s.max)}`, (s.p50 / base).toFixed(2), summarize(row.nodeUs).p50, summarize(row.pgUs).p50];
      }),
    ),
  );
  await writeResult('flow', { jobs: JOBS, runs: RUNS, concurrency: CONCURRENCY, backend: BACKEND, rows });
}

await runMain(main);
