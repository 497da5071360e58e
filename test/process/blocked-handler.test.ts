/**
 * A handler that computes without yielding blocks its worker process's event loop. Its heartbeats
 * come from a thread of their own (src/jobs/heartbeat-thread.ts), so another worker's reaper does
 * not take the job while it still runs; and when the blocked loop keeps a job past its timeout or
 * its cancellation, that thread kills the process, since nothing else can stop the handler.
 * Two worker processes, as users run them, and an API-side job system that runs no worker.
 */
import type { ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { JobSystem } from '../../src/jobs/system.ts';
import { createTestDatabase, type TestDatabase } from '../helpers/database.ts';
import { Harness, testEnv, uniqueName, waitForJob } from '../helpers/system.ts';

const STALE_AFTER_MS = 1_500;

describe('a handler that blocks its event loop', () => {
  let database: TestDatabase;
  let harness: Harness;
  let api: JobSystem;

  beforeAll(async () => {
    database = await createTestDatabase();
    harness = new Harness(
      testEnv({
        DATABASE_URL: database.url,
        QUEUE_BACKEND: 'bullmq',
        QUEUE_NAME: uniqueName('blocked'),
        WORKER_IN_PROCESS: 'false',
        STALE_AFTER_MS: String(STALE_AFTER_MS),
        HEARTBEAT_MS: '200',
        WORKER_CONCURRENCY: '1',
      }),
    );
    api = await harness.start({}, { worker: false });
  });
  afterAll(async () => {
    await harness?.stopAll();
    await database?.drop();
  });
  const spawned: ChildProcess[] = [];
  afterEach(async () => {
    for (const child of spawned.splice(0)) {
      child.kill('SIGKILL');
      await exitOf(child);
    }
  });

  /** Two worker processes; resolves with the one that took `jobId`, and the other. */
  async function twoWorkersRun(type: string, input: Record<string, unknown>) {
    const workers = await Promise.all([harness.spawnWorker(), harness.spawnWorker()]);
    spawned.push(...workers.map((w) => w.child));
    const { job } = await api.enqueue(type, input);
    await waitForJob(api, job.id, 'RUNNING');
    const running = (await api.events(job.id)).find((e) => e.kind === 'STATUS' && e.status === 'RUNNING')!;
    const holder = workers.find((w) => running.message === `running on ${w.workerId}`)!;
    expect(holder).toBeDefined();
    return { jobId: job.id, holder, other: workers.find((w) => w !== holder)! };
  }

  const exitOf = (child: ChildProcess) =>
    child.exitCode !== null || child.signalCode !== null ? Promise.resolve([child.exitCode, child.signalCode]) : once(child, 'exit');

  it('keeps its job while it computes for five times the stale bound: one run, one attempt', async () => {
    const { jobId, other } = await twoWorkersRun('test.spin', { ms: 5 * STALE_AFTER_MS });
    const done = await waitForJob(api, jobId, undefined, 30_000);
    expect(done).toMatchObject({ status: 'COMPLETED', attempt: 1 });
    const events = await api.events(jobId);
    expect(events.filter((e) => e.kind === 'STATUS' && e.status === 'RUNNING')).toHaveLength(1);
    expect(events.map((e) => `${e.message ?? ''} ${JSON.stringify(e.data ?? null)}`).join('\n')).not.toMatch(/WORKER_LOST/);
    // The other worker was there all along, its reaper running: it had nothing to take.
    expect(other.child.exitCode).toBeNull();
  });

  it('past its timeout, it is stopped by killing its process, and the job fails rather than waiting it out', async () => {
    const { jobId, holder, other } = await twoWorkersRun('test.spinPastTimeout', { ms: 120_000 });
    const [, signal] = (await exitOf(holder.child)) as [number | null, NodeJS.Signals | null];
    expect(signal).toBe('SIGKILL');
    // The other worker's reaper settles it once its heartbeat is stale: its one attempt is spent.
    const settled = await waitForJob(api, jobId, undefined, 20_000);
    expect(settled).toMatchObject({ status: 'FAILED', errorCode: 'WORKER_LOST' });
    expect(other.child.exitCode).toBeNull();
  });

  it('cancelled, it is stopped by killing its process, and the job ends CANCELLED', async () => {
    const { jobId, holder, other } = await twoWorkersRun('test.spin', { ms: 120_000 });
    await api.cancel(jobId);
    const [, signal] = (await exitOf(holder.child)) as [number | null, NodeJS.Signals | null];
    expect(signal).toBe('SIGKILL');
    expect(await waitForJob(api, jobId, undefined, 20_000)).toMatchObject({ status: 'CANCELLED' });
    expect(other.child.exitCode).toBeNull();
  });
});
