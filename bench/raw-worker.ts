// The baselines' worker process: a bare BullMQ Worker or pg-boss `work()` running no-ops at the
// same concurrency as jobgraph's worker process, with nothing of jobgraph. Arguments:
// `bullmq <queue> <prefix>` or `pgboss <queue> <schema>` (DATABASE_URL). Prints "ready" once it
// consumes; its stdin speaks the bench children's protocol (stats, reached: see lib.ts).
import { Worker } from 'bullmq';
import { Redis } from 'ioredis';
import { PgBoss } from 'pg-boss';
import { completions, envInt, REDIS_URL, serveStdin } from './lib.ts';

const CONCURRENCY = envInt('BENCH_CONCURRENCY', 20);
const [backend, queue, where] = process.argv.slice(2);
if (!queue || !where || (backend !== 'bullmq' && backend !== 'pgboss')) {
  console.error('usage: raw-worker.ts bullmq <queue> <prefix> | pgboss <queue> <schema>');
  process.exit(2);
}

let stop: () => Promise<void>;
if (backend === 'bullmq') {
  const connection = new Redis(REDIS_URL, { maxRetriesPerRequest: null });
  const worker = new Worker(queue, async () => {}, { connection, prefix: where, concurrency: CONCURRENCY });
  // Completed: BullMQ moved it to finished, as jobgraph's COMPLETED is written to the ledger.
  worker.on('completed', () => completions.add());
  worker.on('error', (error) => console.warn('raw bullmq worker:', error.message));
  await worker.waitUntilReady();
  stop = async () => {
    await worker.close();
    connection.disconnect();
  };
} else {
  const boss = new PgBoss({ connectionString: process.env.DATABASE_URL!, schema: where, schedule: false, superviseIntervalSeconds: 10 });
  boss.on('error', (error) => console.warn('raw pg-boss:', error instanceof Error ? error.message : error));
  await boss.start();
  await boss.createQueue(queue, { notify: true, retryLimit: 0, deleteAfterSeconds: 3600 });
  // The jobgraph adapter's shape (src/adapters/pgboss.ts): one pg-boss worker per slot, batch 2, burst, NOTIFY.
  await boss.work(
    queue,
    { localConcurrency: CONCURRENCY, batchSize: 2, burstWhenBatchFull: true, pollingIntervalSeconds: 0.5, notifyPollingIntervalSeconds: 0.5 },
    // Counted when the handler returns (pg-boss then completes the batch).
    async (jobs) => completions.add(jobs.length),
  );
  stop = () => boss.stop({ graceful: true, close: true, timeout: 5_000 });
}
serveStdin(
  () => {},
  () => void stop().finally(() => process.exit(0)),
);
process.stdout.write('ready\n');
