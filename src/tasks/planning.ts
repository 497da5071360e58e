import { z } from 'zod';
import { generateAttributes, regenerateMappings } from '../domain/planning.ts';
import { defineTask } from '../jobs/task.ts';
import { asJobErrors, unknownIds } from './domain-errors.ts';
import { scopeTags } from './tags.ts';

const reportInput = z.object({ reportId: z.string().describe('the report (reports { id })') });

/** PLANNING: the LLM proposes the report's attributes from its description and the data catalog. */
export const generateLlmAttributes = defineTask({
  name: 'planning.generateLlmAttributes',
  phase: 'PLANNING',
  description: "Proposes the report's attributes from its description and the data catalog (LLM, or the offline heuristic).",
  input: reportInput,
  maxAttempts: 3,
  backoff: { baseMs: 10_000 },
  timeoutMs: 10 * 60_000,
  tags: scopeTags,
  check: ({ reportId }, { db }) => unknownIds(db, { reportId }),
  handler: ({ reportId }, ctx) => asJobErrors(() => generateAttributes(ctx.db, ctx.deps.llm, reportId, ctx)),
});

/** PLANNING: per attribute, the data elements that hold it; the report's mappings replaced at once. */
export const regeneratePdeMappings = defineTask({
  name: 'planning.regeneratePdeMappings',
  phase: 'PLANNING',
  description: "Maps each of the report's attributes to the physical data elements that hold it, replacing the old mappings at once.",
  input: reportInput,
  maxAttempts: 3,
  backoff: { baseMs: 10_000 },
  timeoutMs: 30 * 60_000,
  // Regenerated after each of several edits of a report's attributes: once, 2 s after the last.
  debounce: { key: ({ reportId }) => reportId, window: '2s' },
  tags: scopeTags,
  check: ({ reportId }, { db }) => unknownIds(db, { reportId }),
  handler: ({ reportId }, ctx) => asJobErrors(() => regenerateMappings(ctx.db, ctx.deps.llm, reportId, ctx)),
});
