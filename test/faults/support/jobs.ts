import type { LoadRequest } from './load.ts';

/** A job of five chunks, `pauseMs` apart: long enough that a fault meets it running. */
export function slowJob(pauseMs = 100): () => LoadRequest {
  return () => ({ query: `mutation { countWords(input: { text: "a b c d e", chunkSize: 1, pauseMs: ${pauseMs} }) { job { id } } }` });
}

/** One enqueue over HTTP; true if the API answered with a job id. */
export async function enqueueOnce(apiUrl: string, timeoutMs = 5_000): Promise<boolean> {
  try {
    const response = await fetch(`${apiUrl}/graphql`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(slowJob(0)()),
      signal: AbortSignal.timeout(timeoutMs),
    });
    const body = (await response.json()) as { data?: { countWords?: { job?: { id?: string } } } };
    return typeof body.data?.countWords?.job?.id === 'string';
  } catch {
    return false;
  }
}
