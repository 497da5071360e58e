/**
 * A budget the LLM client spends before each HTTP call and pauses when the provider says to wait:
 * the deployment's shared `llm` limit (src/tasks/deps.ts makes one of the core's limits), so all
 * worker processes together keep to the provider's requests and tokens per minute.
 */
export interface CallBudget {
  /** Waits until a call of about `tokens` tokens may go. */
  take(tokens: number, signal?: AbortSignal): Promise<CallPermit>;
  /** The provider said to come back in `forMs`: no one calls before then. */
  pause(forMs: number, reason: string): Promise<void>;
}

export interface CallPermit {
  /** The call is over: settles what it used (when the provider said); never throws. */
  done(usedTokens?: number): Promise<void>;
}

/**
 * About how many tokens a prompt is, before the provider counts it: a token is about four
 * characters of English (OpenAI's rule of thumb); the provider's count replaces it afterwards.
 */
export function estimateTokens(texts: readonly string[]): number {
  return Math.ceil(texts.reduce((sum, text) => sum + text.length, 0) / 4);
}
