import { z } from 'zod';
import { profileDataset as profile, profileStateSchema } from '../domain/profiling.ts';
import { generateRules } from '../domain/profiling-rules.ts';
import { defineTask } from '../jobs/task.ts';
import { asJobErrors, unknownIds } from './domain-errors.ts';
import { scopeTags } from './tags.ts';

/** DATA_PROFILING: the LLM proposes data-quality rules for each attribute. */
export const generateProfilingRules = defineTask({
  name: 'profiling.generateProfilingRules',
  phase: 'DATA_PROFILING',
  description: "Proposes data-quality rules for each of the report's attributes, on the column it is mapped to.",
  input: z.object({ reportId: z.string() }),
  maxAttempts: 3,
  backoff: { baseMs: 10_000 },
  timeoutMs: 30 * 60_000,
  tags: scopeTags,
  check: ({ reportId }, { db }) => unknownIds(db, { reportId }),
  handler: ({ reportId }, ctx) => asJobErrors(() => generateRules(ctx.db, ctx.deps.llm, reportId, ctx)),
});

/** DATA_PROFILING: one streamed pass over a dataset; resumes from its checkpoint after a lost worker or a timeout. */
export const profileDataset = defineTask({
  name: 'profiling.profileDataset',
  phase: 'DATA_PROFILING',
  description: 'Streams a whole dataset and computes per-column statistics: nulls, distinct estimate, min/max, mean, top values, patterns.',
  input: z.object({ datasetId: z.string() }),
  maxAttempts: 5,
  backoff: { baseMs: 5_000 },
  timeoutMs: 60 * 60_000,
  concurrency: 2,
  checkpoint: profileStateSchema,
  tags: scopeTags,
  check: ({ datasetId }, { db }) => unknownIds(db, { datasetId }),
  handler: ({ datasetId }, ctx) => asJobErrors(() => profile(ctx.db, ctx.sql, datasetId, ctx)),
});
