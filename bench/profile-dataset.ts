// profileDataset on the demo dataset (BENCH_PROFILE_RECORDS, default 100,000), as users run it:
// `npm run worker` in a process of its own (pg-boss, PostgreSQL ledger), the job enqueued by
// another process. Reports rows/s and the worker's peak RSS (VmHWM) against its idle RSS, and,
// side by side in the same run, the rows/s of a bare keyset scan of the same records (the I/O
// floor: what reading them costs without any statistics). BENCH_PROFILE_RUNS runs (default 3);
// BENCH_WORKER_NODE_ARGS: Node flags for the worker.
import { readFile } from 'node:fs/promises';
import { loadConfig } from '../src/config.ts';
import { seedDemo } from '../src/domain/seed.ts';
import { recordPages } from '../src/domain/datasets.ts';
import { JobSystem } from '../src/jobs/system.ts';
import { createLogger } from '../src/lib/logger.ts';
import { createTaskRegistry } from '../src/tasks/registry.ts';
import { createBenchDatabase, envInt, fmt, randomName, runMain, spawnNode, summarize, table, writeResult } from './lib.ts';

const RECORDS = envInt('BENCH_PROFILE_RECORDS', 100_000);
const RUNS = envInt('BENCH_PROFILE_RUNS', 3);
/** Node flags of the worker process, e.g. `--max-semi-space-size=2`. */
const WORKER_NODE_ARGS = (process.env.BENCH_WORKER_NODE_ARGS ?? '').split(' ').filter(Boolean);

async function memoryOf(pid: number): Promise<{ rssMiB: number; peakMiB: number }> {
  const status = await readFile(`/proc/${pid}/status`, 'utf8');
  const kib = (field: string) => Number(new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(status)?.[1] ?? NaN);
  return { rssMiB: kib('VmRSS') / 1024, peakMiB: kib('VmHWM') / 1024 };
}

runMain(async () => {
  const database = await createBenchDatabase();
  const env = {
    DATABASE_URL: database.url,
    QUEUE_BACKEND: 'pgboss',
    QUEUE_NAME: randomName('bench_profile'),
    PGBOSS_SCHEMA: randomName('bench_pgboss'),
    WORKER_CONCURRENCY: '2',
    LOG_LEVEL: 'info',
  };
  const config = loadConfig(env);
  const producer = await JobSystem.start({ config, logger: createLogger('warn'), registry: createTaskRegistry(), worker: false });
  try {
    const seeded = await seedDemo(producer.db.prisma, (text, params) => producer.db.query(text, params), { signal: new AbortController().signal, progress: async () => {} }, RECORDS);
    console.log(`seeded ${seeded.records} records into ${database.name}`);

    const rows: (string | number)[][] = [];
    const results: { run: number; rowsPerSecond: number; scanRowsPerSecond: number; idleMiB: number; peakMiB: number }[] = [];
    for (let run = 1; run <= RUNS; run++) {
      // The baseline first, in this process: a keyset scan of the same pages, nothing computed.
      const scanStarted = performance.now();
      let scanned = 0;
      for await (const page of recordPages((text, params) => producer.db.query(text, params), seeded.datasetId)) scanned += page.length;
      const scanRowsPerSecond = scanned / ((performance.now() - scanStarted) / 1000);

      // As `npm run worker` runs it: node src/worker.ts, no loader.
      const worker = spawnNode('../src/worker.ts', env, WORKER_NODE_ARGS);
      await worker.waitFor(/"msg":"jobgraph started"/, 60_000, 'the worker to start');
      const idle = await memoryOf(worker.pid);
      const { job } = await producer.enqueue('profiling.profileDataset', { datasetId: seeded.datasetId });
      let done = job;
      while (done.status !== 'COMPLETED' && done.status !== 'FAILED') {
        await new Promise((resolve) => setTimeout(resolve, 100));
        done = (await producer.getJob(job.id))!;
      }
      if (done.status !== 'COMPLETED') throw new Error(`profileDataset ${done.status}: ${done.errorMessage}`);
      const memory = await memoryOf(worker.pid);
      await worker.stop(10_000);
      const seconds = (done.finishedAt!.getTime() - done.startedAt!.getTime()) / 1000;
      const rowsPerSecond = RECORDS / seconds;
      results.push({ run, rowsPerSecond, scanRowsPerSecond, idleMiB: idle.rssMiB, peakMiB: memory.peakMiB });
      rows.push([run, fmt(seconds, 2), fmt(rowsPerSecond, 0), fmt(scanRowsPerSecond, 0), fmt(rowsPerSecond / scanRowsPerSecond, 2), fmt(idle.rssMiB, 0), fmt(memory.peakMiB, 0)]);
    }
    console.log(`\nprofileDataset, ${RECORDS.toLocaleString('en')} records, worker process on pg-boss, worker flags: ${WORKER_NODE_ARGS.join(' ') || '(none)'}\n`);
    console.log(table(['run', 'job s', 'rows/s', 'bare scan rows/s', 'ratio', 'worker idle RSS MiB', 'worker peak RSS MiB'], rows));
    const spread = (values: number[]) => `${fmt(summarize(values).p50, 0)} (${fmt(Math.min(...values), 0)}–${fmt(Math.max(...values), 0)})`;
    const peaks = results.map((r) => r.peakMiB);
    console.log(`\nmedian (range): ${spread(results.map((r) => r.rowsPerSecond))} rows/s; peak RSS ${spread(peaks)} MiB; target < 200 MiB: ${Math.max(...peaks) < 200 ? 'met' : 'MISSED'}`);
    await writeResult('profile-dataset', { records: RECORDS, results });
  } finally {
    await producer.stop();
    await database.drop();
  }
});
