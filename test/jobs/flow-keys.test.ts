import { describe, expect, it } from 'vitest';
import type { Job } from '../../src/jobs/ledger/index.ts';
import { systemPerFile, waitForJob } from '../helpers/system.ts';

type Span = { n: number; started: number; ended: number };
const spanOf = (job: Job) => job.result as Span;
/** The most spans running at one moment (the most is reached when one of them starts). */
const overlapping = (spans: Span[]) => Math.max(...spans.map((s) => spans.filter((o) => o.started <= s.started && s.started < o.ended).length));

/** Concurrency keys, debounce and fairness, as a task declares them (TaskDefinition), on one ledger. */
describe('flow control by key', () => {
  const { system } = systemPerFile({ WORKER_CONCURRENCY: '6' });
  const messages = async (jobId: string) => (await system().events(jobId)).map((e) => e.message ?? '');

  it("queue: a report's jobs run one at a time, in the order they came, while another report's run beside them", async () => {
    const jobs = await system().enqueueMany([
      ...Array.from({ length: 4 }, (_, n) => ({ type: 'test.keyedQueue', input: { reportId: 'r1', holdMs: 150, n } })),
      ...Array.from({ length: 2 }, (_, n) => ({ type: 'test.keyedQueue', input: { reportId: 'r2', holdMs: 150, n } })),
    ]);
    const done = await Promise.all(jobs.map(({ job }) => waitForJob(system(), job.id, 'COMPLETED', 20_000)));
    const r1 = done.slice(0, 4).map(spanOf);
    expect(overlapping(r1)).toBe(1);
    expect([...r1].sort((a, b) => a.started - b.started).map((s) => s.n)).toEqual([0, 1, 2, 3]);
    expect(overlapping([r1[0]!, ...done.slice(4).map(spanOf)])).toBeGreaterThan(1);
    expect(done[0]!.concurrencyKey).toBe('r1');
    const waited = await messages(done[3]!.id);
    expect(waited).toContain('waiting its turn: concurrency key test.keyedQueue:r1 (1 at once)');
    expect(waited).toContain('its turn: a job of its concurrency key ended');
    expect(done.every((job) => job.waitingOn === null && job.attempt === 1)).toBe(true);
  });

  it('runs at most the limit of a key at once', async () => {
    const jobs = await system().enqueueMany(Array.from({ length: 6 }, (_, n) => ({ type: 'test.keyedPair', input: { reportId: 'p1', holdMs: 150, n } })));
    const done = await Promise.all(jobs.map(({ job }) => waitForJob(system(), job.id, 'COMPLETED', 20_000)));
    expect(overlapping(done.map(spanOf))).toBe(2);
  });

  it('cancel-in-progress: a new job cancels the running one of its key and runs once it has stopped', async () => {
    const { job: first } = await system().enqueue('test.keyedCancel', { reportId: 'c1', holdMs: 10_000, n: 1 });
    await waitForJob(system(), first.id, 'RUNNING');
    const { job: second } = await system().enqueue('test.keyedCancel', { reportId: 'c1', holdMs: 0, n: 2 });
    const cancelled = await waitForJob(system(), first.id, 'CANCELLED');
    const done = await waitForJob(system(), second.id, 'COMPLETED');
    expect(spanOf(done).started).toBeGreaterThanOrEqual(cancelled.finishedAt!.getTime() - 5);
    expect(await messages(first.id)).toEqual(expect.arrayContaining([expect.stringContaining(`a newer job of its concurrency key (${second.id})`)]));
  });

  it('drop: an enqueue while the key has a live job is answered with that job; once it ended, a new one goes in', async () => {
    const first = await system().enqueue('test.keyedDrop', { reportId: 'd1', holdMs: 300 });
    const again = await system().enqueue('test.keyedDrop', { reportId: 'd1', holdMs: 0 });
    expect(again).toMatchObject({ deduplicated: true, job: { id: first.job.id } });
    const other = await system().enqueue('test.keyedDrop', { reportId: 'd2' });
    expect(other.deduplicated).toBe(false);
    await waitForJob(system(), first.job.id, 'COMPLETED');
    const later = await system().enqueue('test.keyedDrop', { reportId: 'd1' });
    expect(later.deduplicated).toBe(false);
    expect(later.job.id).not.toBe(first.job.id);
  });

  it('debounce: enqueues inside the window collapse into one job with the last input, which starts a window after the last', async () => {
    const answers = [];
    for (const edit of [1, 2, 3]) {
      answers.push(await system().enqueue('test.debounced', { reportId: 'b1', edit }));
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    const lastAt = Date.now() - 100;
    expect(new Set(answers.map((a) => a.job.id)).size).toBe(1);
    expect(answers.map((a) => a.deduplicated)).toEqual([false, true, true]);
    const done = await waitForJob(system(), answers[0]!.job.id, 'COMPLETED');
    expect(done.result).toEqual({ edit: 3 });
    expect(done.startedAt!.getTime()).toBeGreaterThanOrEqual(lastAt + 300);
    expect(await messages(done.id)).toEqual(expect.arrayContaining([expect.stringMatching(/^debounced: a later enqueue replaced the input/)]));
    const after = await system().enqueue('test.debounced', { reportId: 'b1', edit: 4 });
    expect(after.deduplicated).toBe(false);
  });

  it("fairness: a user's first job does not wait behind another user's backlog", async () => {
    const backlog = await system().enqueueMany(Array.from({ length: 150 }, () => ({ type: 'test.echo', input: { steps: 1, pauseMs: 20 }, opts: { createdBy: 'busy' } })));
    const late = await system().enqueueMany(Array.from({ length: 3 }, () => ({ type: 'test.echo', input: {}, opts: { createdBy: 'newcomer' } })));
    expect(late.map((l) => l.job.fairRank)).toEqual([0, 1, 2]);
    const first = await waitForJob(system(), late[0]!.job.id, 'COMPLETED', 30_000);
    const all = await Promise.all(backlog.map(({ job }) => waitForJob(system(), job.id, 'COMPLETED', 60_000)));
    const startedBefore = all.filter((job) => job.startedAt! < first.startedAt!).length;
    // What was running or already handed to the six slots, not the 150.
    expect(startedBefore).toBeLessThan(30);
  });
});
