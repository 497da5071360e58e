/**
 * The domain's errors as the job system needs them: an id that names nothing or a request that
 * cannot be done fails at once, clearly; a provider's Retry-After becomes the time of the retry;
 * output a model kept getting wrong fails at once (the client already asked again).
 */
import { LlmOutputError, LlmRateLimitedError } from '../domain/llm/index.ts';
import { NotFoundError, UnfitRequestError } from '../domain/run.ts';
import { NonRetryableError, RetryAtError } from '../jobs/errors.ts';
import type { FieldIssue } from '../lib/issues.ts';

export async function asJobErrors<T>(work: () => Promise<T>): Promise<T> {
  try {
    return await work();
  } catch (error) {
    if (error instanceof NotFoundError || error instanceof UnfitRequestError) throw new NonRetryableError(error.message, error.code, { cause: error });
    if (error instanceof LlmOutputError) throw new NonRetryableError(error.message, error.code, { cause: error });
    if (error instanceof LlmRateLimitedError) throw new RetryAtError(error.retryAt, error.message, error.code, { cause: error });
    throw error;
  }
}

/** An enqueue-time issue for each id field that names no row (`exists` answers for one id). */
export async function missing(fields: [path: string, id: string, exists: (id: string) => Promise<unknown>][]): Promise<FieldIssue[]> {
  const issues: FieldIssue[] = [];
  for (const [path, id, exists] of fields) {
    const found = await exists(id).catch(() => null); // a malformed uuid names nothing either
    if (!found) issues.push({ path: [path], message: `no ${path.replace(/Id$/, '')} with id ${id}` });
  }
  return issues;
}
