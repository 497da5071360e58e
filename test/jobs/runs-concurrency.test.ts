/**
 * Two processes advancing the same runs at once (their sweeps every 100 ms, and every run pushed by
 * both, again and again): each step's job is made once, every history follows the state tables
 * with seqs 1, 2, 3… and no gap, and every run completes.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { JobSystem } from '../../src/jobs/system.ts';
import { createTestDatabase, type TestDatabase } from '../helpers/database.ts';
import { Harness, testEnv, uniqueName } from '../helpers/system.ts';
import { unlawfulRunMoves } from '../helpers/history.ts';
import { waitFor } from '../helpers/wait.ts';

const RUNS = 20;

describe('runs advanced by two processes at once', () => {
  let database: TestDatabase;
  let harness: Harness;
  let a: JobSystem;
  let b: JobSystem;

  beforeAll(async () => {
    database = await createTestDatabase();
    harness = new Harness(testEnv({ DATABASE_URL: database.url, QUEUE_BACKEND: 'bullmq', QUEUE_NAME: uniqueName('runs'), RUN_SWEEP_INTERVAL_MS: '100' }));
    [a, b] = await Promise.all([harness.start(), harness.start()]);
  });
  afterAll(async () => {
    await harness?.stopAll();
    await database?.drop();
  });

  /** What the sweep of a process would do, for every run, from both processes at once. */
  const hammer = async (ids: string[]) => {
    await Promise.all(ids.flatMap((id) => [a.advancer.advance(id), b.advancer.advance(id)]));
  };

  it('makes each step once, numbers every history without a gap, and completes every run', async () => {
    const started = await Promise.all(Array.from({ length: RUNS }, (_, i) => (i % 2 ? a : b).runs.start('testDiamond', { tag: `r${i}` })));
    const ids = started.map(({ run }) => run.run.id);
    const atGate = async () => Promise.all(ids.map((id) => a.runs.get(id)));
    for (let round = 0; round < 50; round++) {
      await hammer(ids);
      if ((await atGate()).every((view) => view!.run.status === 'WAITING')) break;
    }
    await waitFor(atGate, (views) => views.every((view) => view!.run.status === 'WAITING'), 30_000, 'every run at its gate');
    // Approve each through one process while both keep advancing.
    await Promise.all([...ids.map((id, i) => (i % 2 ? a : b).runs.approve(id, 'signOff', 'reviewer')), hammer(ids), hammer(ids)]);
    await waitFor(atGate, (views) => views.every((view) => view!.run.status === 'COMPLETED'), 30_000, 'every run completed');

    for (const id of ids) {
      const jobs = await a.ledger.runs.jobsOf(id);
      expect(jobs.map((job) => job.step).sort()).toEqual(['a', 'b', 'c', 'd', 'e']);
      const events = await a.runs.events(id);
      expect(events.map((event) => event.seq)).toEqual(events.map((_, i) => i + 1));
      expect(unlawfulRunMoves(events)).toEqual([]);
      // Each step moved once per status: nothing was settled or released twice.
      const moves = events.filter((event) => event.step).map((event) => `${event.step}:${event.status}`);
      expect(new Set(moves).size).toBe(moves.length);
    }
  }, 120_000);
});
