import { z } from 'zod';
import { selectSamples as select } from '../domain/sampling.ts';
import { defineTask } from '../jobs/task.ts';
import { asJobErrors, unknownIds } from './domain-errors.ts';
import { scopeTags } from './tags.ts';

/** SAMPLE_SELECTION: a reproducible sample of a dataset's records for the report's tests. */
export const selectSamples = defineTask({
  name: 'sampling.selectSamples',
  phase: 'SAMPLE_SELECTION',
  description: 'Selects records of a dataset for testing: RANDOM, STRATIFIED or RISK_BASED; the same seed and data give the same rows and checksum.',
  input: z.object({
    reportId: z.string(),
    datasetId: z.string(),
    size: z.number().int().min(1).max(100_000),
    method: z.enum(['RANDOM', 'STRATIFIED', 'RISK_BASED']).meta({ title: 'SampleMethod', description: 'how records are chosen' }),
    seed: z.number().int().min(0).max(2_147_483_647).default(1),
    stratifyBy: z.string().optional().describe('STRATIFIED: the column whose values are the strata (default: the first code column)'),
  }),
  maxAttempts: 3,
  timeoutMs: 10 * 60_000,
  tags: scopeTags,
  check: ({ reportId, datasetId }, { db }) => unknownIds(db, { reportId, datasetId }),
  handler: (input, ctx) => asJobErrors(() => select(ctx.db, ctx.sql, input, ctx)),
});
