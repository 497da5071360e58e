// API latency beside the long tasks (issue 16): a client asks the API something small every
// 50 ms, over HTTP, while profileDataset and executeTests run on the demo data (100,000 records,
// 1,000 samples × the report's rules), in each way jobgraph is started:
//   embedded         `npm start` with nothing else (its embedded PostgreSQL, in a fresh EMBEDDED_DIR;
//                    Redis down, so pg-boss on it)
//   postgres-redis   `npm start` with DATABASE_URL and Redis (its worker, BullMQ)
//   separate-worker  an API with WORKER_IN_PROCESS=false and `npm run worker` beside it
// Three probes run side by side: `{ queueInfo { backend } }` (the issue's: it reads the ledger's
// counts), the dashboard's job list, and `{ __typename }` (the API's thread alone, no ledger).
// The jobs' own run times (from the ledger) are reported beside.
//
// BENCH_AB=<checkout> runs every layout from that checkout too, alternating, in the same run: the
// code before a change, beside it. BENCH_RUNS (3) rounds; BENCH_LAYOUTS picks layouts (comma list).
import { spawn, type ChildProcess } from 'node:child_process';
import { chmod, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { findEmbeddedPostgres, startEmbeddedPostgres } from '../src/db/embedded-postgres.ts';
import { demoIds, LEDGER_PROBE_QUERY, preparePhases, probeDuringLongTasks, PROBE_QUERY, runPhase } from '../test/helpers/api-probe.ts';
import { createBenchDatabase, envInt, fmt, freePort, median, REDIS_URL, randomName, ROOT, runMain, summarize, table, verdict, writeResult, type Summary } from './lib.ts';

const LAYOUTS = ['embedded', 'postgres-redis', 'separate-worker'] as const;
type Layout = (typeof LAYOUTS)[number];
const QUERIES = [PROBE_QUERY, LEDGER_PROBE_QUERY, '{ __typename }'];

interface Sample {
  layout: Layout;
  code: string;
  probes: (Summary & { failures: number })[];
  profileMs: number;
  testsMs: number;
}

runMain(async () => {
  const runs = envInt('BENCH_RUNS', 3);
  const layouts = (process.env.BENCH_LAYOUTS?.split(',') ?? LAYOUTS) as Layout[];
  const codes: [string, string][] = [['this', ROOT]];
  if (process.env.BENCH_AB) codes.push(['before', process.env.BENCH_AB]);
  const samples: Sample[] = [];
  for (let run = 1; run <= runs; run++) {
    for (const layout of layouts) {
      for (const [code, root] of run % 2 ? codes : [...codes].reverse()) {
        const sample = await measure(layout, code, root);
        samples.push(sample);
        const [info, , bare] = sample.probes;
        console.log(
          `run ${run} ${layout} (${code}): queueInfo p50 ${fmt(info!.p50)} p99 ${fmt(info!.p99)} max ${fmt(info!.max)} ms (n ${info!.n}); ` +
            `bare p99 ${fmt(bare!.p99)} max ${fmt(bare!.max)}; profile ${sample.profileMs} ms, tests ${sample.testsMs} ms`,
        );
      }
    }
  }
  const rows: (string | number)[][] = [];
  for (const layout of layouts) {
    for (const [code] of codes) {
      const mine = samples.filter((s) => s.layout === layout && s.code === code);
      const range = (pick: (s: Sample) => number) => {
        const values = mine.map(pick);
        return `${fmt(median(values), 0)} (${fmt(Math.min(...values), 0)}–${fmt(Math.max(...values), 0)})`;
      };
      const met = mine.every((s) => s.probes[0]!.p99 <= 100 && s.probes[0]!.max <= 250);
      rows.push([
        layout,
        code,
        range((s) => s.probes[0]!.p50),
        range((s) => s.probes[0]!.p99),
        range((s) => s.probes[0]!.max),
        range((s) => s.probes[1]!.p99),
        range((s) => s.probes[2]!.p99),
        range((s) => s.probes[2]!.max),
        range((s) => s.profileMs),
        range((s) => s.testsMs),
        verdict(met),
      ]);
    }
  }
  console.log(`\nAPI latency (ms) while profileDataset and executeTests run; median (range) of ${runs} runs; target p99 ≤ 100, max ≤ 250 in every run\n`);
  console.log(
    table(
      ['layout', 'code', 'queueInfo p50', 'queueInfo p99', 'queueInfo max', 'jobs list p99', 'bare p99', 'bare max', 'profileDataset ms', 'executeTests ms', 'target'],
      rows,
    ),
  );
  await writeResult('api-latency', { runs, samples });
});

async function measure(layout: Layout, code: string, root: string): Promise<Sample> {
  const dir = await mkdtemp(join(tmpdir(), 'jobgraph-bench-latency-'));
  await chmod(dir, 0o755); // open to the embedded server's user: as root its cluster stays in it
  const embeddedDir = join(dir, 'jobgraph');
  const db = layout === 'embedded' ? undefined : await createBenchDatabase();
  const port = await freePort();
  const url = `http://127.0.0.1:${port}`;
  const env: Record<string, string> = {
    PORT: String(port),
    LOG_LEVEL: process.env.BENCH_LOG_LEVEL ?? 'warn',
    QUEUE_NAME: randomName('latency'),
    ...(db ? { DATABASE_URL: db.url, REDIS_URL, QUEUE_BACKEND: 'bullmq' } : { EMBEDDED_DIR: embeddedDir, REDIS_URL: `redis://127.0.0.1:${await freePort()}` }),
    // A checkout from before the embedded PostgreSQL (BENCH_AB) kept its PGlite ledger there.
    ...(!db && root !== ROOT ? { PGLITE_DIR: join(dir, 'pgdata') } : {}),
  };
  const procs: ChildProcess[] = [];
  try {
    procs.push(start(root, 'src/main.ts', { ...env, WORKER_IN_PROCESS: layout === 'separate-worker' ? 'false' : 'true' }));
    if (layout === 'separate-worker') procs.push(start(root, 'src/worker.ts', env));
    let ids = await untilAnswers(url);
    // The embedded first start loads the demo by itself; a PostgreSQL ledger is seeded by a job.
    if (layout !== 'embedded') await runPhase(url, 'seedDemoData', {});
    for (const deadline = Date.now() + 120_000; !ids && Date.now() < deadline; ) {
      await new Promise((resolve) => setTimeout(resolve, 500));
      ids = await demoIds(url);
    }
    if (!ids) throw new Error(`${layout}: the demo data did not load`);
    await preparePhases(url, ids);
    const { probes, profile, tests } = await probeDuringLongTasks(url, ids, QUERIES);
    return { layout, code, probes: probes.map((p) => ({ ...summarize(p.latencies), failures: p.failures })), profileMs: profile.runMs, testsMs: tests.runMs };
  } finally {
    await Promise.all(procs.map(stop));
    if (!db) await stopLeftServer(embeddedDir);
    await db?.drop();
    await rm(dir, { recursive: true, force: true });
  }
}

function start(root: string, script: string, env: Record<string, string>): ChildProcess {
  const merged: Record<string, string | undefined> = { ...process.env, DATABASE_URL: undefined, EMBEDDED_DIR: undefined, EMBEDDED_PORT: undefined, EMBEDDED_LEDGER_URL: undefined, ...env };
  const defined = Object.fromEntries(Object.entries(merged).filter((entry): entry is [string, string] => entry[1] !== undefined));
  // This code as npm start runs it (Node strips the types); the code before through tsx.
  const loader = root === ROOT ? [] : ['--import', 'tsx'];
  return spawn(process.execPath, [...loader, join(root, script)], { cwd: root, env: defined, stdio: ['ignore', 'ignore', 'inherit'] });
}

async function untilAnswers(url: string): Promise<{ reportId: string; datasetId: string } | undefined> {
  for (const deadline = Date.now() + 120_000; Date.now() < deadline; ) {
    try {
      return await demoIds(url);
    } catch {
      await new Promise((resolve) => setTimeout(resolve, 250));
    }
  }
  throw new Error(`the API at ${url} did not answer`);
}

async function stop(proc: ChildProcess): Promise<void> {
  if (proc.exitCode !== null || proc.signalCode !== null) return;
  const exited = new Promise((resolve) => proc.once('exit', resolve));
  proc.kill('SIGTERM');
  const timer = setTimeout(() => proc.kill('SIGKILL'), 30_000);
  await exited;
  clearTimeout(timer);
}

/** The embedded server of a start that did not stop it (killed): taken over and stopped. */
async function stopLeftServer(embeddedDir: string): Promise<void> {
  const left = await findEmbeddedPostgres(embeddedDir).then(
    () => true,
    () => false,
  );
  if (left) await (await startEmbeddedPostgres({ dir: embeddedDir })).stop();
}
