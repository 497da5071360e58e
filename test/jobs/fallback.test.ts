import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestDatabase, type TestDatabase } from '../helpers/database.ts';
import { OwnRedis } from '../helpers/ports.ts';
import { Harness, testEnv, uniqueName, waitFor, waitForJob } from '../helpers/system.ts';

describe('runtime fallback: Redis dies while jobs are enqueued', () => {
  let database: TestDatabase;
  let redis: OwnRedis;
  let harness: Harness;

  beforeAll(async () => {
    database = await createTestDatabase();
    redis = await OwnRedis.start();
  });
  afterAll(async () => {
    await harness?.stopAll();
    await redis?.destroy();
    await database?.drop();
  });

  it('loses no job: they run on the in-process fallback, and new jobs go back to BullMQ once Redis returns', async () => {
    harness = new Harness(
      testEnv({ DATABASE_URL: database.url, REDIS_URL: redis.url, QUEUE_BACKEND: 'bullmq', QUEUE_NAME: uniqueName('fb'), WORKER_CONCURRENCY: '2' }),
    );
    const system = await harness.start();
    expect(system.selection.adapter.name).toBe('bullmq');

    // Slow enough that most are still waiting in Redis when it dies.
    const before = await Promise.all(Array.from({ length: 10 }, (_, i) => system.enqueue('test.echo', { value: i, steps: 2, pauseMs: 100 })));
    await waitFor(() => system.getJob(before[0]!.job.id), (j) => j?.status !== 'QUEUED', 10_000, 'first job to start');
    await redis.stop();

    // Accepted while Redis is down: the mutation path must not fail or lose them.
    const during = await Promise.all(Array.from({ length: 10 }, (_, i) => system.enqueue('test.echo', { value: 100 + i })));
    const all = [...before, ...during];
    const done = await Promise.all(all.map(({ job }) => waitForJob(system, job.id, undefined, 30_000)));
    expect(done.map((j) => j.status)).toEqual(all.map(() => 'COMPLETED'));
    expect(done.some((j) => j.backend === 'INLINE')).toBe(true);
    expect(system.dispatcher.status()).toMatchObject({ primaryHealthy: false, usingFallback: true });
    // The jobs taken back from the dead queue say so in their history.
    const histories = await Promise.all(before.map(({ job }) => system.events(job.id)));
    const failedOver = histories.filter((events) => events.some((e) => e.kind === 'LOG' && /^bullmq went down before delivering it/.test(e.message ?? '')));
    expect(failedOver.length).toBeGreaterThan(0);

    // Redis comes back (empty, as after a crash without persistence): fail back.
    await redis.start();
    await waitFor(async () => system.dispatcher.status().primaryHealthy, (ok) => ok, 20_000, 'fail-back');
    const after = await system.enqueue('test.echo', { value: 'after' });
    expect(await waitForJob(system, after.job.id, 'COMPLETED', 20_000)).toMatchObject({ backend: 'BULLMQ' });
  });
});
