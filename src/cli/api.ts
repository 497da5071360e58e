import type * as GraphqlSse from 'graphql-sse';
import { ApiError } from './errors.ts';

/**
 * The CLI's only way to the job system: GraphQL over HTTP (queries and mutations, a POST each)
 * and GraphQL over SSE for subscriptions (graphql-sse's client in its "distinct connections"
 * mode: one streaming POST to the same /graphql URL per subscription, which yoga answers
 * natively). It imports nothing of the server: the schema it relies on is schema.graphql.
 */

/** A GraphQL error as the API sends it (yoga; codes and input paths in `extensions`). */
export interface GraphQLErrorJson {
  message: string;
  path?: readonly (string | number)[];
  extensions?: {
    code?: string;
    /** One input field the error is about (`type`, `first`, …). */
    field?: string;
    /** Input validation issues, each at a dotted path (`input.text`). */
    issues?: { path: string; message: string }[];
  };
}

/** A GraphQL response, over HTTP or as one event of a stream. */
interface GraphQLResponse<T> {
  data?: T | null;
  errors?: GraphQLErrorJson[];
}

const REQUEST_TIMEOUT_MS = 30_000;

let sseClient: Promise<Pick<typeof GraphqlSse, 'createClient'>> | undefined;

/**
 * graphql-sse's client, loaded at the first subscription: a command that only asks does not load
 * it. Its package entry also exports the server's handler, which loads graphql (some 130 modules,
 * about 55 ms of a start) that the client never calls; lib/client.mjs beside the entry is the
 * client alone, but the package's exports do not list it, hence the path. Should a release move
 * it, the entry serves as before (and test/cli/start.test.ts says graphql is loaded again).
 */
function loadSseClient(): Promise<Pick<typeof GraphqlSse, 'createClient'>> {
  return (sseClient ??= (import(new URL('client.mjs', import.meta.resolve('graphql-sse')).href) as Promise<typeof GraphqlSse>).catch(
    () => import('graphql-sse'),
  ));
}

export class ApiClient {
  readonly url: string;
  readonly token: string | undefined;
  constructor(url: string, token: string | undefined) {
    this.url = url;
    this.token = token;
  }

  #headers(): Record<string, string> {
    return this.token ? { authorization: `Bearer ${this.token}` } : {};
  }

  /** Runs a query or mutation; resolves with its `data`, or throws an ApiError that says why not. */
  async request<T>(query: string, variables: Record<string, unknown> = {}): Promise<T> {
    const response = await this.#fetch(this.url, {
      method: 'POST',
      headers: {
        ...this.#headers(),
        'content-type': 'application/json',
        accept: 'application/graphql-response+json, application/json',
      },
      body: JSON.stringify({ query, variables }),
      signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS),
    });
    const body = await readJson(response);
    if (body === undefined) throw this.#notGraphQL(response);
    const result = body as GraphQLResponse<T>;
    if (result.errors?.length) throw errorFromGraphQL(result.errors, response.status);
    if (!response.ok) throw httpError(this.url, response);
    if (!result.data) throw new ApiError('protocol', `the API at ${this.url} answered without data or errors`);
    return result.data;
  }

  /**
   * Follows a subscription: yields each result's `data` until the server completes the stream.
   * GraphQL errors in the stream are thrown as ApiError; so is a connection that cannot be made
   * or is lost (`unreachable`), for the caller to decide whether to subscribe again.
   */
  async *subscribe<T>(query: string, variables: Record<string, unknown>): AsyncGenerator<T> {
    // graphql-sse wraps whatever its fetch throws in a NetworkError: keep ours to throw it as is.
    let refused: ApiError | undefined;
    const { createClient } = await loadSseClient();
    const client = createClient({
      url: this.url,
      headers: this.#headers(),
      // Reconnecting is the caller's decision: it knows whether the job has ended meanwhile.
      retryAttempts: 0,
      fetchFn: (input: string, init?: RequestInit) =>
        this.#sseFetch(input, init).catch((error: unknown) => {
          if (error instanceof ApiError) refused = error;
          throw error;
        }),
    });
    const results = client.iterate({ query, variables }) as AsyncIterableIterator<GraphQLResponse<T>>;
    try {
      for (;;) {
        let next: IteratorResult<GraphQLResponse<T>>;
        try {
          next = await results.next();
        } catch (error) {
          throw refused ?? this.#streamError(error);
        }
        if (next.done) return;
        if (next.value.errors?.length) throw errorFromGraphQL(next.value.errors);
        if (next.value.data) yield next.value.data;
      }
    } finally {
      await results.return?.();
      client.dispose();
    }
  }

  /**
   * graphql-sse's fetch: yoga answers a refused subscription (401/403) with an event stream whose
   * first event is the GraphQL error, but graphql-sse drops any response that is not 2xx, and the
   * message with it. Hand it over as a 200 so the error event reaches `subscribe`; anything that
   * is not an event stream is interpreted as `request` does.
   */
  async #sseFetch(input: string, init?: RequestInit): Promise<Response> {
    const response = await this.#fetch(input, init ?? {});
    const type = response.headers.get('content-type') ?? '';
    if (type.includes('text/event-stream')) {
      return response.ok ? response : new Response(response.body, { status: 200, headers: response.headers });
    }
    const body = await readJson(response);
    const errors = (body as GraphQLResponse<unknown> | undefined)?.errors;
    if (errors?.length) throw errorFromGraphQL(errors, response.status);
    throw this.#notGraphQL(response);
  }

  /** fetch, with "no answer at all" turned into an `unreachable` ApiError naming the cause. */
  async #fetch(url: string, init: RequestInit): Promise<Response> {
    try {
      return await fetch(url, init);
    } catch (error) {
      if (init.signal?.aborted && !(init.signal.reason instanceof DOMException && init.signal.reason.name === 'TimeoutError')) throw error;
      throw unreachable(this.url, error);
    }
  }

  #streamError(error: unknown): unknown {
    if (error instanceof ApiError) return error;
    // graphql-sse's NetworkError (a stream cut short, a failed read) and plain read errors.
    const cause = error instanceof Error ? (error.cause ?? error) : error;
    return unreachable(this.url, cause, 'the connection was lost');
  }

  #notGraphQL(response: Response): ApiError {
    if (response.status === 401 || response.status === 403) return httpError(this.url, response);
    const type = response.headers.get('content-type')?.split(';')[0] ?? 'no content type';
    return new ApiError(
      'protocol',
      `the server at ${this.url} answered HTTP ${response.status} ${response.statusText} (${type}), not GraphQL; is --url the jobgraph API's /graphql endpoint?`,
    );
  }
}

async function readJson(response: Response): Promise<unknown> {
  const type = response.headers.get('content-type') ?? '';
  if (!/json/i.test(type)) {
    await response.body?.cancel().catch(() => {});
    return undefined;
  }
  try {
    return await response.json();
  } catch {
    return undefined;
  }
}

function httpError(url: string, response: Response): ApiError {
  if (response.status === 401 || response.status === 403) {
    return new ApiError('auth', `the API at ${url} refused the request (HTTP ${response.status} ${response.statusText}); check --token or JOBGRAPH_TOKEN`);
  }
  return new ApiError('protocol', `the API at ${url} answered HTTP ${response.status} ${response.statusText}`);
}

/** Why a request got no answer, in words: the error codes Node's fetch (undici) puts in `cause`. */
const NETWORK_CAUSES: Record<string, string> = {
  ECONNREFUSED: 'connection refused',
  ENOTFOUND: 'unknown host',
  EAI_AGAIN: 'the host name could not be resolved',
  ETIMEDOUT: 'the connection timed out',
  EHOSTUNREACH: 'the host is unreachable',
  ENETUNREACH: 'the network is unreachable',
  ECONNRESET: 'the connection was reset',
  EPIPE: 'the connection was closed',
  UND_ERR_CONNECT_TIMEOUT: 'the connection timed out',
  UND_ERR_SOCKET: 'the connection was closed',
  UND_ERR_CLOSED: 'the connection was closed',
};

function networkCode(error: unknown, depth = 0): string | undefined {
  if (!error || typeof error !== 'object' || depth > 4) return undefined;
  const { code, cause, errors } = error as { code?: unknown; cause?: unknown; errors?: unknown };
  if (typeof code === 'string' && code in NETWORK_CAUSES) return code;
  for (const inner of [cause, ...(Array.isArray(errors) ? errors : [])]) {
    const found = networkCode(inner, depth + 1);
    if (found) return found;
  }
  return undefined;
}

/** The message of the deepest `cause` ("bad port" under fetch's "fetch failed"). */
function innermostMessage(error: unknown): string | undefined {
  let message: string | undefined;
  for (let at = error, depth = 0; at instanceof Error && depth < 5; at = at.cause, depth++) {
    if (at.message && at.message !== 'fetch failed') message = at.message;
  }
  return message === 'bad port' ? 'fetch refuses that port (a "bad port" of the Fetch standard)' : message;
}

export function unreachable(url: string, error: unknown, fallback = 'no answer'): ApiError {
  if (error instanceof DOMException && error.name === 'TimeoutError') {
    return new ApiError('unreachable', `the jobgraph API at ${url} did not answer within ${REQUEST_TIMEOUT_MS / 1000} s`);
  }
  const code = networkCode(error);
  const why = code ? NETWORK_CAUSES[code]! : (innermostMessage(error) ?? fallback);
  const hint = code === 'ECONNREFUSED' ? '; is `npm start` running?' : code === 'ENOTFOUND' || code === 'EAI_AGAIN' ? '; check --url or JOBGRAPH_URL' : '';
  return new ApiError('unreachable', `cannot reach the jobgraph API at ${url}: ${why}${hint}`, code);
}

const AUTH_CODES = new Set(['UNAUTHENTICATED', 'FORBIDDEN']);

/**
 * One line for the API's errors: `CODE path: message` per error, the path being the input field
 * (`BAD_USER_INPUT input.text: …`) when the API names one. A refused token is an `auth` error
 * with a hint; an unknown task points to `jobgraph tasks`.
 */
export function errorFromGraphQL(errors: readonly GraphQLErrorJson[], status?: number): ApiError {
  const first = errors[0]!;
  const code = first.extensions?.code;
  const auth = errors.find((error) => AUTH_CODES.has(error.extensions?.code ?? ''));
  if (auth || status === 401 || status === 403) {
    const refused = auth ?? first;
    const what = `${refused.extensions?.code ?? `HTTP ${status}`}: ${refused.message}`;
    const hint =
      refused.extensions?.code === 'FORBIDDEN'
        ? 'this token may not do that'
        : /not valid/i.test(refused.message)
          ? 'the API refused the token; check --token or JOBGRAPH_TOKEN'
          : 'the API needs a token; pass --token or set JOBGRAPH_TOKEN';
    return new ApiError('auth', `${hint} (${what})`, refused.extensions?.code);
  }
  const text = errors.map(describeGraphQLError).join('; ');
  const unknownTask = errors.some((error) => error.extensions?.code === 'BAD_USER_INPUT' && error.extensions.field === 'type');
  return new ApiError('graphql', unknownTask ? `${text} (\`jobgraph tasks\` lists the tasks)` : text, code);
}

function describeGraphQLError(error: GraphQLErrorJson): string {
  const { code, field, issues } = error.extensions ?? {};
  const text = issues?.length
    ? issues.map((issue) => `${issue.path}: ${issue.message}`).join('; ')
    : field
      ? `${field}: ${error.message}`
      : error.message;
  return code ? `${code} ${text}` : text;
}
