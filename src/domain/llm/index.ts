/**
 * The LLM client of the workflow: a model behind an OpenAI-compatible endpoint when one is
 * configured (spending `budget`, the deployment's shared limit, per call), the offline heuristic
 * otherwise; either way at most LLM_CONCURRENCY calls at once in this process.
 */
import type { LlmClient } from './client.ts';
import { createHeuristicClient } from './heuristic.ts';
import { limitConcurrency } from './limited.ts';
import { createOpenAiClient } from './openai.ts';
import type { CallBudget } from './budget.ts';

export type { LlmAnswer, LlmClient, LlmMethod, LlmUsage } from './client.ts';
export type { CallBudget, CallPermit } from './budget.ts';
export { LlmOutputError, LlmRateLimitedError, LlmUnavailableError } from './errors.ts';
export * from './requests.ts';

export interface LlmSettings {
  LLM_BASE_URL?: string | undefined;
  LLM_API_KEY?: string | undefined;
  LLM_MODEL?: string | undefined;
  LLM_CONCURRENCY: number;
}

export function createLlmClient(settings: LlmSettings, budget?: CallBudget): LlmClient {
  const baseUrl = settings.LLM_BASE_URL?.trim();
  if (!baseUrl) return limitConcurrency(createHeuristicClient(), settings.LLM_CONCURRENCY);
  const model = settings.LLM_MODEL?.trim();
  // A silent default model would answer with whatever the endpoint happens to have: refuse instead.
  if (!model) throw new Error(`LLM_MODEL must be set when LLM_BASE_URL is (${baseUrl}): name the model to ask, e.g. "llama3.1:8b" or "gpt-4o-mini"`);
  const apiKey = settings.LLM_API_KEY?.trim();
  return limitConcurrency(createOpenAiClient({ baseUrl, model, ...(apiKey ? { apiKey } : {}), ...(budget ? { budget } : {}) }), settings.LLM_CONCURRENCY);
}
