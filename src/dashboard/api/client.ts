/**
 * The one module that talks to the server: queries and mutations over HTTP (POST /graphql),
 * subscriptions over graphql-ws on the same path. Hooks call `api.request` and `api.subscribe`;
 * nothing else in the dashboard knows URLs, tokens or protocols.
 *
 * Auth: when the API answers UNAUTHENTICATED (or closes the socket with 4403, a token it does not
 * know), `state.needsToken` turns on and the app asks for a token once; `setToken` keeps it in
 * sessionStorage and sends it as `Authorization: Bearer …` over HTTP and in connectionParams
 * (`authorization`, which src/api/yoga.ts `bearerFrom` reads) over WebSocket.
 */
import { createClient, type Client } from 'graphql-ws/client';

export interface GraphQLErrorLike {
  message: string;
  path?: readonly (string | number)[];
  extensions?: { code?: string; field?: string; issues?: { path: string; message: string }[]; [key: string]: unknown };
}

/** A GraphQL answer with errors, or no answer at all (code NETWORK). */
export class ApiError extends Error {
  override readonly name = 'ApiError';
  constructor(
    readonly errors: readonly GraphQLErrorLike[],
    readonly status?: number,
  ) {
    super(errors.map((error) => error.message).join('; ') || 'Unknown error');
  }

  get code(): string | undefined {
    return this.errors[0]?.extensions?.code;
  }
}

export interface ApiState {
  /** The API refused the caller: ask for a token. */
  needsToken: boolean;
  /** Why, when a token was sent and refused. */
  tokenProblem: string | null;
  hasToken: boolean;
  /** A mutation answered FORBIDDEN: hide the controls that need more than a viewer. */
  forbidden: boolean;
  /** The WebSocket is connected (subscriptions are live). */
  live: boolean;
  /** Bumped when the socket comes back after a drop: lists refetch what they may have missed. */
  reconnects: number;
  /** Bumped when the token changes: the app mounts afresh with the new identity. */
  session: number;
}

export interface Subscriber<T> {
  next(data: T): void;
  error?(error: ApiError): void;
  complete?(): void;
}

const TOKEN_KEY = 'jobgraph.dashboard.token';
const GRAPHQL_PATH = '/graphql';
/** graphql-ws closes with this when connectionParams carry a token the API does not know. */
const FORBIDDEN_CLOSE = 4403;

const isCloseEvent = (value: unknown): value is { code: number; reason: string } =>
  typeof value === 'object' && value !== null && 'code' in value && 'reason' in value;

function toApiError(error: unknown): ApiError {
  if (error instanceof ApiError) return error;
  if (Array.isArray(error)) return new ApiError(error as GraphQLErrorLike[]);
  if (isCloseEvent(error)) {
    if (error.code === FORBIDDEN_CLOSE) return new ApiError([{ message: 'The token is not valid', extensions: { code: 'UNAUTHENTICATED' } }]);
    return new ApiError([{ message: `The live connection closed (${error.code}${error.reason ? `: ${error.reason}` : ''})`, extensions: { code: 'NETWORK' } }]);
  }
  const message = error instanceof Error ? error.message : String(error);
  return new ApiError([{ message: `The API cannot be reached: ${message}`, extensions: { code: 'NETWORK' } }]);
}

function readToken(): string | null {
  try {
    return sessionStorage.getItem(TOKEN_KEY);
  } catch {
    return null; // storage disabled: the token lasts as long as the page
  }
}

export class GraphQLClient {
  #token: string | null = readToken();
  #socket: Client | undefined;
  #state: ApiState = {
    needsToken: false,
    tokenProblem: null,
    hasToken: this.#token !== null,
    forbidden: false,
    live: false,
    reconnects: 0,
    session: 0,
  };
  readonly #listeners = new Set<(state: ApiState) => void>();

  constructor(private readonly origin: string = location.origin) {}

  get state(): ApiState {
    return this.#state;
  }

  /** Calls `listener` on every change of `state`; returns the unsubscribe. */
  onState(listener: (state: ApiState) => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  /** Uses `token` from now on (kept for this tab's session); every hook starts again with it. */
  setToken(token: string | null): void {
    this.#token = token?.trim() || null;
    try {
      if (this.#token) sessionStorage.setItem(TOKEN_KEY, this.#token);
      else sessionStorage.removeItem(TOKEN_KEY);
    } catch {
      // storage disabled: keep it in memory
    }
    void this.#socket?.dispose();
    this.#socket = undefined;
    this.#set({ needsToken: false, tokenProblem: null, hasToken: this.#token !== null, forbidden: false, live: false, session: this.#state.session + 1 });
  }

  /** Opens the WebSocket now (the app does when signed in), so `live` says whether updates flow. */
  connect(): void {
    this.#ws();
  }

  /** A query or mutation over HTTP; rejects with ApiError when the answer has errors. */
  async request<T>(query: string, variables?: Record<string, unknown>): Promise<T> {
    let response: Response;
    try {
      response = await fetch(new URL(GRAPHQL_PATH, this.origin), {
        method: 'POST',
        headers: {
          'content-type': 'application/json',
          accept: 'application/graphql-response+json, application/json',
          // src/api/yoga.ts's CSRF prevention: requests from this app say so.
          'x-graphql-yoga-csrf': 'dashboard',
          ...(this.#token ? { authorization: `Bearer ${this.#token}` } : {}),
        },
        body: JSON.stringify({ query, variables }),
      });
    } catch (error) {
      throw toApiError(error);
    }
    let body: { data?: T | null; errors?: GraphQLErrorLike[] };
    try {
      body = (await response.json()) as typeof body;
    } catch {
      throw new ApiError([{ message: `The API answered ${response.status} ${response.statusText} without a GraphQL body`, extensions: { code: 'NETWORK' } }], response.status);
    }
    if (body.errors?.length || !body.data) {
      const error = new ApiError(body.errors ?? [{ message: 'The API answered without data' }], response.status);
      this.#noteError(error);
      throw error;
    }
    return body.data;
  }

  /** A subscription over WebSocket; returns the unsubscribe. */
  subscribe<T>(query: string, variables: Record<string, unknown>, subscriber: Subscriber<T>): () => void {
    return this.#ws().subscribe<T>(
      { query, variables },
      {
        next: (result) => {
          if (result.errors?.length) {
            const error = new ApiError(result.errors as GraphQLErrorLike[]);
            this.#noteError(error);
            subscriber.error?.(error);
          } else if (result.data) {
            subscriber.next(result.data);
          }
        },
        error: (cause) => {
          const error = toApiError(cause);
          this.#noteError(error);
          subscriber.error?.(error);
        },
        complete: () => subscriber.complete?.(),
      },
    );
  }

  #ws(): Client {
    this.#socket ??= createClient({
      url: new URL(GRAPHQL_PATH, this.origin.replace(/^http/, 'ws')).toString(),
      connectionParams: () => (this.#token ? { authorization: `Bearer ${this.#token}` } : {}),
      // Connected while the page is open, subscriptions or not: `live` tells the truth, and a drop
      // is noticed (and recovered from) before the next subscription needs the socket.
      lazy: false,
      // Without subscriptions, errors land here; `closed` below already tells the app.
      onNonLazyError: () => {},
      // A dashboard stays open: keep trying, every few seconds at most.
      retryAttempts: Number.POSITIVE_INFINITY,
      retryWait: (retries) => new Promise((resolve) => setTimeout(resolve, Math.min(5_000, 500 * 2 ** retries) * (0.5 + Math.random() / 2))),
      // A refused token will be refused again: stop and ask for another.
      shouldRetry: (event) => !(isCloseEvent(event) && event.code === FORBIDDEN_CLOSE),
      on: {
        connected: (_socket, _payload, wasRetry) =>
          this.#set({ live: true, ...(wasRetry ? { reconnects: this.#state.reconnects + 1 } : {}) }),
        closed: (event) => {
          this.#set({ live: false });
          if (isCloseEvent(event) && event.code === FORBIDDEN_CLOSE) this.#noteError(toApiError(event));
        },
      },
    });
    return this.#socket;
  }

  #noteError(error: ApiError): void {
    for (const { extensions } of error.errors) {
      if (extensions?.code === 'UNAUTHENTICATED' && !this.#state.needsToken) {
        this.#set({ needsToken: true, tokenProblem: this.#token ? error.message : null });
      }
      if (extensions?.code === 'FORBIDDEN' && !this.#state.forbidden) this.#set({ forbidden: true });
    }
  }

  #set(patch: Partial<ApiState>): void {
    this.#state = { ...this.#state, ...patch };
    for (const listener of this.#listeners) listener(this.#state);
  }
}

export const api = new GraphQLClient();
