import { Semaphore } from '../../lib/semaphore.ts';
import type { LlmAnswer, LlmClient } from './client.ts';
import type { AnswerOf, LlmRequest } from './requests.ts';

/**
 * `client` with at most `n` calls in flight (LLM_CONCURRENCY per worker process): a local model
 * serves a few requests at once, and a hosted one rate-limits a burst. Callers wait in arrival
 * order; one whose signal aborts while waiting leaves the queue at once.
 */
export function limitConcurrency(client: LlmClient, n: number): LlmClient {
  if (!Number.isInteger(n) || n < 1) throw new RangeError(`LLM concurrency must be a whole number of at least 1, not ${n}`);
  const semaphore = new Semaphore(n);
  return {
    method: client.method,
    async complete<R extends LlmRequest>(request: R, opts?: { signal?: AbortSignal }): Promise<LlmAnswer<AnswerOf<R>>> {
      const release = await acquire(semaphore, opts?.signal);
      try {
        return await client.complete(request, opts);
      } finally {
        release();
      }
    },
  };
}

async function acquire(semaphore: Semaphore, signal: AbortSignal | undefined): Promise<() => void> {
  signal?.throwIfAborted();
  const slot = semaphore.acquire();
  if (!signal) return slot;
  let onAbort: (() => void) | undefined;
  const aborted = new Promise<never>((_, reject) => {
    onAbort = () => reject(signal.reason);
    signal.addEventListener('abort', onAbort, { once: true });
  });
  try {
    return await Promise.race([slot, aborted]);
  } catch (error) {
    // The semaphore cannot forget a waiter: pass its slot on as soon as it comes.
    void slot.then((release) => release());
    throw error;
  } finally {
    signal.removeEventListener('abort', onAbort!);
  }
}
