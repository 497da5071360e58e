import pg from 'pg';
import { Batcher } from '../lib/batcher.ts';
import type { Logger } from '../lib/logger.ts';

/**
 * An EventTarget over Postgres LISTEN/NOTIFY, the shape graphql-yoga's pub/sub expects (the same
 * one @graphql-yoga/redis-event-target implements for Redis). Event names are channel names;
 * details travel as JSON. One dedicated connection listens and re-listens after it is lost.
 */
type Listener = ((event: Event) => void) | { handleEvent(event: Event): void };

interface PgEventTarget extends EventTarget {
  close(): Promise<void>;
}

export function createPgEventTarget(opts: { connectionString: string; publishPool: pg.Pool; logger: Logger }): PgEventTarget {
  const { connectionString, publishPool, logger } = opts;
  const listeners = new Map<string, Set<Listener>>();
  let client: pg.Client | undefined;
  let connecting: Promise<pg.Client> | undefined;
  let closed = false;
  let retryTimer: NodeJS.Timeout | undefined;

  // Events published in the same tick go out in one statement, in order.
  const notifications = new Batcher<{ channel: string; payload: string }>(async (items) => {
    await publishPool.query('SELECT pg_notify(n.channel, n.payload) FROM unnest($1::text[], $2::text[]) WITH ORDINALITY AS n(channel, payload, i) ORDER BY n.i', [
      items.map((n) => n.channel),
      items.map((n) => n.payload),
    ]);
  });

  const quote = (channel: string) => `"${channel.replaceAll('"', '""')}"`;
  // One statement at a time on the LISTEN connection: pg deprecates queries sent while one runs.
  let commands: Promise<unknown> = Promise.resolve();
  const command = (c: pg.Client, sql: string) => (commands = commands.then(() => c.query(sql)).catch(() => {}));

  function deliver(msg: pg.Notification) {
    const callbacks = listeners.get(msg.channel);
    if (!callbacks) return;
    let detail: unknown;
    try {
      detail = msg.payload ? JSON.parse(msg.payload) : null;
    } catch (error) {
      logger.warn({ err: error, channel: msg.channel }, 'dropping a NOTIFY payload that is not JSON');
      return;
    }
    const event = new CustomEvent(msg.channel, { detail });
    for (const callback of callbacks) {
      if (typeof callback === 'function') callback(event);
      else callback.handleEvent(event);
    }
  }

  function connect(): Promise<pg.Client> {
    connecting ??= (async () => {
      const next = new pg.Client({ connectionString, connectionTimeoutMillis: 5_000 });
      next.on('notification', deliver);
      next.on('error', (error) => {
        logger.warn({ err: error }, 'event bus: LISTEN connection lost; reconnecting');
        if (client === next) client = undefined;
        connecting = undefined;
        next.end().catch(() => {});
        scheduleReconnect();
      });
      await next.connect();
      for (const channel of listeners.keys()) await next.query(`LISTEN ${quote(channel)}`);
      client = next;
      return next;
    })();
    connecting.catch((error: unknown) => {
      logger.warn({ err: error }, 'event bus: cannot LISTEN; retrying');
      connecting = undefined;
      scheduleReconnect();
    });
    return connecting;
  }

  function scheduleReconnect() {
    if (closed || retryTimer) return;
    retryTimer = setTimeout(() => {
      retryTimer = undefined;
      if (!closed && listeners.size > 0) void connect().catch(() => {});
    }, 1_000);
    retryTimer.unref();
  }

  const target: PgEventTarget = {
    addEventListener(type: string, callback: Listener | null) {
      if (!callback) return;
      let callbacks = listeners.get(type);
      if (!callbacks) {
        callbacks = new Set();
        listeners.set(type, callbacks);
        void connect()
          .then((c) => command(c, `LISTEN ${quote(type)}`))
          .catch(() => {}); // connect() logs and retries; a reconnect LISTENs every channel
      }
      callbacks.add(callback);
    },
    removeEventListener(type: string, callback: Listener | null) {
      const callbacks = listeners.get(type);
      if (!callbacks || !callback) return;
      callbacks.delete(callback);
      if (callbacks.size > 0) return;
      listeners.delete(type);
      if (client) void command(client, `UNLISTEN ${quote(type)}`);
    },
    dispatchEvent(event: Event) {
      void notifications.add({ channel: event.type, payload: JSON.stringify((event as CustomEvent).detail ?? null) }).catch(
        (error: unknown) => logger.warn({ err: error, channel: event.type }, 'event bus: NOTIFY failed'),
      );
      return true;
    },
    async close() {
      closed = true;
      clearTimeout(retryTimer);
      listeners.clear();
      const current = client ?? (await connecting?.catch(() => undefined));
      client = undefined;
      await current?.end().catch(() => {});
    },
  };
  return target;
}
