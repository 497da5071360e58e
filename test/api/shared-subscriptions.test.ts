/**
 * Shared subscriptions without services: a toy schema whose subscription reads a channel the test
 * drives, so a subscriber can be made slow (it does not pull) and the upstream can be counted.
 */
import type { ExecutionResult } from 'graphql';
import { createSchema, createYoga } from 'graphql-yoga';
import { describe, expect, it } from 'vitest';
import { useSharedSubscriptions } from '../../src/api/shared-subscriptions.ts';
import { useSseFrames } from '../../src/api/sse.ts';

interface State {
  status: string;
  progress: number;
}

/** An upstream the test writes to; records whether the hub stopped it. */
class Channel implements AsyncIterableIterator<State> {
  readonly #queue: State[] = [];
  #waiting: ((next: IteratorResult<State>) => void) | undefined;
  #ended = false;
  returned = false;

  push(state: State): void {
    if (this.#waiting) {
      this.#waiting({ done: false, value: state });
      this.#waiting = undefined;
    } else this.#queue.push(state);
  }
  end(): void {
    this.#ended = true;
    this.#waiting?.({ done: true, value: undefined });
  }
  next(): Promise<IteratorResult<State>> {
    const value = this.#queue.shift();
    if (value) return Promise.resolve({ done: false, value });
    if (this.#ended || this.returned) return Promise.resolve({ done: true, value: undefined });
    return new Promise((resolve) => (this.#waiting = resolve));
  }
  return(): Promise<IteratorResult<State>> {
    this.returned = true;
    this.#waiting?.({ done: true, value: undefined });
    return Promise.resolve({ done: true, value: undefined });
  }
  [Symbol.asyncIterator](): this {
    return this;
  }
}

const QUERY = 'subscription ($id: ID!) { state(id: $id) { status progress } }';

function setup() {
  const channels: Channel[] = [];
  const plugin = useSharedSubscriptions<{ viewer?: string }>({
    fields: { state: { transient: ['progress'] } },
    viewerKey: (context) => context.viewer,
  });
  const yoga = createYoga<{ viewer?: string }>({
    schema: createSchema({
      typeDefs: `type Query { ok: Boolean } type State { status: String! progress: Int! }
        type Subscription { state(id: ID!): State! }`,
      resolvers: {
        Subscription: {
          state: {
            subscribe: () => {
              const channel = new Channel();
              channels.push(channel);
              return channel;
            },
            resolve: (state: State) => state,
          },
        },
      },
    }),
    // Over HTTP the viewer comes from a header; getEnveloped({ viewer }) passes it directly.
    context: ({ request, viewer }) => ({ viewer: viewer ?? request?.headers.get('x-viewer') ?? undefined }),
    plugins: [plugin, useSseFrames()],
  });
  async function subscribe(viewer: string | undefined, id = '1'): Promise<AsyncIterableIterator<ExecutionResult<{ state: State }>>> {
    const { subscribe, contextFactory, parse, schema } = yoga.getEnveloped({ viewer });
    const result = await subscribe({ schema, document: parse(QUERY), contextValue: await contextFactory(), variableValues: { id } });
    return result as AsyncIterableIterator<ExecutionResult<{ state: State }>>;
  }
  return { channels, plugin, subscribe, yoga };
}

const settle = () => new Promise((resolve) => setTimeout(resolve, 10));

async function drain(iterator: AsyncIterator<ExecutionResult<{ state: State }>>): Promise<string[]> {
  const seen: string[] = [];
  for (let next = await iterator.next(); !next.done; next = await iterator.next()) {
    seen.push(`${next.value.data!.state.status}:${next.value.data!.state.progress}`);
  }
  return seen;
}

describe('shared subscriptions', () => {
  it('runs one upstream for subscribers of one key; a slow one gets the latest progress, every status change in order, then the end', async () => {
    const { channels, plugin, subscribe } = setup();
    const fast = await subscribe('alice');
    const slow = await subscribe('alice');
    expect(channels).toHaveLength(1);
    expect(plugin.hubs()).toBe(1);

    const fastSeen = drain(fast);
    const [channel] = channels;
    for (const state of [
      { status: 'RUNNING', progress: 10 },
      { status: 'RUNNING', progress: 20 },
      { status: 'RETRYING', progress: 20 },
      { status: 'RUNNING', progress: 30 },
      { status: 'RUNNING', progress: 40 },
      { status: 'COMPLETED', progress: 100 },
    ]) {
      channel!.push(state);
      await settle();
    }
    channel!.end();

    expect(await fastSeen).toEqual(['RUNNING:10', 'RUNNING:20', 'RETRYING:20', 'RUNNING:30', 'RUNNING:40', 'COMPLETED:100']);
    // The slow one pulled nothing meanwhile: progress of one status collapsed to its latest.
    expect(await drain(slow)).toEqual(['RUNNING:20', 'RETRYING:20', 'RUNNING:40', 'COMPLETED:100']);
    expect(plugin.hubs()).toBe(0);
  });

  it('a late subscriber starts from the latest result; the last to leave stops the upstream; the next one starts anew', async () => {
    const { channels, plugin, subscribe } = setup();
    const first = await subscribe('alice');
    channels[0]!.push({ status: 'RUNNING', progress: 10 });
    expect((await first.next()).value?.data?.state).toEqual({ status: 'RUNNING', progress: 10 });
    channels[0]!.push({ status: 'RUNNING', progress: 20 });
    await settle();

    const late = await subscribe('alice');
    expect((await late.next()).value?.data?.state).toEqual({ status: 'RUNNING', progress: 20 });
    expect((await first.next()).value?.data?.state).toEqual({ status: 'RUNNING', progress: 20 });

    await first.return?.();
    expect(channels[0]!.returned).toBe(false);
    await late.return?.();
    expect(channels[0]!.returned).toBe(true);
    expect(plugin.hubs()).toBe(0);

    await subscribe('alice');
    expect(channels).toHaveLength(2);
  });

  it('shares nothing between viewers, variables, or anonymous callers', async () => {
    const { channels, subscribe } = setup();
    await subscribe('alice');
    await subscribe('bob');
    await subscribe('alice', '2');
    await subscribe(undefined);
    await subscribe(undefined);
    expect(channels).toHaveLength(5);
  });

  it('over SSE: the same frames as yoga writes, `complete` at the end, and a client that goes away stops the upstream', async () => {
    const { channels, plugin, yoga } = setup();
    const open = async () => {
      const body = JSON.stringify({ query: QUERY, variables: { id: '1' } });
      const response = await yoga.fetch('http://yoga/graphql', {
        method: 'POST',
        headers: { 'content-type': 'application/json', accept: 'text/event-stream', 'x-viewer': 'alice' },
        body,
      });
      expect(response.headers.get('content-type')).toBe('text/event-stream');
      const reader = (response.body as unknown as AsyncIterable<Uint8Array>)[Symbol.asyncIterator]();
      let text = '';
      const until = async (end: string) => {
        while (!text.includes(end)) text += Buffer.from((await reader.next()).value!).toString();
        return text;
      };
      // A client that stops reading cancels the body (over a socket: the socket closes).
      return { until, close: () => void reader.return?.() };
    };
    const [a, b] = [await open(), await open()];
    await settle();
    channels[0]!.push({ status: 'RUNNING', progress: 10 });
    const frame = 'event: next\ndata: {"data":{"state":{"status":"RUNNING","progress":10}}}\n\n';
    expect(await a.until(frame)).toBe(`:\n\n${frame}`);
    expect(await b.until(frame)).toBe(`:\n\n${frame}`);

    a.close();
    channels[0]!.push({ status: 'COMPLETED', progress: 100 });
    channels[0]!.end();
    expect(await b.until('event: complete')).toMatch(/"COMPLETED".*\n\nevent: complete\ndata:\n\n$/s);
    expect(plugin.hubs()).toBe(0);

    const c = await open();
    await settle();
    expect(channels).toHaveLength(2);
    c.close();
    await settle();
    expect(channels[1]!.returned).toBe(true);
    expect(plugin.hubs()).toBe(0);
  });
});
