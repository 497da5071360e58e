/**
 * An API process with no queue of its own (the in-process queue lives in worker processes) leaves
 * a new job in the outbox and tells the workers on the bus (ControlMessage 'dispatch'): a worker
 * sends it to its queue at once, not at its next sweep. The sweep here comes every 30 s, so a job
 * that starts within seconds was woken. Real PostgreSQL (ledger, LISTEN/NOTIFY bus), a worker process.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { JobSystem } from '../../src/jobs/system.ts';
import { createTestDatabase, type TestDatabase } from '../helpers/database.ts';
import { Harness, testEnv, uniqueName, waitForJob } from '../helpers/system.ts';

describe('a job an API leaves in the outbox', () => {
  let database: TestDatabase;
  let harness: Harness;
  let api: JobSystem;

  beforeAll(async () => {
    database = await createTestDatabase();
    harness = new Harness(
      testEnv({ DATABASE_URL: database.url, QUEUE_BACKEND: 'inline', QUEUE_NAME: uniqueName('wake'), WORKER_IN_PROCESS: 'false', DISPATCH_INTERVAL_MS: '30000' }),
    );
    api = await harness.start({}, { worker: false });
    await harness.spawnWorker();
  });
  afterAll(async () => {
    await harness?.stopAll();
    await database?.drop();
  });

  it('is sent out by a worker process at once, not at its next sweep', async () => {
    for (let i = 0; i < 3; i++) {
      const { job } = await api.enqueue('test.echo', { value: i });
      const done = await waitForJob(api, job.id, 'COMPLETED', 5_000);
      expect(done.startedAt!.getTime() - done.createdAt.getTime()).toBeLessThan(2_000);
    }
  });
});
