import { once } from 'node:events';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestDatabase, type TestDatabase } from '../helpers/database.ts';
import { Harness, testEnv, uniqueName, waitFor, waitForJob, withTimeout } from '../helpers/system.ts';

/** A worker process stopped with SIGTERM, as an orchestrator stops it. */
describe('SIGTERM on a worker process', () => {
  let database: TestDatabase;
  let harness: Harness;

  beforeAll(async () => {
    database = await createTestDatabase();
    harness = new Harness(
      testEnv({ DATABASE_URL: database.url, QUEUE_BACKEND: 'inline', QUEUE_NAME: uniqueName('sig'), SHUTDOWN_TIMEOUT_MS: '800' }),
    );
  });
  afterAll(async () => {
    await harness?.stopAll();
    await database?.drop();
  });

  it('finishes short jobs, hands back long ones and exits 0', async () => {
    const api = await harness.start({}, { worker: false });
    const { child, workerId } = await harness.spawnWorker();
    const short = await api.enqueue('test.sleep', { ms: 300 });
    const long = await api.enqueue('test.sleep', { ms: 60_000 });
    for (const { job } of [short, long]) {
      await waitFor(() => api.events(job.id), (events) => events.some((e) => e.message === 'started'), 10_000, 'start');
    }
    const exited = once(child, 'exit');
    child.kill('SIGTERM');
    const [code] = (await withTimeout(exited, 10_000, 'worker exit')) as [number | null];
    expect(code).toBe(0);

    expect(await api.getJob(short.job.id)).toMatchObject({ status: 'COMPLETED', attempt: 1 });
    const handedBack = (await api.getJob(long.job.id))!;
    expect(handedBack).toMatchObject({ status: 'QUEUED', attempt: 0, lockedBy: null, queueRef: null });
    const worker = (await api.db.query<{ stoppedAt: Date | null }>(`SELECT "stoppedAt" FROM "Worker" WHERE id = $1`, [workerId]))[0];
    expect(worker?.stoppedAt).toBeInstanceOf(Date);

    // The next worker takes it up as attempt 1.
    await api.db.query(`UPDATE "Job" SET "input" = '{"ms": 10}' WHERE id = $1`, [long.job.id]);
    await harness.spawnWorker();
    expect(await waitForJob(api, long.job.id, 'COMPLETED')).toMatchObject({ attempt: 1 });
  });
});
