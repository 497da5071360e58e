import { z } from 'zod';
import { defineWorkflow } from '../jobs/runs/workflow.ts';
import { generateLlmAttributes, regeneratePdeMappings } from './planning.ts';
import { generateProfilingRules, profileDataset } from './profiling.ts';
import { selectSamples } from './sampling.ts';
import { generateScopingRecommendations } from './scoping.ts';
import { executeTests } from './testing.ts';
import { unknownIds } from './domain-errors.ts';

/**
 * A report's testing as one run: the phases in order, a reviewer's sign-off on the scoping before
 * samples are drawn, the three preparations of the test run side by side (a group), the tests once
 * all three are done (a chord), and a sign-off on the results.
 *
 *   attributes → mappings → scoping → scopingSignOff ─┬─ samples ─────────┬─ tests → resultsSignOff
 *                                                     ├─ profilingRules ──┤
 *                                                     └─ datasetProfile ──┘
 */
export const reportTesting = defineWorkflow('reportTesting', {
  description: "A report's testing: planning, scoping and its sign-off, samples, profiling, the tests and their sign-off.",
  input: z.object({
    reportId: z.string(),
    datasetId: z.string(),
    sampling: z.object({
      size: z.number().int().min(1).max(100_000),
      method: z.enum(['RANDOM', 'STRATIFIED', 'RISK_BASED']),
      seed: z.number().int().min(0).max(2_147_483_647).default(1),
    }),
  }),
  check: ({ reportId, datasetId }, { db }) => unknownIds(db, { reportId, datasetId }),
})
  .step('attributes', generateLlmAttributes, { input: (run) => ({ reportId: run.reportId }) })
  .step('mappings', regeneratePdeMappings, { after: ['attributes'], input: (run) => ({ reportId: run.reportId }) })
  .step('scoping', generateScopingRecommendations, { after: ['mappings'], input: (run) => ({ reportId: run.reportId }) })
  .gate('scopingSignOff', { after: ['scoping'], description: 'A reviewer signs off the scope before samples are drawn.' })
  .step('samples', selectSamples, {
    after: ['scopingSignOff'],
    input: (run) => ({ reportId: run.reportId, datasetId: run.datasetId, ...run.sampling }),
  })
  .step('profilingRules', generateProfilingRules, { after: ['scopingSignOff'], input: (run) => ({ reportId: run.reportId }) })
  .step('datasetProfile', profileDataset, { after: ['scopingSignOff'], input: (run) => ({ datasetId: run.datasetId }) })
  .step('tests', executeTests, {
    after: ['samples', 'profilingRules', 'datasetProfile'],
    input: (run) => ({ reportId: run.reportId, datasetId: run.datasetId }),
  })
  .gate('resultsSignOff', { after: ['tests'], description: 'A reviewer signs off the results before the report is closed.' })
  .build();
