// Throughput: N no-op jobs enqueued, then run, at the same concurrency everywhere. Raw BullMQ and
// raw pg-boss against jobgraph on each, and jobgraph inline on the embedded PostgreSQL (as
// `npm start` runs it, in a fresh folder) and on Postgres; plus what each job costs in SQL
// statements and Redis commands.
//
// Method: the workers start with their no-op handler held at a gate, so the enqueue phase runs
// alone (a worker takes its first `concurrency` jobs and waits); then the gate opens and the run
// phase lasts until the last job is complete (jobgraph: COMPLETED in the ledger; raw BullMQ: its
// 'completed' event; raw pg-boss: its handler returned). A warm-up of the same path runs first.
import { chmod, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Queue, Worker } from 'bullmq';
import { Redis } from 'ioredis';
import pg from 'pg';
import { PgBoss } from 'pg-boss';
import { loadConfig } from '../src/config.ts';
import { startEmbeddedPostgres, type EmbeddedServer } from '../src/db/embedded-postgres.ts';
import { JobSystem } from '../src/jobs/system.ts';
import { createLogger } from '../src/lib/logger.ts';
import { counters, countLedger, installCounters, redisCommandstats, resetCounters, statsDelta, type Tally } from './counters.ts';
import {
  cpuSinceUs,
  machineTicks,
  processTicks,
  createBenchDatabase,
  envInt,
  fmt,
  summarize,
  machineInfo,
  obliterateQueue,
  printMachine,
  randomName,
  REDIS_URL,
  runMain,
  table,
  until,
  verdict,
  writeResult,
  type BenchDatabase,
} from './lib.ts';
import { benchLimits, benchRegistry, noopGate } from './tasks.ts';

const JOBS = envInt('BENCH_JOBS', 10_000);
const CONCURRENCY = envInt('BENCH_CONCURRENCY', 20);
/** jobgraph enqueues one job per call: this many calls in flight at once. */
const PARALLEL = envInt('BENCH_ENQUEUE_PARALLEL', 50);
/** Raw queues enqueue in bulk: jobs per addBulk / insert call. */
const BULK = envInt('BENCH_BULK', 500);
const WARMUP = Math.min(envInt('BENCH_WARMUP', 500), JOBS);
const PHASE_TIMEOUT_MS = envInt('BENCH_PHASE_TIMEOUT_MS', 300_000);
/** Each row is run this many times, the rows in turn. */
const RUNS = envInt('BENCH_RUNS', 3);
const ONLY = process.env.BENCH_THROUGHPUT_ONLY?.split(',').filter(Boolean);
const BULL_PREFIX = 'jobgraph_bench';

interface Subject {
  /** Enqueues `n` jobs; resolves when every enqueue call has returned. */
  enqueue(n: number): Promise<void>;
  /** Jobs complete so far. */
  completed(): number;
  stop(): Promise<void>;
}

interface Variant {
  name: string;
  backend: 'bullmq' | 'pgboss' | 'inline-embedded' | 'inline-postgres';
  kind: 'raw' | 'jobgraph';
  /** The raw row a jobgraph row is compared with. */
  baseline?: string;
  note: string;
  start(db: BenchDatabase): Promise<Subject>;
}

interface Row {
  name: string;
  backend: string;
  kind: string;
  note: string;
  jobs: number;
  enqueueMs: number;
  runMs: number;
  enqueuePerS: number;
  runPerS: number;
  totalPerS: number;
  /** Node CPU of this process (enqueue + run), microseconds per job. */
  nodeCpuUsPerJob: number;
  /** CPU of the redis-server and postgres processes of this machine, µs per job (shared servers: includes others' load). */
  redisCpuUsPerJob: number;
  postgresCpuUsPerJob: number;
  /** Share of the whole machine's CPU time that was busy during the window (all processes, others' too). */
  machineBusyPct: number;
  ledgerPerJob: number;
  ledgerByKind: { kind: string; perJob: number }[];
  pgPerJob: number;
  pgByKind: { kind: string; perJob: number }[];
  redisPerJob: number;
  redisByCommand: { kind: string; perJob: number }[];
  /** INFO commandstats delta: includes commands run inside Lua scripts, and other clients' traffic. */
  redisServerPerJob: number;
  redisServerByCommand: { kind: string; perJob: number }[];
  error?: string;
}

// ── subjects ─────────────────────────────────────────────────────────────────

function rawBullmq(priority: boolean): Variant['start'] {
  return async () => {
    const name = randomName('bench_raw');
    const producer = new Redis(REDIS_URL, { maxRetriesPerRequest: null });
    const consumer = new Redis(REDIS_URL, { maxRetriesPerRequest: null });
    const queue = new Queue(name, { connection: producer, prefix: BULL_PREFIX });
    let done = 0;
    const worker = new Worker(
      name,
      async () => {
        const held = noopGate.wait();
        if (held) await held;
      },
      { connection: consumer, prefix: BULL_PREFIX, concurrency: CONCURRENCY },
    );
    worker.on('completed', () => done++);
    worker.on('error', (error) => console.warn('raw bullmq worker:', error.message));
    await worker.waitUntilReady();
    return {
      async enqueue(n) {
        for (let i = 0; i < n; i += BULK) {
          const size = Math.min(BULK, n - i);
          await queue.addBulk(
            Array.from({ length: size }, (_, k) => ({
              name: 'bench.noop',
              data: { i: i + k },
              opts: { removeOnComplete: true, removeOnFail: true, attempts: 1, ...(priority ? { priority: 1001 } : {}) },
            })),
          );
        }
      },
      completed: () => done,
      async stop() {
        await worker.close();
        await queue.obliterate({ force: true }).catch(() => {});
        await queue.close();
        producer.disconnect();
        consumer.disconnect();
      },
    };
  };
}

function rawPgboss(localConcurrency: number, batchSize: number): Variant['start'] {
  return async (db) => {
    const schema = randomName('bench_rawboss');
    const name = 'bench';
    const boss = new PgBoss({
      connectionString: db.url,
      schema,
      useListenNotify: true,
      schedule: false,
      superviseIntervalSeconds: 10,
      monitorIntervalSeconds: 10,
      maintenanceIntervalSeconds: 300,
    });
    boss.on('error', (error) => console.warn('raw pg-boss:', error instanceof Error ? error.message : error));
    await boss.start();
    await boss.createQueue(name, { notify: true, retryLimit: 0, deleteAfterSeconds: 3600 });
    let done = 0;
    await boss.work(
      name,
      {
        localConcurrency,
        batchSize,
        burstWhenBatchFull: true,
        pollingIntervalSeconds: 0.5,
        notifyPollingIntervalSeconds: 0.5,
      },
      async (jobs) => {
        const held = noopGate.wait();
        if (held) await held;
        done += jobs.length;
      },
    );
    return {
      async enqueue(n) {
        for (let i = 0; i < n; i += BULK) {
          const size = Math.min(BULK, n - i);
          await boss.insert(name, Array.from({ length: size }, (_, k) => ({ data: { i: i + k } })));
        }
      },
      completed: () => done,
      async stop() {
        await boss.stop({ graceful: true, close: true, timeout: 5_000 });
        const admin = new pg.Client({ connectionString: db.url });
        await admin.connect();
        await admin.query(`DROP SCHEMA IF EXISTS ${pg.escapeIdentifier(schema)} CASCADE`).finally(() => admin.end());
      },
    };
  };
}

/**
 * The embedded PostgreSQL of `npm start`, in a folder of its own (a copy of the migrated template).
 * The folder is left open to the server's user, so that as root its cluster stays in it.
 */
async function embeddedLedger(): Promise<{ server: EmbeddedServer; stop(): Promise<void> }> {
  const dir = await mkdtemp(join(tmpdir(), 'jobgraph-bench-embedded-'));
  await chmod(dir, 0o755);
  try {
    const server = await startEmbeddedPostgres({ dir: join(dir, 'jobgraph') });
    return {
      server,
      async stop() {
        await server.stop();
        await rm(dir, { recursive: true, force: true });
      },
    };
  } catch (error) {
    await rm(dir, { recursive: true, force: true });
    throw error;
  }
}

function jobgraph(backend: 'bullmq' | 'pgboss' | 'inline', ledger: 'postgres' | 'embedded', bulk = false): Variant['start'] {
  return async (db) => {
    const queueName = randomName('bench_jg');
    const embedded = ledger === 'embedded' ? await embeddedLedger() : undefined;
    const config = loadConfig({
      ...(embedded ? { EMBEDDED_LEDGER_URL: embedded.server.url } : { DATABASE_URL: db.url }),
      REDIS_URL,
      QUEUE_BACKEND: backend,
      QUEUE_NAME: queueName,
      PGBOSS_SCHEMA: randomName('bench_pgboss'),
      WORKER_CONCURRENCY: String(CONCURRENCY),
      SHUTDOWN_TIMEOUT_MS: '5000',
      LOG_LEVEL: process.env.BENCH_LOG_LEVEL ?? 'warn',
    });
    const system = await JobSystem.start({ config, logger: createLogger(config.LOG_LEVEL), registry: benchRegistry(), limits: benchLimits, worker: true }).catch(
      async (error: unknown) => {
        await embedded?.stop();
        throw error;
      },
    );
    countLedger(system.db);
    let done = 0;
    const ledgerApi = system.ledger.transitions;
    const complete = ledgerApi.complete.bind(ledgerApi);
    ledgerApi.complete = async (...args) => {
      const change = await complete(...args);
      if (change) done++;
      return change;
    };
    return {
      async enqueue(n) {
        if (bulk) {
          // As the raw rows enqueue: BULK jobs a call, one call at a time.
          for (let i = 0; i < n; i += BULK) {
            await system.enqueueMany(Array.from({ length: Math.min(BULK, n - i) }, () => ({ type: 'bench.noop', input: {} })));
          }
          return;
        }
        let next = 0;
        const lane = async () => {
          while (next < n) {
            next++;
            await system.enqueue('bench.noop', {});
          }
        };
        await Promise.all(Array.from({ length: Math.min(PARALLEL, n) }, lane));
      },
      completed: () => done,
      async stop() {
        try {
          await system.stop();
          if (backend === 'bullmq') await obliterateQueue(queueName, 'jobgraph').catch((error: unknown) => console.warn(String(error)));
        } finally {
          await embedded?.stop();
        }
      },
    };
  };
}

const variants: Variant[] = [
  { name: 'raw BullMQ', backend: 'bullmq', kind: 'raw', note: `addBulk ×${BULK}, Worker concurrency ${CONCURRENCY}`, start: rawBullmq(false) },
  {
    name: 'raw BullMQ + priority',
    backend: 'bullmq',
    kind: 'raw',
    note: 'same, every job with a priority (as jobgraph adds them)',
    start: rawBullmq(true),
  },
  {
    name: 'jobgraph on BullMQ',
    backend: 'bullmq',
    kind: 'jobgraph',
    baseline: 'raw BullMQ',
    note: `system.enqueue ×${PARALLEL} in flight; worker in process`,
    start: jobgraph('bullmq', 'postgres'),
  },
  {
    name: 'jobgraph on BullMQ, enqueueMany',
    backend: 'bullmq',
    kind: 'jobgraph',
    baseline: 'raw BullMQ',
    note: `system.enqueueMany ×${BULK}, as the raw row; worker in process`,
    start: jobgraph('bullmq', 'postgres', true),
  },
  {
    name: 'raw pg-boss',
    backend: 'pgboss',
    kind: 'raw',
    note: `insert ×${BULK}; work: ${CONCURRENCY} workers × batch 2, burst, notify (the adapter's tuning)`,
    start: rawPgboss(CONCURRENCY, 2),
  },
  {
    name: 'raw pg-boss, 1 × batch 20',
    backend: 'pgboss',
    kind: 'raw',
    note: `insert ×${BULK}; work: 1 worker × batch ${CONCURRENCY}, burst, notify`,
    start: rawPgboss(1, CONCURRENCY),
  },
  {
    name: 'jobgraph on pg-boss',
    backend: 'pgboss',
    kind: 'jobgraph',
    baseline: 'raw pg-boss',
    note: `system.enqueue ×${PARALLEL} in flight; worker in process`,
    start: jobgraph('pgboss', 'postgres'),
  },
  {
    name: 'jobgraph on pg-boss, enqueueMany',
    backend: 'pgboss',
    kind: 'jobgraph',
    baseline: 'raw pg-boss',
    note: `system.enqueueMany ×${BULK}, as the raw row; worker in process`,
    start: jobgraph('pgboss', 'postgres', true),
  },
  {
    name: 'jobgraph inline, embedded',
    backend: 'inline-embedded',
    kind: 'jobgraph',
    note: `the embedded PostgreSQL of npm start (a fresh folder), EMBEDDED_LEDGER_URL; system.enqueue ×${PARALLEL} in flight`,
    start: jobgraph('inline', 'embedded'),
  },
  {
    name: 'jobgraph inline, Postgres',
    backend: 'inline-postgres',
    kind: 'jobgraph',
    note: `system.enqueue ×${PARALLEL} in flight`,
    start: jobgraph('inline', 'postgres'),
  },
];

// ── measurement ──────────────────────────────────────────────────────────────

const perJob = (tally: Tally, n: number) => tally.top(n, 12).map(({ kind, perUnit }) => ({ kind, perJob: round(perUnit) }));
const round = (v: number, d = 3) => Math.round(v * 10 ** d) / 10 ** d;

async function measure(variant: Variant, db: BenchDatabase): Promise<Row> {
  noopGate.open();
  const subject = await variant.start(db);
  try {
    // Warm-up on the same path, gate open.
    if (WARMUP > 0) {
      await subject.enqueue(WARMUP);
      await until(() => subject.completed() >= WARMUP, PHASE_TIMEOUT_MS, `${variant.name}: warm-up`, 10);
    }
    noopGate.close();
    const base = subject.completed();
    resetCounters();
    const redisBefore = await redisCommandstats(REDIS_URL);
    const cpuBefore = { node: process.cpuUsage(), redis: processTicks('redis-server'), postgres: processTicks('postgres'), machine: machineTicks() };
    counters.on = true;
    const t0 = performance.now();
    await subject.enqueue(JOBS);
    const t1 = performance.now();
    noopGate.open();
    await until(() => subject.completed() - base >= JOBS, PHASE_TIMEOUT_MS, `${variant.name}: run`, 2);
    const t2 = performance.now();
    counters.on = false;
    const cpu = process.cpuUsage(cpuBefore.node);
    const redisCpu = cpuSinceUs('redis-server', cpuBefore.redis);
    const postgresCpu = cpuSinceUs('postgres', cpuBefore.postgres);
    const machineAfter = machineTicks();
    const machineBusy = (machineAfter.busy - cpuBefore.machine.busy) / Math.max(1, machineAfter.total - cpuBefore.machine.total);
    const server = statsDelta(redisBefore, await redisCommandstats(REDIS_URL));
    // The INFO call itself shows up once in the delta.
    server.total = Math.max(0, server.total - 1);
    const serverByCommand = [...server.byCommand.entries()]
      .sort((a, b) => b[1] - a[1])
      .slice(0, 12)
      .map(([kind, count]) => ({ kind, perJob: round(count / JOBS) }));
    const enqueueMs = t1 - t0;
    const runMs = t2 - t1;
    return {
      name: variant.name,
      backend: variant.backend,
      kind: variant.kind,
      note: variant.note,
      jobs: JOBS,
      enqueueMs: round(enqueueMs, 1),
      runMs: round(runMs, 1),
      enqueuePerS: round(JOBS / (enqueueMs / 1000), 0),
      runPerS: round(JOBS / (runMs / 1000), 0),
      totalPerS: round(JOBS / ((t2 - t0) / 1000), 0),
      nodeCpuUsPerJob: round((cpu.user + cpu.system) / JOBS, 1),
      redisCpuUsPerJob: round(redisCpu / JOBS, 1),
      postgresCpuUsPerJob: round(postgresCpu / JOBS, 1),
      machineBusyPct: round(machineBusy * 100, 0),
      ledgerPerJob: round(counters.ledger.total / JOBS),
      ledgerByKind: perJob(counters.ledger, JOBS),
      pgPerJob: round(counters.pg.total / JOBS),
      pgByKind: perJob(counters.pg, JOBS),
      redisPerJob: round(counters.redis.total / JOBS),
      redisByCommand: perJob(counters.redis, JOBS),
      redisServerPerJob: round(server.total / JOBS),
      redisServerByCommand: serverByCommand,
    };
  } finally {
    counters.on = false;
    noopGate.open();
    await subject.stop().catch((error: unknown) => console.warn(`${variant.name}: stop failed:`, error));
  }
}

async function main(): Promise<void> {
  const machine = await machineInfo();
  printMachine(machine);
  console.log(`throughput: ${JOBS} no-op jobs per row (after a warm-up of ${WARMUP}), concurrency ${CONCURRENCY}\n`);
  installCounters();
  const db = await createBenchDatabase();
  /** Each variant's runs, RUNS rounds of every variant in turn (so a row and its baseline alternate). */
  const runs = new Map<string, Row[]>();
  try {
    for (let round = 1; round <= RUNS; round++) {
      console.log(`round ${round} of ${RUNS}`);
      for (const variant of variants) {
        if (ONLY && !ONLY.some((o) => variant.name.toLowerCase().includes(o.toLowerCase()))) continue;
        process.stdout.write(`  ${variant.name} … `);
        let row: Row;
        try {
          row = await measure(variant, db);
          console.log(`${fmt(row.totalPerS)} jobs/s`);
        } catch (error) {
          const message = error instanceof Error ? error.message : String(error);
          console.log(`FAILED: ${message}`);
          row = { name: variant.name, backend: variant.backend, kind: variant.kind, note: variant.note, error: message } as Row;
        }
        runs.set(variant.name, [...(runs.get(variant.name) ?? []), row]);
      }
    }
  } finally {
    await db.drop();
  }

  // The run of median total throughput stands for its variant in the per-job tables.
  const rows = [...runs.values()].map((list) => {
    const ok = list.filter((r) => !r.error).sort((a, b) => a.totalPerS - b.totalPerS);
    return ok[Math.floor((ok.length - 1) / 2)] ?? list[0]!;
  });
  /** Per round, the row's figure over its baseline's in the same round: median and range. */
  const ratios = (row: Row, key: 'enqueuePerS' | 'runPerS' | 'totalPerS'): number[] => {
    const base = row.kind === 'jobgraph' ? variants.find((v) => v.name === row.name)?.baseline : undefined;
    const mine = runs.get(row.name) ?? [];
    const theirs = base ? (runs.get(base) ?? []) : [];
    return mine.flatMap((r, i) => (r.error || !theirs[i] || theirs[i].error ? [] : [r[key] / theirs[i][key]]));
  };
  const ratio = (row: Row, key: 'enqueuePerS' | 'runPerS' | 'totalPerS') => {
    const list = ratios(row, key);
    return list.length ? summarize(list).p50 : undefined;
  };
  const spread = (values: number[], digits = 0) => {
    if (values.length === 0) return '';
    const s = summarize(values);
    return values.length === 1 ? fmt(s.p50, digits) : `${fmt(s.p50, digits)} (${fmt(s.min, digits)}–${fmt(s.max, digits)})`;
  };
  console.log(`\nmedian of ${RUNS} runs, range in brackets; ratios are taken per round against the baseline's run of the same round\n`);
  console.log(table(
    ['', 'enqueue jobs/s', 'run jobs/s', 'total jobs/s', 'ratio enqueue', 'ratio run', 'ratio total', 'target total ≥ 0.5'],
    rows.map((r) => {
      const ok = (runs.get(r.name) ?? []).filter((x) => !x.error);
      const total = ratio(r, 'totalPerS');
      return [
        r.name,
        r.error ? `failed: ${r.error}` : spread(ok.map((x) => x.enqueuePerS)),
        spread(ok.map((x) => x.runPerS)),
        spread(ok.map((x) => x.totalPerS)),
        spread(ratios(r, 'enqueuePerS'), 2),
        spread(ratios(r, 'runPerS'), 2),
        spread(ratios(r, 'totalPerS'), 2),
        total === undefined ? '' : verdict(total >= 0.5),
      ];
    }),
  ));
  console.log('\nper job (measured window: enqueue + run, warm-up excluded):\n');
  console.log(table(
    ['', 'ledger stmts', 'all SQL stmts', 'Redis cmds (client)', 'Redis cmds (server)', 'node CPU µs', 'redis-server CPU µs', 'postgres CPU µs', 'machine busy'],
    rows.filter((r) => !r.error).map((r) => [
      r.name,
      ...[r.ledgerPerJob, r.pgPerJob, r.redisPerJob, r.redisServerPerJob].map((v) => v.toFixed(2)),
      ...[r.nodeCpuUsPerJob, r.redisCpuUsPerJob, r.postgresCpuUsPerJob].map((v) => v.toFixed(0)),
      `${r.machineBusyPct}%`,
    ]),
  ));
  for (const r of rows.filter((row) => !row.error && row.kind === 'jobgraph')) {
    console.log(`\n${r.name}: ledger statements per job by kind`);
    console.log(table(['statement', 'per job'], r.ledgerByKind.map((k) => [k.kind, k.perJob.toFixed(3)])));
    const other = r.pgByKind.filter((k) => !k.kind.startsWith('ledger.'));
    if (other.length) {
      console.log(`${r.name}: other SQL per job (pg-boss, bus)`);
      console.log(table(['statement', 'per job'], other.map((k) => [k.kind, k.perJob.toFixed(3)])));
    }
    if (r.redisPerJob > 0) {
      console.log(`${r.name}: Redis commands per job, as sent by this process`);
      console.log(table(['command', 'per job'], r.redisByCommand.map((k) => [k.kind, k.perJob.toFixed(3)])));
    }
  }
  for (const r of rows.filter((row) => !row.error && row.kind === 'raw')) {
    const list = r.backend === 'bullmq' ? r.redisByCommand : r.pgByKind;
    console.log(`\n${r.name}: ${r.backend === 'bullmq' ? 'Redis commands' : 'SQL statements'} per job, as sent by this process`);
    console.log(table(['command', 'per job'], list.map((k) => [k.kind, k.perJob.toFixed(3)])));
  }
  await writeResult('throughput', {
    machine,
    params: { jobs: JOBS, concurrency: CONCURRENCY, enqueueParallel: PARALLEL, bulk: BULK, warmup: WARMUP, runs: RUNS },
    rows: rows.map((r) => ({ ...r, ratioEnqueue: ratio(r, 'enqueuePerS'), ratioRun: ratio(r, 'runPerS'), ratioTotal: ratios(r, 'totalPerS') })),
    runs: Object.fromEntries(runs),
  });
}

runMain(main);
