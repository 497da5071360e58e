/** Exponential backoff computed by the core, so every backend retries on the same schedule. */
export interface BackoffPolicy {
  /** Delay before the first retry; each later retry doubles it. */
  baseMs: number;
  /** Upper bound on one delay. */
  maxMs?: number;
}

/** Delay before running attempt `attempt + 1`, after attempt `attempt` (1-based) failed: base·2^(attempt-1). */
export function retryDelayMs(policy: BackoffPolicy, attempt: number): number {
  const delay = policy.baseMs * 2 ** Math.max(0, attempt - 1);
  return Math.min(delay, policy.maxMs ?? Number.MAX_SAFE_INTEGER);
}
