import type { AnswerOf, LlmRequest } from './requests.ts';

/** How an answer was made: by a language model, or by the offline heuristic. */
export type LlmMethod = 'LLM' | 'HEURISTIC';

export interface LlmUsage {
  promptTokens: number;
  completionTokens: number;
}

export interface LlmAnswer<T> {
  value: T;
  method: LlmMethod;
  /** The model that answered ("heuristic" for the heuristic client). */
  model: string;
  usage: LlmUsage;
}

/**
 * Answers the workflow's requests (requests.ts) with JSON that fits each request's schema, or
 * throws: LlmRateLimitedError when the provider says when to come back, LlmOutputError when its
 * answers did not fit after the retries.
 */
export interface LlmClient {
  readonly method: LlmMethod;
  complete<R extends LlmRequest>(request: R, opts?: { signal?: AbortSignal }): Promise<LlmAnswer<AnswerOf<R>>>;
}
