/** A GraphQL request: what one enqueue sends. */
export interface LoadRequest {
  query: string;
  variables?: object;
}

export interface LoadOptions {
  /** The API's base URL, read for every request: the API may be replaced mid-load. */
  url: () => string;
  /** Requests to send in all. */
  total: number;
  /** Requests in flight at once. */
  clients: number;
  /** The mutation for request `i`; by default a countWords job of three one-word chunks. */
  mutation?: (i: number) => LoadRequest;
  /** Requests started per second across all clients; unset: as fast as answers come. */
  ratePerSecond?: number;
  /** Per request; default 10 s. */
  timeoutMs?: number;
}

export interface LoadResult {
  /** Job ids the API answered with: the jobs it promised to run. */
  accepted: string[];
  /** Requests that brought no job id (network, HTTP or GraphQL error). */
  errors: number;
  /** Up to 20 distinct error messages, GraphQL errors prefixed with their code. */
  errorSamples: string[];
  elapsedMs: number;
  sent: number;
}

export interface Load {
  done: Promise<LoadResult>;
  /** Starts nothing new; requests in flight still finish (they may be accepted). */
  stop(): void;
  /** Accepted job ids so far, updated live. */
  accepted: Set<string>;
}

const MAX_SAMPLES = 20;

const countWords = (): LoadRequest => ({
  query: 'mutation { countWords(input: { text: "one two three", chunkSize: 1, pauseMs: 0 }) { job { id } } }',
});

interface GraphQLBody {
  data?: Record<string, { job?: { id?: unknown } } | null> | null;
  errors?: { message?: string; extensions?: { code?: unknown } }[];
}

/**
 * Enqueues jobs over HTTP the way clients do, and keeps what the API promised: an id in an answer
 * is an accepted job, which the ledger must then complete. A failed request is counted, not
 * retried: a refused enqueue was never promised.
 */
export function startLoad(opts: LoadOptions): Load {
  const accepted = new Set<string>();
  const mutation = opts.mutation ?? countWords;
  const timeoutMs = opts.timeoutMs ?? 10_000;
  const spacingMs = opts.ratePerSecond ? 1_000 / opts.ratePerSecond : 0;
  const samples = new Set<string>();
  let errors = 0;
  let sent = 0;
  let next = 0;
  let nextSlot = Date.now();
  let stopped = false;
  let wake: () => void = () => {};
  const stopping = new Promise<void>((resolve) => (wake = resolve));

  const fail = (message: string) => {
    errors++;
    if (samples.size < MAX_SAMPLES) samples.add(message);
  };

  /** Waits for this request's slot under `ratePerSecond`; false if stopped meanwhile. */
  const pace = async (): Promise<boolean> => {
    if (!spacingMs) return !stopped;
    const now = Date.now();
    const slot = Math.max(now, nextSlot);
    nextSlot = slot + spacingMs;
    if (slot > now) {
      let timer: NodeJS.Timeout | undefined;
      await Promise.race([stopping, new Promise((resolve) => (timer = setTimeout(resolve, slot - now)))]);
      clearTimeout(timer);
    }
    return !stopped;
  };

  const send = async (i: number): Promise<void> => {
    const request = mutation(i);
    sent++;
    let response: Response;
    try {
      response = await fetch(`${opts.url()}/graphql`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify(request),
        signal: AbortSignal.timeout(timeoutMs),
      });
    } catch (error) {
      fail(describe(error));
      return;
    }
    let body: GraphQLBody;
    try {
      body = (await response.json()) as GraphQLBody;
    } catch (error) {
      fail(`HTTP ${response.status}: unreadable body (${describe(error)})`);
      return;
    }
    const id = Object.values(body.data ?? {}).find((payload) => typeof payload?.job?.id === 'string')?.job?.id;
    if (typeof id === 'string') {
      accepted.add(id);
      return;
    }
    const first = body.errors?.[0];
    if (first) fail(`${String(first.extensions?.code ?? 'NO_CODE')}: ${first.message ?? '(no message)'}`);
    else fail(`HTTP ${response.status}: no job id in the answer`);
  };

  const client = async (): Promise<void> => {
    while (!stopped && next < opts.total) {
      const i = next++;
      if (!(await pace())) return;
      await send(i);
    }
  };

  const started = Date.now();
  const done = Promise.all(Array.from({ length: Math.max(1, opts.clients) }, client)).then(() => ({
    accepted: [...accepted],
    errors,
    errorSamples: [...samples],
    elapsedMs: Date.now() - started,
    sent,
  }));

  return {
    done,
    accepted,
    stop: () => {
      stopped = true;
      wake();
    },
  };
}

/** A fetch failure's message with its cause ("fetch failed" alone says nothing). */
function describe(error: unknown): string {
  if (!(error instanceof Error)) return String(error);
  const cause = error.cause as { code?: string; message?: string } | undefined;
  const detail = cause ? ` (${cause.code ?? cause.message ?? String(cause)})` : '';
  return `${error.name}: ${error.message}${detail}`;
}
