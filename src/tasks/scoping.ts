import { z } from 'zod';
import { generateRecommendations } from '../domain/scoping.ts';
import { defineTask } from '../jobs/task.ts';
import { asJobErrors, unknownIds } from './domain-errors.ts';
import { scopeTags } from './tags.ts';

/** SCOPING: the LLM scores each attribute's risk and recommends whether testing covers it. */
export const generateScopingRecommendations = defineTask({
  name: 'scoping.generateScopingRecommendations',
  phase: 'SCOPING',
  description: "Scores each attribute's risk and recommends IN_SCOPE or OUT_OF_SCOPE with a rationale.",
  input: z.object({ reportId: z.string() }),
  maxAttempts: 3,
  backoff: { baseMs: 10_000 },
  timeoutMs: 30 * 60_000,
  tags: scopeTags,
  check: ({ reportId }, { db }) => unknownIds(db, { reportId }),
  handler: ({ reportId }, ctx) => asJobErrors(() => generateRecommendations(ctx.db, ctx.deps.llm, reportId, ctx)),
});
