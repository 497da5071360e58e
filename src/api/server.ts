import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import { useServer } from 'graphql-ws/use/ws';
import { WebSocketServer } from 'ws';
import type { JobService } from '../jobs/service.ts';
import type { Logger } from '../lib/logger.ts';
import { bearerFrom, GRAPHQL_PATH, type Api } from './yoga.ts';
import { METRICS_PATH } from './metrics.ts';
import { createDashboardHandler, DASHBOARD_PATH } from './dashboard.ts';

type Enveloped = { execute: (args: unknown) => unknown; subscribe: (args: unknown) => unknown };

export interface HttpServer {
  server: Server;
  listen(port: number, host?: string): Promise<number>;
  /** Stops accepting, ends open streams and sockets. Idempotent. */
  close(): Promise<void>;
}

/**
 * The listener: GraphQL over HTTP and SSE (yoga) and over WebSocket (graphql-ws) on one path,
 * plus /health (the process answers), /ready (the ledger answers and a backend takes jobs), the
 * dashboard's files on /dashboard (/ leads there) and, when the API was given them, /metrics.
 */
export function createHttpServer(api: Api, system: JobService, logger: Logger): HttpServer {
  const log = logger.child({ component: 'http' });
  const dashboard = createDashboardHandler();
  // A handler that fails answers 500 and is logged: a rejection left unhandled would end the process.
  const failed = (what: string, response: ServerResponse) => (error: unknown) => {
    log.error({ err: error, what }, 'request handler failed');
    if (!response.headersSent) json(response, 500, { error: 'internal error' });
    else response.destroy();
  };
  const server = createServer((req, response) => {
    const path = (req.url ?? '/').split('?')[0] ?? '/';
    if (path === '/health') return json(response, 200, { status: 'ok' });
    if (path === '/ready') {
      return void system.readiness().then(({ ready, ...body }) => json(response, ready ? 200 : 503, { ready, ...body }), failed('/ready', response));
    }
    if (path === METRICS_PATH && api.metrics) return void Promise.resolve(api.metrics.handle(req, response)).catch(failed('/metrics', response));
    if (path === '/') return void response.writeHead(302, { location: `${DASHBOARD_PATH}/` }).end();
    if (path === DASHBOARD_PATH || path.startsWith(`${DASHBOARD_PATH}/`)) {
      return void dashboard(req, response)
        .then((handled) => (handled ? undefined : api.yoga(req, response)))
        .catch(failed('dashboard', response));
    }
    return void Promise.resolve(api.yoga(req, response)).catch(failed('graphql', response));
  });

  const wss = new WebSocketServer({ server, path: GRAPHQL_PATH });
  const ws = useServer(
    {
      // onSubscribe below puts yoga's enveloped execute/subscribe on the args.
      execute: (args) => (args as unknown as Enveloped).execute(args) as never,
      subscribe: (args) => (args as unknown as Enveloped).subscribe(args) as never,
      // A wrong token closes the socket at once (4403); a missing one is anonymous, as over HTTP.
      onConnect: (ctx) => {
        try {
          api.tokens.identify(bearerFrom(ctx.connectionParams));
          return true;
        } catch {
          return false;
        }
      },
      onSubscribe: async (ctx, _id, payload) => {
        const { schema, execute, subscribe, contextFactory, parse, validate } = api.yoga.getEnveloped({
          ...ctx,
          req: ctx.extra.request,
          socket: ctx.extra.socket,
          params: payload,
          connectionParams: ctx.connectionParams,
        });
        const args = {
          schema,
          operationName: payload.operationName,
          document: parse(payload.query),
          variableValues: payload.variables,
          contextValue: await contextFactory(),
          execute,
          subscribe,
        };
        const errors = validate(args.schema, args.document);
        if (errors.length) return errors;
        return args as never;
      },
    },
    wss,
  );

  const sockets = new Set<Socket>();
  server.on('connection', (socket) => {
    sockets.add(socket);
    socket.once('close', () => sockets.delete(socket));
  });

  let closing: Promise<void> | undefined;
  return {
    server,
    listen: (port, host) =>
      new Promise((resolve, reject) => {
        server.once('error', reject);
        server.listen(port, host, () => {
          server.off('error', reject);
          resolve((server.address() as { port: number }).port);
        });
      }),
    close: () =>
      (closing ??= (async () => {
        log.info('closing the listener');
        await ws.dispose();
        const closed = new Promise<void>((resolve) => server.close(() => resolve()));
        // SSE streams and keep-alive sockets would hold close() open: end them.
        for (const socket of sockets) socket.destroy();
        await closed;
      })()),
  };
}

function json(res: ServerResponse<IncomingMessage>, status: number, body: unknown): void {
  res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(body));
}
