import { z } from 'zod';
import { discardTestRun, executeTests as execute, testStateSchema } from '../domain/testing.ts';
import { JobAbortedError } from '../jobs/errors.ts';
import { defineTask } from '../jobs/task.ts';
import { asJobErrors, unknownIds } from './domain-errors.ts';
import { scopeTags } from './tags.ts';

/** TEST_EXECUTION: the report's rules against its samples; resumes from its checkpoint; a cancelled run leaves nothing. */
export const executeTests = defineTask({
  name: 'testing.executeTests',
  phase: 'TEST_EXECUTION',
  description: "Runs the report's rules against its samples of a dataset and records every result.",
  input: z.object({ reportId: z.string(), datasetId: z.string() }),
  maxAttempts: 5,
  backoff: { baseMs: 5_000 },
  timeoutMs: 60 * 60_000,
  // Two runs of one report's tests at once would race on its results: one at a time, in turn.
  concurrencyKey: { key: ({ reportId }) => reportId, limit: 1, policy: 'queue' },
  checkpoint: testStateSchema,
  tags: scopeTags,
  check: ({ reportId, datasetId }, { db }) => unknownIds(db, { reportId, datasetId }),
  async handler({ reportId, datasetId }, ctx) {
    try {
      return await asJobErrors(() =>
        execute(ctx.db, ctx.jobId, reportId, datasetId, ctx),
      );
    } catch (error) {
      // Cancelled: the run's results so far go too. Stopped otherwise (timeout, shutdown): kept, the retry resumes.
      if (ctx.signal.aborted && ctx.signal.reason instanceof JobAbortedError && ctx.signal.reason.reason === 'cancel') {
        await discardTestRun(ctx.db, ctx.jobId);
      }
      throw error;
    }
  },
});
