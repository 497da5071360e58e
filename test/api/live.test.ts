import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { LiveJobs } from '../../src/api/live.ts';
import type { Job, JobEvent } from '../../src/jobs/ledger/index.ts';
import type { JobSystem } from '../../src/jobs/system.ts';
import { createTestDatabase, type TestDatabase } from '../helpers/database.ts';
import { Harness, testEnv, uniqueName, withTimeout } from '../helpers/system.ts';
import { waitUntil } from '../helpers/wait.ts';

/**
 * The bus is best effort. A terminal change written to the ledger whose message never reaches the
 * bus (a publish lost after its commit) must still end the subscriptions that wait for it.
 */
describe('live subscriptions when the bus loses a message', () => {
  let database: TestDatabase;
  let harness: Harness;
  let system: JobSystem;

  beforeAll(async () => {
    database = await createTestDatabase();
    // No worker: the job stays QUEUED until the test ends it behind the bus's back.
    harness = new Harness(testEnv({ DATABASE_URL: database.url, QUEUE_BACKEND: 'inline', QUEUE_NAME: uniqueName('live') }));
    system = await harness.start({}, { worker: false });
  });
  afterAll(async () => {
    await harness?.stopAll();
    await database?.drop();
  });

  /** Cancels the job the way a write whose bus message was lost would leave it: ledger only. */
  async function cancelWithoutPublishing(jobId: string): Promise<void> {
    await system.db.query(
      `WITH j AS (UPDATE "Job" SET "status" = 'CANCELLED', "finishedAt" = now(), "lastSeq" = "lastSeq" + 1 WHERE id = $1 RETURNING *)
       INSERT INTO "JobEvent" ("jobId", seq, kind, status, progress, message) SELECT id, "lastSeq", 'STATUS', 'CANCELLED', 0, 'behind the bus' FROM j`,
      [jobId],
    );
  }

  /** Reads `stream` to its end; `seen` fills as it goes, `done` resolves with all of it. */
  function drain<T>(stream: AsyncIterable<T>): { seen: T[]; done: Promise<T[]> } {
    const seen: T[] = [];
    const done = (async () => {
      for await (const value of stream) seen.push(value);
      return seen;
    })();
    return { seen, done };
  }

  it('jobProgress re-reads the ledger when the bus is quiet and ends on the terminal state', async () => {
    const { job } = await system.enqueue('test.echo', {});
    const live = new LiveJobs(system, { recheckMs: 200 });
    const stream = drain<Job>(live.jobProgress(job.id));
    // The stream has sent the state it read first: what changes now, it must learn of.
    await waitUntil('the first state', () => stream.seen.length > 0);
    await cancelWithoutPublishing(job.id);
    const seen = await withTimeout(stream.done, 5_000, 'jobProgress to end');
    expect(seen.map((j) => j.status)).toEqual(['QUEUED', 'CANCELLED']);
  });

  it('jobEvents does the same, and sends the lost event from the ledger', async () => {
    const { job } = await system.enqueue('test.echo', {});
    const live = new LiveJobs(system, { recheckMs: 200 });
    const stream = drain<JobEvent>(live.jobEvents(job.id));
    // The stream has sent the state it read first: what changes now, it must learn of.
    await waitUntil('the first state', () => stream.seen.length > 0);
    await cancelWithoutPublishing(job.id);
    const seen = await withTimeout(stream.done, 5_000, 'jobEvents to end');
    expect(seen.map((e) => [e.seq, e.status])).toEqual([
      [1, 'QUEUED'],
      [2, 'CANCELLED'],
    ]);
  });

  it('without the re-check the same stream would still be waiting (the test can fail)', async () => {
    const { job } = await system.enqueue('test.echo', {});
    const live = new LiveJobs(system, { recheckMs: 60_000 });
    const iterator = live.jobProgress(job.id)[Symbol.asyncIterator]();
    expect((await iterator.next()).value?.status).toBe('QUEUED');
    await cancelWithoutPublishing(job.id);
    const next = iterator.next();
    const outcome = await Promise.race([next.then(() => 'ended'), new Promise((resolve) => setTimeout(() => resolve('waiting'), 1_000))]);
    expect(outcome).toBe('waiting');
    await iterator.return?.();
  });

  it('listens to the bus once for all its streams, and a change reaches only its own job\'s streams', async () => {
    const [a, b] = await Promise.all([system.enqueue('test.echo', {}), system.enqueue('test.echo', {})]);
    const listens = vi.spyOn(system, 'onJobChange');
    try {
      const live = new LiveJobs(system, { recheckMs: 60_000 });
      const streams = [live.jobProgress(a.job.id), live.jobProgress(a.job.id), live.jobProgress(b.job.id)].map((s) => s[Symbol.asyncIterator]());
      for (const stream of streams) expect((await stream.next()).value?.status).toBe('QUEUED');
      expect(listens).toHaveBeenCalledTimes(1);
      await system.cancel(b.job.id, 'test');
      expect((await streams[2]!.next()).value?.status).toBe('CANCELLED');
      const quiet = await Promise.race([streams[0]!.next().then(() => 'moved'), new Promise((resolve) => setTimeout(() => resolve('quiet'), 300))]);
      expect(quiet).toBe('quiet');
      for (const stream of streams) await stream.return?.();
    } finally {
      listens.mockRestore();
    }
  });
});
