import { describe, expect, it } from 'vitest';
import { systemPerFile, waitFor, waitForJob } from '../helpers/system.ts';

/** A task declares its checkpoint's shape: a saved state that no longer fits is dropped, not crashed on. */
describe('checkpoints with a schema', () => {
  const { system: current } = systemPerFile();

  it('resumes from a checkpoint that fits', async () => {
    const system = current();
    const { job } = await system.enqueue('test.resumable', { to: 5, crashAt: 3 });
    expect(await waitForJob(system, job.id)).toMatchObject({ status: 'COMPLETED', attempt: 2, result: { resumedFrom: 2 } });
  });

  it('starts from scratch, saying why, when the saved checkpoint no longer fits (the task changed while the job was in flight)', async () => {
    const system = current();
    const { job } = await system.enqueue('test.resumable', { to: 5, crashAt: 3, retryAfterMs: 2_000 });
    await waitFor(() => system.getJob(job.id), (j) => j?.status === 'RETRYING', 10_000, 'the first attempt to stop');
    // What an earlier version of the task saved.
    await system.db.query(`UPDATE "Job" SET checkpoint = '{"done": "two of five"}'::jsonb WHERE id = $1`, [job.id]);
    const done = await waitForJob(system, job.id);
    expect(done).toMatchObject({ status: 'COMPLETED', attempt: 2, result: { resumedFrom: 0 } });
    const history = await system.events(job.id);
    expect(history.some((e) => e.kind === 'LOG' && /the saved checkpoint no longer fits the task \(done: .*\): starting from scratch/.test(e.message ?? ''))).toBe(true);
  });
});
