/**
 * Schedules on the process layout users run: an API-side job system without a worker and two
 * worker processes, each with a scheduler of its own firing the same per-second schedule. Every
 * tick makes one job, none is missed, and a pause stops them everywhere.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Job } from '../../src/jobs/ledger/index.ts';
import type { JobSystem } from '../../src/jobs/system.ts';
import { createTestDatabase, type TestDatabase } from '../helpers/database.ts';
import { Harness, testEnv, uniqueName, waitFor } from '../helpers/system.ts';

const tickOf = (job: Job) => Date.parse(job.idempotencyKey!.split(':').slice(2).join(':'));

describe.each(['bullmq', 'pgboss'])('a per-second schedule fired by three processes on %s', (backend) => {
  let database: TestDatabase;
  let harness: Harness;
  let api: JobSystem;

  beforeAll(async () => {
    database = await createTestDatabase();
    harness = new Harness(testEnv({ DATABASE_URL: database.url, QUEUE_BACKEND: backend, QUEUE_NAME: uniqueName('sched'), WORKER_IN_PROCESS: 'false', SCHEDULER_POLL_MS: '1000' }));
    api = await harness.start({}, { worker: false });
    await Promise.all([harness.spawnWorker(), harness.spawnWorker()]);
  }, 60_000);
  afterAll(async () => {
    await harness?.stopAll();
    await database?.drop();
  });

  it('makes exactly one job per tick, misses none, runs each; paused, it makes no more', async () => {
    const schedule = await api.schedules.create({ name: `every-second-${backend}`, task: 'test.echo', input: { value: backend }, cron: '* * * * * *' });
    const jobs = await waitFor(() => api.schedules.jobs(schedule.id, 100), (rows) => rows.length >= 8, 30_000, 'eight ticks');
    await api.schedules.pause(schedule.id);
    // A round that read the schedule just before the pause may still fire the tick it was at.
    const pausedAt = Date.now();
    await new Promise((resolve) => setTimeout(resolve, 2_500));
    const all = (await api.schedules.jobs(schedule.id, 100)).reverse();
    const ticks = all.map(tickOf);
    expect(new Set(ticks).size).toBe(ticks.length);
    for (let i = 1; i < ticks.length; i++) expect(ticks[i]! - ticks[i - 1]!).toBe(1_000);
    expect(ticks.at(-1)!).toBeLessThanOrEqual(pausedAt + 1_000);
    expect(all.length).toBeGreaterThanOrEqual(jobs.length);
    // Each tick's job was made within a moment of its tick, and ran.
    for (const job of all) expect(job.createdAt.getTime() - tickOf(job)).toBeLessThan(1_500);
    const finished = await waitFor(
      () => Promise.all(all.map(async (job) => (await api.getJob(job.id))!)),
      (rows) => rows.every((job) => job.status === 'COMPLETED'),
      30_000,
      'every tick job to complete',
    );
    expect(finished.every((job) => job.scheduleId === schedule.id && (job.result as { value: string }).value === backend)).toBe(true);
  }, 90_000);
});
