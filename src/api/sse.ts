import { Readable } from 'node:stream';
import type { ExecutionResult } from 'graphql';
import type { Plugin } from 'graphql-yoga';

/**
 * Subscriptions over SSE (`accept: text/event-stream`, yoga's "distinct connections" mode), framed
 * once per result rather than once per subscriber.
 *
 * Yoga's own SSE writer stringifies and encodes every result for every subscriber, and passes each
 * through a web ReadableStream. When a result is shared by many subscribers (shared-subscriptions.ts),
 * its frame (`event: next`, `data: <json>`) is the same bytes for all of them: this writer makes the
 * frame once per result object and pushes that Buffer into a Node Readable, which the HTTP layer
 * pipes to the socket. The stream is what yoga writes: a `:` comment first and every 12 s, a frame
 * per result, then `event: complete`.
 *
 * Only streams (async iterable results) go this way; a single result (an error before the stream
 * started) and the multipart protocol stay with yoga's writers.
 */
export function useSseFrames(opts: { pingMs?: number } = {}): Plugin {
  const pingMs = opts.pingMs ?? (process.env.NODE_ENV === 'test' ? 300 : 12_000);
  return {
    onResultProcess({ request, result, setResultProcessor }) {
      if (!isAsyncIterable(result)) return;
      const accept = request.headers.get('accept') ?? '';
      if (!accept.includes('text/event-stream') || accept.includes('multipart/mixed')) return;
      setResultProcessor(
        (stream, fetchAPI) =>
          new fetchAPI.Response(sseReadable(stream as AsyncIterable<ExecutionResult>, pingMs) as unknown as BodyInit, {
            status: 200,
            headers: {
              'Content-Type': 'text/event-stream',
              Connection: 'keep-alive',
              'Cache-Control': 'no-cache',
              'Content-Encoding': 'none',
            },
          }),
        'text/event-stream',
      );
    },
  };
}

const PING = Buffer.from(':\n\n');
const COMPLETE = Buffer.from('event: complete\ndata:\n\n');
/** Each result's frame, made on first use: the results a hub shares are one object for all. */
const frames = new WeakMap<object, Buffer>();

function frameOf(result: ExecutionResult): Buffer {
  let frame = frames.get(result);
  if (!frame) {
    frame = Buffer.from(`event: next\ndata: ${stringify(result)}\n\n`);
    frames.set(result, frame);
  }
  return frame;
}

/** What yoga's writer sends for a result: errors without their internal extensions (`http`, `unexpected`). */
function stringify(result: ExecutionResult): string {
  if (!result.errors?.length && !result.extensions?.http) return JSON.stringify(result);
  const { http: _http, ...extensions } = result.extensions ?? {};
  return JSON.stringify({
    ...result,
    errors: result.errors?.map((error) => {
      const json = error.toJSON();
      const { http: _h, unexpected: _u, ...rest } = json.extensions ?? {};
      return { ...json, extensions: Object.keys(rest).length ? rest : undefined };
    }),
    extensions: Object.keys(extensions).length ? extensions : undefined,
  });
}

/** The stream's bytes, pulled from the results as the socket takes them. */
function sseReadable(results: AsyncIterable<ExecutionResult>, pingMs: number): Readable {
  const iterator = results[Symbol.asyncIterator]();
  let reading = false;
  const readable: Readable = new Readable({
    read() {
      if (reading) return;
      reading = true;
      const pull = (): void => {
        iterator.next().then(
          (next) => {
            if (readable.destroyed) return;
            if (next.done) {
              clearInterval(ping);
              readable.push(COMPLETE);
              readable.push(null);
              return;
            }
            // Keep pulling while the socket takes more; otherwise wait for the next read().
            if (readable.push(frameOf(next.value))) pull();
            else reading = false;
          },
          (error: unknown) => readable.destroy(error as Error),
        );
      };
      pull();
    },
    destroy(error, callback) {
      clearInterval(ping);
      void Promise.resolve(iterator.return?.()).catch(() => {});
      callback(error);
    },
  });
  // Some browsers wait for a first byte before they show the stream; proxies close quiet ones.
  readable.push(PING);
  const ping = setInterval(() => {
    if (readable.readableLength === 0) readable.push(PING);
  }, pingMs);
  ping.unref();
  return readable;
}

function isAsyncIterable(value: unknown): value is AsyncIterable<unknown> {
  return typeof value === 'object' && value !== null && Symbol.asyncIterator in value;
}
