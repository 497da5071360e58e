import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { BackendName } from '../../src/adapters/types.ts';
import { JobSystem } from '../../src/jobs/system.ts';
import { createTestDatabase, type TestDatabase } from '../helpers/database.ts';
import { Harness, recordChanges, testEnv, uniqueName, waitFor, waitForJob } from '../helpers/system.ts';
import { concurrencyProbe } from '../fixtures/tasks.ts';
import { illegalTransitions } from '../helpers/history.ts';

/**
 * The behaviour every backend must share, run against each one (test/adapters/<name>.test.ts).
 * The whole JobSystem runs on the backend under test, against real Redis and PostgreSQL; workers
 * that must die or live elsewhere run in child processes.
 */
export function defineContractSuite(backend: BackendName) {
  describe(`contract: ${backend}`, () => {
    let database: TestDatabase;
    let harness: Harness;
    let system: JobSystem;

    beforeAll(async () => {
      database = await createTestDatabase();
    });
    afterAll(async () => {
      // Whatever the scenarios above did, every job's history follows the state machine.
      if (database) expect(await illegalTransitions(database.url)).toEqual([]);
      await database?.drop();
    });

    /** Each test gets fresh queue names on the file's database and a started system. */
    async function setup(overrides: Record<string, string> = {}) {
      harness = new Harness(
        testEnv({
          DATABASE_URL: database.url,
          QUEUE_BACKEND: backend,
          QUEUE_NAME: uniqueName('q'),
          PGBOSS_SCHEMA: uniqueName('pgboss'),
        }),
      );
      system = await harness.start(overrides);
      return system;
    }
    afterEach(async () => {
      await harness?.stopAll();
    });

    it('runs a job to completion with its result, on the chosen backend', async () => {
      await setup();
      const { job, deduplicated } = await system.enqueue('test.echo', { value: { answer: 42 } });
      expect(deduplicated).toBe(false);
      expect(job.status).toBe('QUEUED');
      expect(job.backend).toBe(backend.toUpperCase());
      const done = await waitForJob(system, job.id);
      expect(done).toMatchObject({ status: 'COMPLETED', attempt: 1, progress: 100, result: { value: { answer: 42 }, attempt: 1 } });
      expect(done.startedAt).toBeInstanceOf(Date);
      expect(done.finishedAt!.getTime()).toBeGreaterThanOrEqual(done.startedAt!.getTime());
      expect(system.selection.adapter.name).toBe(backend);
    });

    it('records progress events in order with contiguous seqs, and publishes each one', async () => {
      await setup();
      const seen = await recordChanges(system);
      // Steps further apart than the progress write interval (200 ms): each is written.
      const { job } = await system.enqueue('test.echo', { steps: 5, pauseMs: 250 });
      await waitForJob(system, job.id);
      const events = await system.events(job.id);
      expect(events.map((e) => e.seq)).toEqual(events.map((_, i) => i + 1));
      expect(events.map((e) => `${e.kind}:${e.status}`)).toEqual([
        'STATUS:QUEUED',
        'STATUS:RUNNING',
        ...Array.from({ length: 5 }, () => 'PROGRESS:RUNNING'),
        'STATUS:COMPLETED',
      ]);
      expect(events.filter((e) => e.kind === 'PROGRESS').map((e) => e.progress)).toEqual([20, 40, 60, 80, 100]);
      await waitFor(async () => seen.changes.filter((c) => c.jobId === job.id).length, (n) => n === events.length, 5_000, 'bus messages');
      expect(seen.changes.filter((c) => c.jobId === job.id).map((c) => c.seq)).toEqual(events.map((e) => e.seq));
      seen.stop();
    });

    it('coalesces progress reported thousands of times: a few ledger rows, in order, ending at 100', async () => {
      await setup();
      const { job } = await system.enqueue('test.echo', { steps: 5_000 });
      await waitForJob(system, job.id);
      const progress = (await system.events(job.id)).filter((e) => e.kind === 'PROGRESS').map((e) => e.progress);
      expect(progress.length).toBeGreaterThanOrEqual(2);
      expect(progress.length).toBeLessThan(30);
      expect(progress).toEqual([...progress].sort((a, b) => a - b));
      expect(progress.at(-1)).toBe(100);
    });

    it('retries a failing job with exponential backoff computed by the core', async () => {
      await setup({ RETRY_BASE_MS: '300' });
      const { job } = await system.enqueue('test.flaky', { succeedOnAttempt: 3 });
      const done = await waitForJob(system, job.id);
      expect(done).toMatchObject({ status: 'COMPLETED', attempt: 3, result: { attempt: 3 } });
      const events = await system.events(job.id);
      const starts = events.filter((e) => e.status === 'RUNNING' && e.kind === 'STATUS').map((e) => e.at.getTime());
      const retries = events.filter((e) => e.kind === 'ATTEMPT' && e.status === 'RETRYING');
      expect(starts).toHaveLength(3);
      expect(retries.map((e) => (e.data as { delayMs: number }).delayMs)).toEqual([300, 600]);
      // Each retry waits its delay (base·2^(attempt-1)) and not much longer.
      const gaps = [starts[1]! - starts[0]!, starts[2]! - starts[1]!];
      expect(gaps[0]).toBeGreaterThanOrEqual(300);
      expect(gaps[0]).toBeLessThan(300 + 1_500);
      expect(gaps[1]).toBeGreaterThanOrEqual(600);
      expect(gaps[1]).toBeLessThan(600 + 1_500);
    });

    it('shows a job waiting for its retry as RETRYING: by status, in counts, in its history; a cancel ends it there', async () => {
      await setup({ RETRY_BASE_MS: '1500' });
      const { job } = await system.enqueue('test.flaky', { succeedOnAttempt: 2 });
      const retrying = await waitForJob(system, job.id, 'RETRYING');
      expect(retrying).toMatchObject({ attempt: 1, errorCode: 'HANDLER_ERROR', lockedBy: null });
      expect(retrying.nextRetryAt!.getTime()).toBeGreaterThan(Date.now());
      const listed = await system.ledger.queries.listJobs({ first: 10, status: ['RETRYING'] });
      expect(listed.jobs.map((j) => j.id)).toEqual([job.id]);
      const info = await system.queueInfo();
      expect(info.jobs).toContainEqual({ status: 'RETRYING', type: 'test.flaky', count: 1 });
      const done = await waitForJob(system, job.id);
      expect(done).toMatchObject({ status: 'COMPLETED', attempt: 2 });
      const statuses = (await system.events(job.id)).filter((e) => e.kind !== 'PROGRESS').map((e) => `${e.kind}:${e.status}`);
      expect(statuses).toEqual(['STATUS:QUEUED', 'STATUS:RUNNING', 'ATTEMPT:RETRYING', 'STATUS:RUNNING', 'STATUS:COMPLETED']);

      const second = await system.enqueue('test.flaky', { succeedOnAttempt: 2 });
      await waitForJob(system, second.job.id, 'RETRYING');
      expect(await system.cancel(second.job.id, 'tester')).toMatchObject({ status: 'CANCELLED', attempt: 1 });
      // Its retry was sent to the queue with its delay: once due, the delivery is dropped at the claim.
      await new Promise((resolve) => setTimeout(resolve, 2_500));
      expect(await system.getJob(second.job.id)).toMatchObject({ status: 'CANCELLED', attempt: 1 });
    });

    it('retries at the time a handler gives (RetryAtError), not after the backoff', async () => {
      await setup({ RETRY_BASE_MS: '60000' });
      const { job } = await system.enqueue('test.retryAt', { afterMs: 700 });
      const done = await waitForJob(system, job.id);
      expect(done).toMatchObject({ status: 'COMPLETED', attempt: 2, result: { attempt: 2 } });
      const events = await system.events(job.id);
      const retry = events.find((e) => e.kind === 'ATTEMPT')!;
      expect(retry.message).toMatch(/RATE_LIMITED/);
      const delayMs = (retry.data as { delayMs: number }).delayMs;
      expect(delayMs).toBeGreaterThan(400);
      expect(delayMs).toBeLessThanOrEqual(700);
      const starts = events.filter((e) => e.kind === 'STATUS' && e.status === 'RUNNING').map((e) => e.at.getTime());
      expect(starts[1]! - starts[0]!).toBeGreaterThanOrEqual(delayMs);
    });

    it('gives a retried attempt what the last one saved with checkpoint; retryJob starts from scratch', async () => {
      await setup({ RETRY_BASE_MS: '50' });
      const { job } = await system.enqueue('test.resumable', { to: 20, crashAt: 13 });
      const done = await waitForJob(system, job.id);
      expect(done).toMatchObject({ status: 'COMPLETED', attempt: 2, result: { resumedFrom: 12, attempt: 2 }, checkpoint: { done: 20 } });
      const failed = await system.enqueue('test.resumable', { to: 5, crashAt: 3, fatal: true });
      expect(await waitForJob(system, failed.job.id)).toMatchObject({ status: 'FAILED', checkpoint: { done: 2 } });
      await system.retry(failed.job.id);
      expect(await waitForJob(system, failed.job.id)).toMatchObject({ status: 'COMPLETED', attempt: 2, result: { resumedFrom: 0 } });
    });

    it('fails a job that gives up after its last attempt, with the error', async () => {
      await setup({ RETRY_BASE_MS: '20', MAX_ATTEMPTS: '2' });
      const { job } = await system.enqueue('test.flaky', { succeedOnAttempt: 5 });
      const done = await waitForJob(system, job.id);
      expect(done).toMatchObject({ status: 'FAILED', attempt: 2, errorCode: 'HANDLER_ERROR', errorMessage: 'flaky failure on attempt 2' });
    });

    it('fails a NonRetryableError at once', async () => {
      await setup();
      const { job } = await system.enqueue('test.refuses', {});
      const done = await waitForJob(system, job.id);
      expect(done).toMatchObject({ status: 'FAILED', attempt: 1, errorCode: 'BAD_DATA', errorMessage: 'this input can never succeed' });
    });

    it('fails at once, without retrying, a job whose input no longer fits its task', async () => {
      await setup();
      const { job } = await system.enqueue('test.sleep', { ms: 1 }, { delayMs: 500 });
      // Validated at enqueue; a handler still never sees input its schema rejects.
      await system.db.query(`UPDATE "Job" SET "input" = '{"ms": "soon"}' WHERE id = $1`, [job.id]);
      const done = await waitForJob(system, job.id);
      expect(done).toMatchObject({ status: 'FAILED', attempt: 1, errorCode: 'INVALID_INPUT' });
      expect(done.errorMessage).toMatch(/^ms: /);
    });

    it('times a job out, counts it as a failure and retries it', async () => {
      await setup();
      const { job } = await system.enqueue('test.tooSlow', { ms: 5_000 });
      const done = await waitForJob(system, job.id);
      expect(done).toMatchObject({ status: 'FAILED', attempt: 2, errorCode: 'TIMEOUT' });
      const events = await system.events(job.id);
      expect(events.filter((e) => e.kind === 'ATTEMPT')).toHaveLength(1);
    });

    it('cancels a queued job: it never runs and leaves its queue', async () => {
      await setup();
      const { job } = await system.enqueue('test.echo', {}, { delayMs: 60_000 });
      if (system.selection.adapter.capabilities.maxDelayMs < 60_000) {
        // A backend that cannot hold the delay: the job waits in the ledger's outbox, not in the queue.
        await new Promise((resolve) => setTimeout(resolve, 500));
        expect(await system.getJob(job.id)).toMatchObject({ status: 'QUEUED', dispatchedAt: null, queueRef: null });
        expect(await system.selection.adapter.counts()).toMatchObject({ waiting: 0, delayed: 0 });
      } else {
        await waitFor(() => system.getJob(job.id), (j) => j?.queueRef != null, 5_000, 'dispatch');
        expect((await system.selection.adapter.counts()).delayed).toBe(1);
      }
      const cancelled = await system.cancel(job.id, 'tester');
      expect(cancelled.status).toBe('CANCELLED');
      expect(cancelled.finishedAt).toBeInstanceOf(Date);
      expect((await system.selection.adapter.counts()).delayed).toBe(0);
      const events = await system.events(job.id);
      expect(events.map((e) => e.status)).toEqual(['QUEUED', 'CANCELLED']);
      await expect(system.cancel(job.id)).resolves.toMatchObject({ status: 'CANCELLED' });
    });

    it('cancels a running job: the handler sees the abort and the job ends CANCELLED, not retried', async () => {
      await setup();
      const { job } = await system.enqueue('test.sleep', { ms: 30_000 });
      await waitFor(() => system.events(job.id), (events) => events.some((e) => e.message === 'started'), 10_000, 'start');
      // The monitor's "jobs running" per worker, from the ledger.
      expect((await system.queueInfo()).workers.find((w) => w.id === system.workerId)?.running).toBe(1);
      const cancelling = await system.cancel(job.id);
      expect(['CANCELLING', 'CANCELLED']).toContain(cancelling.status);
      const done = await waitForJob(system, job.id);
      expect(done).toMatchObject({ status: 'CANCELLED', attempt: 1 });
      const events = await system.events(job.id);
      expect(events.map((e) => e.message)).toContain('saw abort: CANCELLED');
      expect(events.some((e) => e.kind === 'ATTEMPT')).toBe(false);
    });

    it('refuses to cancel a completed job', async () => {
      await setup();
      const { job } = await system.enqueue('test.echo', {});
      await waitForJob(system, job.id, 'COMPLETED');
      await expect(system.cancel(job.id)).rejects.toMatchObject({ code: 'ILLEGAL_TRANSITION' });
    });

    it('runs a FAILED job again on retryJob, as a new attempt', async () => {
      await setup();
      const { job } = await system.enqueue('test.refuses', {});
      await waitForJob(system, job.id, 'FAILED');
      const again = await system.retry(job.id, 'tester');
      expect(again).toMatchObject({ status: 'QUEUED', errorCode: null });
      const done = await waitForJob(system, job.id, 'FAILED');
      expect(done.attempt).toBe(2);
    });

    it('returns the existing job for a repeated idempotency key', async () => {
      await setup();
      const key = uniqueName('key');
      const first = await system.enqueue('test.echo', { value: 1 }, { idempotencyKey: key });
      const second = await system.enqueue('test.echo', { value: 2 }, { idempotencyKey: key });
      expect(second).toMatchObject({ deduplicated: true, job: { id: first.job.id } });
      // The key is unique per task type.
      const other = await system.enqueue('test.flaky', { succeedOnAttempt: 1 }, { idempotencyKey: key });
      expect(other.deduplicated).toBe(false);
      expect(await waitForJob(system, first.job.id)).toMatchObject({ status: 'COMPLETED', result: { value: 1 } });
      const count = await system.db.query<{ n: number }>(`SELECT count(*)::int AS n FROM "Job" WHERE "idempotencyKey" = $1`, [key]);
      expect(count[0]!.n).toBe(2);
    });

    it('holds a delayed job until it is due', async () => {
      await setup();
      const { job } = await system.enqueue('test.echo', {}, { delayMs: 800 });
      const done = await waitForJob(system, job.id);
      expect(done.status).toBe('COMPLETED');
      expect(done.startedAt!.getTime() - done.createdAt.getTime()).toBeGreaterThanOrEqual(800);
    });

    it('sends a job its queue lost, without a word, out again through the sweep (needs remove, to lose it)', async (ctx) => {
      await setup({ REDISPATCH_AFTER_MS: '500' });
      // The test loses the job through the adapter; a backend that cannot remove an entry cannot lose it this way.
      if (!system.selection.adapter.capabilities.remove) return ctx.skip();
      const { job } = await system.enqueue('test.echo', { value: 'lost' }, { delayMs: 300 });
      const queued = await waitFor(async () => (await system.getJob(job.id))!, (j) => j.queueRef !== null, 5_000, 'dispatch');
      // What a flushed Redis or a consumed delivery whose claim failed leaves: the ledger says a
      // queue holds the job; the queue does not.
      expect(await system.selection.adapter.remove(queued.queueRef!)).toBe(true);
      const done = await waitForJob(system, job.id, undefined, 10_000);
      expect(done).toMatchObject({ status: 'COMPLETED', attempt: 1, result: { value: 'lost', attempt: 1 } });
      // Due at +300 ms, overdue 500 ms later, swept within a round: not before, and not much after.
      const ranAfter = done.startedAt!.getTime() - done.createdAt.getTime();
      expect(ranAfter).toBeGreaterThanOrEqual(800);
      expect(ranAfter).toBeLessThan(5_000);
    });

    it('runs higher priority first', async () => {
      await setup({ WORKER_CONCURRENCY: '1' });
      const blocker = await system.enqueue('test.sleep', { ms: 600 });
      await waitForJob(system, blocker.job.id, 'RUNNING');
      // The ends and the middle of the range: every backend with priority levels tells these apart.
      const low = await system.enqueue('test.echo', { value: 'low' }, { priority: -1000 });
      const normal = await system.enqueue('test.echo', { value: 'normal' });
      const high = await system.enqueue('test.echo', { value: 'high' }, { priority: 1000 });
      const done = await Promise.all([high, normal, low].map(({ job }) => waitForJob(system, job.id)));
      const order = [...done].sort((a, b) => a.startedAt!.getTime() - b.startedAt!.getTime()).map((j) => (j.result as { value: string }).value);
      expect(order).toEqual(['high', 'normal', 'low']);
    });

    it('holds the concurrency limit and uses it', async () => {
      await setup({ WORKER_CONCURRENCY: '3' });
      const group = uniqueName('g');
      const jobs = await Promise.all(Array.from({ length: 9 }, () => system.enqueue('test.overlap', { group, ms: 200 })));
      await Promise.all(jobs.map(({ job }) => waitForJob(system, job.id, 'COMPLETED')));
      expect(concurrencyProbe.max.get(group)).toBe(3);
    });

    /** Holds every completion write of `system` until `open()`; `called` resolves at the first one. */
    function holdCompletions(target: JobSystem) {
      let open!: () => void;
      let calledFirst!: () => void;
      const gate = new Promise<void>((resolve) => (open = resolve));
      const called = new Promise<void>((resolve) => (calledFirst = resolve));
      const transitions = target.ledger.transitions;
      const complete = transitions.complete.bind(transitions);
      transitions.complete = async (...args) => {
        calledFirst();
        await gate;
        return complete(...args);
      };
      return { open, called };
    }

    it('starts the next job while the last one\'s outcome is still being written', async () => {
      await setup({ WORKER_CONCURRENCY: '1' });
      const held = holdCompletions(system);
      try {
        const first = await system.enqueue('test.sleep', { ms: 10 });
        const second = await system.enqueue('test.sleep', { ms: 10 });
        // One slot: the second job is claimed while the first's outcome waits.
        await waitForJob(system, second.job.id, 'RUNNING');
        expect((await system.getJob(first.job.id))!.status).toBe('RUNNING');
        held.open();
        for (const { job } of [first, second]) expect(await waitForJob(system, job.id, 'COMPLETED')).toMatchObject({ attempt: 1 });
      } finally {
        held.open();
      }
    });

    it('stops only once the outcomes being written are written', async () => {
      await setup({ WORKER_CONCURRENCY: '1' });
      const held = holdCompletions(system);
      try {
        const { job } = await system.enqueue('test.sleep', { ms: 10 });
        await held.called; // its handler returned, and so did its delivery
        let stopped = false;
        const stopping = system.stop().then(() => (stopped = true));
        // Nothing else holds the stop back: it must wait for the outcome, not close the ledger under it.
        await Promise.race([stopping, new Promise((resolve) => setTimeout(resolve, 1_000))]);
        expect(stopped).toBe(false);
        held.open();
        await stopping;
        const reader = await harness.start({ WORKER_IN_PROCESS: 'false' }, { worker: false });
        expect(await reader.getJob(job.id)).toMatchObject({ status: 'COMPLETED', attempt: 1 });
      } finally {
        held.open();
      }
    });

    it('recovers the job of a worker killed mid-job: it completes on another worker as attempt 2', async () => {
      await setup({ WORKER_IN_PROCESS: 'false' });
      await system.stop();
      const producer = await harness.start({}, { worker: false });
      const doomed = await harness.spawnWorker();
      const { job } = await producer.enqueue('test.sleep', { ms: 20_000 });
      const running = await waitForJob(producer, job.id, 'RUNNING');
      expect(running.lockedBy).toBe(doomed.workerId);
      doomed.child.kill('SIGKILL');
      const rescuer = await harness.start({}, { worker: true });
      // Shorten the job for the rescue: the input is the ledger's, so set it there.
      await producer.db.query(`UPDATE "Job" SET "input" = '{"ms": 50}' WHERE id = $1`, [job.id]);
      const done = await waitForJob(producer, job.id, 'COMPLETED', 45_000);
      expect(done.attempt).toBe(2);
      expect(done.lockedBy).toBeNull();
      const events = await producer.events(job.id);
      const lost = events.find((e) => e.kind === 'ATTEMPT');
      expect(lost?.message).toContain(`worker ${doomed.workerId} stopped heartbeating during attempt 1`);
      const runs = events.filter((e) => e.kind === 'STATUS' && e.status === 'RUNNING');
      expect(runs.at(-1)!.message).toBe(`running on ${rescuer.workerId}`);
    });

    it('shuts down gracefully: finishes what it can, hands back the rest without counting the attempt', async () => {
      await setup({ SHUTDOWN_TIMEOUT_MS: '700' });
      const quick = await system.enqueue('test.sleep', { ms: 300 });
      const long = await system.enqueue('test.sleep', { ms: 30_000 });
      await Promise.all([quick, long].map(({ job }) => waitForJob(system, job.id, 'RUNNING')));
      await system.stop();
      const [q, l] = [quick.job.id, long.job.id];
      const reader = await harness.start({ WORKER_IN_PROCESS: 'false' }, { worker: false });
      expect(await reader.getJob(q)).toMatchObject({ status: 'COMPLETED', attempt: 1 });
      const handedBack = (await reader.getJob(l))!;
      expect(handedBack).toMatchObject({ status: 'QUEUED', attempt: 0, lockedBy: null });
      expect((await reader.events(l)).map((e) => e.message)).toContain('saw abort: SHUTDOWN');
      // Another worker takes it up and runs it as attempt 1.
      await reader.db.query(`UPDATE "Job" SET "input" = '{"ms": 10}' WHERE id = $1`, [l]);
      await harness.start({}, { worker: true });
      expect(await waitForJob(reader, l, 'COMPLETED')).toMatchObject({ attempt: 1 });
    });

    it('delivers events to a subscriber in another process', async () => {
      await setup();
      await system.stop();
      const watcher = await harness.start({}, { worker: false });
      await harness.spawnWorker();
      const seen = await recordChanges(watcher);
      const { job } = await watcher.enqueue('test.echo', { steps: 4, pauseMs: 250 });
      await waitForJob(watcher, job.id, 'COMPLETED');
      await waitFor(async () => seen.changes.filter((c) => c.jobId === job.id).length, (n) => n >= 7, 5_000, 'remote events');
      const mine = seen.changes.filter((c) => c.jobId === job.id).sort((a, b) => a.seq - b.seq);
      // Two processes published these (the enqueuer seq 1, the worker the rest): the bus keeps each
      // publisher's order; subscriptions order across publishers by seq.
      expect(mine.map((c) => c.seq)).toEqual([1, 2, 3, 4, 5, 6, 7]);
      expect(mine.filter((c) => c.kind === 'PROGRESS').map((c) => c.progress)).toEqual([25, 50, 75, 100]);
      expect(mine.at(-1)).toMatchObject({ status: 'COMPLETED', type: 'test.echo' });
      seen.stop();
    });

    it('aborts a running job cancelled from another process', async () => {
      await setup();
      await system.stop();
      const api = await harness.start({}, { worker: false });
      await harness.spawnWorker();
      const { job } = await api.enqueue('test.sleep', { ms: 30_000 });
      await waitFor(() => api.events(job.id), (events) => events.some((e) => e.message === 'started'), 10_000, 'start');
      await api.cancel(job.id);
      const done = await waitForJob(api, job.id, 'CANCELLED', 10_000);
      expect(done.attempt).toBe(1);
      expect((await api.events(job.id)).map((e) => e.message)).toContain('saw abort: CANCELLED');
    });
  });
}
