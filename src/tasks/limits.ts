/**
 * The shared limits the application declares; LIMITS sets their budgets per deployment
 * (`LIMITS=llm:requests=500/1m,tokens=200000/1m`). Unset, `llm` bounds nothing but still carries a
 * provider's Retry-After to every process.
 */
import { defineLimit } from '../jobs/limits/definition.ts';

export const llmLimit = defineLimit({
  name: 'llm',
  description: 'Calls to the LLM provider (LLM_BASE_URL), from every worker process: one request per HTTP call, its prompt and answer as tokens.',
});

export const appLimits = [llmLimit];
