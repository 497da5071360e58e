import type { ExecutionResult } from 'graphql';
import type { Yoga } from '../../src/api/yoga.ts';

type Result<T = Record<string, unknown>> = ExecutionResult<T> & { errors?: { message: string; extensions?: Record<string, unknown>; path?: unknown[] }[] };

/** A GraphQL client over `yoga.fetch` (no listener), acting as the holder of `token`. */
export function client(yoga: Yoga, token?: string) {
  const headers = (extra: Record<string, string> = {}) => ({
    'content-type': 'application/json',
    ...(token ? { authorization: `Bearer ${token}` } : {}),
    ...extra,
  });
  return {
    async request<T = Record<string, any>>(query: string, variables?: Record<string, unknown>): Promise<Result<T> & { status: number }> {
      const body = JSON.stringify({ query, variables });
      const response = await yoga.fetch('http://yoga/graphql', { method: 'POST', headers: headers({ 'content-length': String(Buffer.byteLength(body)) }), body });
      return { status: response.status, ...((await response.json()) as Result<T>) };
    },
    /** Runs a subscription over SSE (`accept: text/event-stream`) and collects every result until it completes (or `until`); `onResult` sees each as it comes. */
    async subscribe<T = Record<string, any>>(
      query: string,
      variables?: Record<string, unknown>,
      opts: { until?: (r: Result<T>) => boolean; onResult?: (r: Result<T>) => void } = {},
    ): Promise<Result<T>[]> {
      const body = JSON.stringify({ query, variables });
      const controller = new AbortController();
      const response = await yoga.fetch('http://yoga/graphql', {
        method: 'POST',
        headers: headers({ accept: 'text/event-stream', 'content-length': String(Buffer.byteLength(body)) }),
        body,
        signal: controller.signal,
      });
      const results: Result<T>[] = [];
      const decoder = new TextDecoder();
      let buffer = '';
      try {
        for await (const chunk of response.body as unknown as AsyncIterable<Uint8Array>) {
          buffer += decoder.decode(chunk, { stream: true });
          let end: number;
          while ((end = buffer.indexOf('\n\n')) >= 0) {
            const message = buffer.slice(0, end);
            buffer = buffer.slice(end + 2);
            const event = /^event: (.*)$/m.exec(message)?.[1];
            const data = /^data: (.*)$/m.exec(message)?.[1];
            if (event === 'complete') return results;
            if (event === 'next' && data) {
              const result = JSON.parse(data) as Result<T>;
              results.push(result);
              opts.onResult?.(result);
              if (opts.until?.(result)) return results;
            }
          }
        }
        return results;
      } finally {
        controller.abort();
      }
    },
  };
}
