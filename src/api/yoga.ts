import { EnvelopArmorPlugin } from '@escape.tech/graphql-armor';
import { useCSRFPrevention } from '@graphql-yoga/plugin-csrf-prevention';
import { useGraphQLSSE } from '@graphql-yoga/plugin-graphql-sse';
import { GraphQLError } from 'graphql';
import { createYoga, maskError, type Plugin, type YogaServerInstance } from 'graphql-yoga';
import type { Config } from '../config.ts';
import { isConnectionError } from '../db/conflicts.ts';
import { CodedError } from '../lib/errors.ts';
import type { JobService } from '../jobs/service.ts';
import type { WorkflowReads } from '../domain/queries.ts';
import type { Logger } from '../lib/logger.ts';
import type { ApiContext } from './schema/builder.ts';
import { buildSchema } from './schema/index.ts';
import { TokenBook } from './auth.ts';
import { LiveJobs } from './live.ts';
import { useSharedSubscriptions } from './shared-subscriptions.ts';
import { useSseFrames } from './sse.ts';
import type { Metrics } from './metrics.ts';
import { useTracing } from './tracing.ts';

export const GRAPHQL_PATH = '/graphql';
/** graphql-sse's single connection mode lives here; distinct connections mode is on GRAPHQL_PATH. */
const GRAPHQL_STREAM_PATH = '/graphql/stream';

/** What GraphiQL opens with (until the browser has tabs of its own): a mutation that runs as is. */
export const GRAPHIQL_DEFAULT_QUERY = `# jobgraph: background jobs recorded in a ledger, with live progress over GraphQL.
# Run this mutation, then paste the job id into the subscription below (a new tab) to follow it.
# Every job, live: the dashboard at /dashboard. With API_TOKENS set, add a header
# {"authorization": "Bearer <token>"} below.
mutation {
  countWords(input: { text: "one two three four five six", chunkSize: 1, pauseMs: 500 }) {
    job { id }
  }
}

# subscription {
#   jobProgress(id: "<id>") { status progress message }
# }
`;

/** What the HTTP and WebSocket layers hand yoga's context factory. */
export interface ServerContext {
  connectionParams?: Record<string, unknown>;
}

export type Yoga = YogaServerInstance<ServerContext, ApiContext>;

export interface Api {
  yoga: Yoga;
  tokens: TokenBook;
  live: LiveJobs;
  /** Given to createApi: its yoga plugin counts GraphQL operations; the listener serves it on /metrics. */
  metrics?: Metrics;
}

export interface ApiOptions {
  /** createMetrics(...) of this process; without it, GraphQL operations are not measured. */
  metrics?: Metrics;
}

/**
 * The GraphQL app, apart from any listener: tests call `yoga.fetch`, src/api/server.ts serves it.
 * Intended errors (CodedError) reach clients with their code; anything unexpected is logged and
 * masked.
 */
export function createApi(system: JobService, workflow: WorkflowReads, config: Config, logger: Logger, opts: ApiOptions = {}): Api {
  const log = logger.child({ component: 'api' });
  const tokens = new TokenBook(config.API_TOKENS);
  if (tokens.open) log.warn('API_TOKENS is not set: every caller is the admin (the API listens on loopback only, unless HOST and API_OPEN say otherwise)');
  const live = new LiveJobs(system);

  const yoga = createYoga<ServerContext, ApiContext>({
    schema: buildSchema(system.tasks),
    graphqlEndpoint: GRAPHQL_PATH,
    landingPage: false,
    // Subscriptions from GraphiQL over graphql-ws: its plain-SSE mode uses GET without the CSRF header.
    graphiql: { title: 'jobgraph', subscriptionsProtocol: 'WS', defaultQuery: GRAPHIQL_DEFAULT_QUERY },
    // GraphiQL from the installed package, not a CDN: it works offline and behind firewalls. Loaded
    // at its first request: the page's bundle is ~40 MB of a process's memory that most never use.
    renderGraphiQL: async (options) => (await import('@graphql-yoga/render-graphiql')).renderGraphiQL(options),
    batching: { limit: 10 },
    logging: {
      debug: (...args) => log.debug(args.map(String).join(' ')),
      info: (...args) => log.info(args.map(String).join(' ')),
      warn: (...args) => log.warn(args.map(String).join(' ')),
      error: (...args) => log.error(args.map(String).join(' ')),
    },
    maskedErrors: {
      maskError(error, message, isDev) {
        const original = error instanceof GraphQLError ? (error.originalError ?? error) : error;
        if (original instanceof CodedError && error instanceof GraphQLError) {
          return new GraphQLError(original.message, {
            nodes: error.nodes,
            ...(error.path ? { path: error.path } : {}),
            extensions: { ...original.details, code: original.code },
          });
        }
        if (isConnectionError(original) && error instanceof GraphQLError) {
          // PostgreSQL down or restarting. Not "nothing was recorded": a cut statement may have
          // committed. Enqueues say which (LedgerUnavailableError); cancel and retry are conditional.
          log.warn({ err: original }, 'the ledger is unreachable');
          return new GraphQLError('The job ledger (PostgreSQL) cannot be reached right now. Try again shortly.', {
            nodes: error.nodes,
            ...(error.path ? { path: error.path } : {}),
            extensions: { code: 'LEDGER_UNAVAILABLE' },
          });
        }
        if (!(original instanceof GraphQLError)) log.error({ err: original }, 'unexpected error in a GraphQL operation');
        return maskError(error, message, isDev);
      },
    },
    context: ({ request, connectionParams }) => {
      const header = request?.headers.get('authorization') ?? bearerFrom(connectionParams);
      return { system, workflow, live, viewer: tokens.identify(header) };
    },
    plugins: [
      // First, so its HTTP timing covers the other plugins' work too.
      ...(opts.metrics ? [opts.metrics.yogaPlugin] : []),
      // A span per operation (src/api/tracing.ts): a no-op unless OTEL_* turned traces on.
      useTracing(),
      bodyLimit(config.MAX_BODY_BYTES),
      useCSRFPrevention({ requestHeaders: ['x-graphql-yoga-csrf'] }),
      useGraphQLSSE({ endpoint: GRAPHQL_STREAM_PATH }),
      // A job's subscribers with the same query run it once per change (src/api/shared-subscriptions.ts).
      useSharedSubscriptions<ApiContext>({
        fields: { jobProgress: { transient: ['progress', 'message', 'lastSeq'] } },
        viewerKey: ({ viewer }) => (viewer ? `${viewer.role}:${viewer.name}` : undefined),
      }),
      // After yoga's own result writers: SSE streams framed once per result (src/api/sse.ts).
      useSseFrames(),
      EnvelopArmorPlugin({
        maxDepth: { n: config.MAX_QUERY_DEPTH },
        costLimit: { maxCost: config.MAX_QUERY_COST },
        maxAliases: { n: 20 },
        maxDirectives: { n: 20 },
        maxTokens: { n: 2_000 },
        blockFieldSuggestion: { enabled: true },
      }),
    ],
  });
  return { yoga, tokens, live, ...(opts.metrics ? { metrics: opts.metrics } : {}) };
}

/** The token a WebSocket client passes in connectionParams, as `authorization` or `token`. */
export function bearerFrom(params: Record<string, unknown> | undefined): string | undefined {
  const value = params?.authorization ?? params?.Authorization ?? params?.token;
  return typeof value === 'string' ? value : undefined;
}

/** Refuses bodies over `limit` bytes before they are read; a body of unknown length must say it. */
function bodyLimit(limit: number): Plugin {
  return {
    onRequest({ request, endResponse, fetchAPI }) {
      if (request.method === 'GET' || request.method === 'HEAD' || request.method === 'OPTIONS') return;
      const length = request.headers.get('content-length');
      const reject = (status: number, message: string) =>
        endResponse(
          new fetchAPI.Response(JSON.stringify({ errors: [{ message, extensions: { code: 'BAD_REQUEST' } }] }), {
            status,
            headers: { 'content-type': 'application/json' },
          }),
        );
      if (length === null) {
        if (request.body) reject(411, 'A request body needs a Content-Length header');
        return;
      }
      if (Number(length) > limit) reject(413, `The request body is larger than ${limit} bytes`);
    },
  };
}
