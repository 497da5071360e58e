/**
 * Concurrency keys and fairness on the process layout users run: an API-side job system that runs
 * no worker, three worker processes, BullMQ or pg-boss. Times are the ledger's (startedAt,
 * finishedAt), so "never two at once" is judged by what every process wrote.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Job } from '../../src/jobs/ledger/index.ts';
import type { JobSystem } from '../../src/jobs/system.ts';
import { createTestDatabase, type TestDatabase } from '../helpers/database.ts';
import { Harness, testEnv, uniqueName, waitForJob } from '../helpers/system.ts';

/** The most jobs of `jobs` that held the ledger's RUNNING state at one moment. */
function mostAtOnce(jobs: Job[]): number {
  const spans = jobs.filter((job) => job.startedAt).map((job) => [job.startedAt!.getTime(), job.finishedAt!.getTime()] as const);
  // The most is reached when one of them starts.
  return Math.max(0, ...spans.map(([start]) => spans.filter(([s, e]) => s <= start && start < e).length));
}

describe.each(['bullmq', 'pgboss'])('flow control by key across three worker processes on %s', (backend) => {
  let database: TestDatabase;
  let harness: Harness;
  let api: JobSystem;

  beforeAll(async () => {
    database = await createTestDatabase();
    harness = new Harness(testEnv({ DATABASE_URL: database.url, QUEUE_BACKEND: backend, QUEUE_NAME: uniqueName('keys'), WORKER_IN_PROCESS: 'false', WORKER_CONCURRENCY: '4' }));
    api = await harness.start({}, { worker: false });
    await Promise.all([harness.spawnWorker(), harness.spawnWorker(), harness.spawnWorker()]);
  }, 60_000);
  afterAll(async () => {
    await harness?.stopAll();
    await database?.drop();
  });

  const finished = (answers: { job: Job }[], timeoutMs = 60_000) => Promise.all(answers.map(({ job }) => waitForJob(api, job.id, undefined, timeoutMs)));

  it('queue: under a burst of enqueues, never two jobs of one report at once, and every job runs', async () => {
    const reports = ['q1', 'q2', 'q3'];
    const answers = await Promise.all(
      Array.from({ length: 30 }, (_, n) => api.enqueue('test.keyedQueue', { reportId: reports[n % 3]!, holdMs: 100, n })),
    );
    const jobs = await finished(answers);
    expect(jobs.map((job) => job.status)).toEqual(jobs.map(() => 'COMPLETED'));
    for (const report of reports) expect(mostAtOnce(jobs.filter((job) => job.concurrencyKey === report))).toBe(1);
    // Three reports: they ran beside each other.
    expect(mostAtOnce(jobs)).toBeGreaterThan(1);
  }, 120_000);

  it('cancel-in-progress: each new job cancels the one before; never two at once; the last one completes', async () => {
    const answers = [];
    for (let n = 0; n < 5; n++) {
      answers.push(await api.enqueue('test.keyedCancel', { reportId: 'c1', holdMs: 1_500, n }));
      await new Promise((resolve) => setTimeout(resolve, 200));
    }
    const jobs = await finished(answers);
    expect(jobs.map((job) => job.status)).toEqual(['CANCELLED', 'CANCELLED', 'CANCELLED', 'CANCELLED', 'COMPLETED']);
    expect(mostAtOnce(jobs)).toBe(1);
  }, 60_000);

  it('drop: a burst of enqueues of one report records one job and answers every enqueue with it', async () => {
    const answers = await Promise.all(Array.from({ length: 12 }, () => api.enqueue('test.keyedDrop', { reportId: 'd1', holdMs: 300 })));
    expect(new Set(answers.map((a) => a.job.id)).size).toBe(1);
    expect(answers.filter((a) => !a.deduplicated)).toHaveLength(1);
    const [job] = await finished(answers.slice(0, 1));
    expect(job!.status).toBe('COMPLETED');
  }, 60_000);

  it("fairness: after one user enqueued 2,000 jobs, another user's first job starts within what the workers already held", async () => {
    const backlog = await api.enqueueMany(Array.from({ length: 2_000 }, (_, n) => ({ type: 'test.echo', input: { value: n }, opts: { createdBy: 'bulk' } })));
    const enqueuedAt = Date.now();
    const late = await api.enqueueMany(Array.from({ length: 20 }, (_, n) => ({ type: 'test.echo', input: { value: n }, opts: { createdBy: 'newcomer' } })));
    const [first] = await finished(late.slice(0, 1));
    const bulk = await finished(backlog, 240_000);
    // The bulk jobs that started after the newcomer's were enqueued and before its first started.
    const ahead = bulk.filter((job) => job.startedAt!.getTime() >= enqueuedAt && job.startedAt! < first!.startedAt!).length;
    const waitedMs = first!.startedAt!.getTime() - enqueuedAt;
    const left = bulk.filter((job) => job.startedAt!.getTime() >= enqueuedAt).length;
    console.info(`fairness on ${backend}: the newcomer's first job started ${waitedMs} ms after its enqueue; ${ahead} bulk jobs started in between, of the ${left} still waiting then`);
    // Bound: the bulk jobs the workers had taken or started when the newcomer's arrived
    // (3 processes × 4 slots, and BullMQ's or pg-boss's fetch ahead), never the backlog.
    expect(ahead).toBeLessThan(200);
    expect(waitedMs).toBeLessThan(10_000);
  }, 300_000);
});
