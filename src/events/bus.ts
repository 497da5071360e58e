import { randomUUID } from 'node:crypto';
import { createRequire } from 'node:module';
import { createPubSub, type PubSub } from '@graphql-yoga/subscription';
import type * as RedisEventTarget from '@graphql-yoga/redis-event-target';
import type * as IORedis from 'ioredis';
import type pg from 'pg';
import type { Logger } from '../lib/logger.ts';
import type { ControlMessage, JobChange, RunChange } from './messages.ts';
import { createPgEventTarget } from './pg-event-target.ts';

export type BusTransport = 'redis' | 'postgres' | 'memory';

type Topics = { jobs: [JobChange]; control: [ControlMessage]; runs: [RunChange] };
export type BusPubSub = PubSub<Record<string, [JobChange] | [ControlMessage] | [RunChange]>>;

/**
 * The event bus: job changes and control orders between processes. A thin layer over graphql-yoga's
 * pub/sub, so the API's subscriptions read the very same stream; the transport is an EventTarget:
 * in-memory, Redis pub/sub or Postgres LISTEN/NOTIFY. Delivery is best effort: the ledger has every
 * event, and subscribers fill gaps from it by seq.
 */
export class EventBus {
  readonly #target: EventTarget;
  readonly #topics: { [K in keyof Topics]: string };
  readonly #close: () => Promise<void>;
  readonly #transportState: TransportState | undefined;
  readonly pubsub: BusPubSub;

  constructor(opts: {
    transport: BusTransport;
    target: EventTarget;
    namespace: string;
    close: () => Promise<void>;
    state?: TransportState;
  }) {
    this.transport = opts.transport;
    this.#target = opts.target;
    this.#close = opts.close;
    this.#transportState = opts.state;
    this.#topics = { jobs: `${opts.namespace}.jobs`, control: `${opts.namespace}.control`, runs: `${opts.namespace}.runs` };
    this.pubsub = createPubSub({ eventTarget: opts.target as never }) as BusPubSub;
  }

  readonly transport: BusTransport;

  publishJobChange(change: JobChange): void {
    this.#target.dispatchEvent(new CustomEvent(this.#topics.jobs, { detail: change }));
  }

  publishRunChange(change: RunChange): void {
    this.#target.dispatchEvent(new CustomEvent(this.#topics.runs, { detail: change }));
  }

  onRunChange(listener: (change: RunChange) => void): () => void {
    return this.#listen(this.#topics.runs, listener);
  }

  publishControl(message: ControlMessage): void {
    this.#target.dispatchEvent(new CustomEvent(this.#topics.control, { detail: message }));
  }

  /** Calls `listener` for every job change; returns the unsubscribe function. */
  onJobChange(listener: (change: JobChange) => void): () => void {
    return this.#listen(this.#topics.jobs, listener);
  }

  onControl(listener: (message: ControlMessage) => void): () => void {
    return this.#listen(this.#topics.control, listener);
  }

  /** An async iterator of job changes (for GraphQL subscriptions). */
  jobChanges(): AsyncIterableIterator<JobChange> {
    return this.pubsub.subscribe(this.#topics.jobs) as unknown as AsyncIterableIterator<JobChange>;
  }

  /**
   * Resolves once a message this process publishes comes back to it, i.e. its subscriptions are
   * live on the transport. Remote transports subscribe asynchronously; callers that must not miss
   * the next event (tests, the start of a worker) wait for this. 15 s by default: on a loaded
   * machine (two cores, a test run's processes) a first Redis subscription took over 5 s, and a
   * start that gives up then is one more restart for nothing. Every few seconds without an echo the
   * subscription is asked for again (a SUBSCRIBE of a channel already subscribed is harmless), and
   * a start that gives up says what the transport's connections were doing.
   */
  async ready(timeoutMs = 15_000): Promise<void> {
    const nonce = randomUUID();
    let stop = () => {};
    const echoed = new Promise<void>((resolve) => {
      stop = this.onControl((message) => {
        if (message.kind === 'ping' && message.nonce === nonce) resolve();
      });
    });
    const deadline = Date.now() + timeoutMs;
    let resubscribeAt = Date.now() + RESUBSCRIBE_AFTER_MS;
    try {
      while (Date.now() < deadline) {
        this.publishControl({ kind: 'ping', nonce });
        const outcome = await Promise.race([echoed.then(() => true), delay(100).then(() => false)]);
        if (outcome) return;
        if (this.#transportState && Date.now() >= resubscribeAt) {
          resubscribeAt = Date.now() + RESUBSCRIBE_AFTER_MS;
          // Not awaited: while the connection is down the SUBSCRIBE waits for it, and the deadline must not.
          this.#transportState.resubscribe(this.#topics.control).catch(() => {});
        }
      }
      const state = this.#transportState ? ` (${this.#transportState.describe()})` : '';
      throw new Error(`event bus (${this.transport}) did not echo within ${timeoutMs} ms${state}`);
    } finally {
      stop();
    }
  }

  close(): Promise<void> {
    return this.#close();
  }

  #listen<T>(topic: string, listener: (detail: T) => void): () => void {
    const callback = (event: Event) => listener((event as CustomEvent<T>).detail);
    this.#target.addEventListener(topic, callback);
    return () => this.#target.removeEventListener(topic, callback);
  }
}

/** How long `ready` waits for an echo before it asks the transport to subscribe again. */
const RESUBSCRIBE_AFTER_MS = 3_000;

/** What a remote transport can say about its connections, and do when an echo does not come. */
interface TransportState {
  resubscribe(topic: string): Promise<unknown>;
  describe(): string;
}

const delay = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Loads a package when a transport needs it, not when this module loads. */
const loadModule = createRequire(import.meta.url);

export interface BusOptions {
  transport: BusTransport;
  namespace: string;
  logger: Logger;
  redisUrl?: string;
  /** Postgres transport: where to LISTEN, and a pool to NOTIFY through. */
  databaseUrl?: string;
  pool?: pg.Pool;
}

export function createEventBus(opts: BusOptions): EventBus {
  const logger = opts.logger.child({ component: 'event-bus', transport: opts.transport });
  switch (opts.transport) {
    case 'memory':
      return new EventBus({ ...opts, target: new EventTarget(), close: async () => {} });
    case 'redis': {
      if (!opts.redisUrl) throw new Error('the redis event bus needs REDIS_URL');
      // Loaded here, when the Redis bus is chosen, so a process on LISTEN/NOTIFY never loads
      // ioredis (about 18 MiB, see BENCHMARKS.md §13). Synchronously: the bus is made synchronously.
      const { Redis } = loadModule('ioredis') as typeof IORedis;
      const { createRedisEventTarget } = loadModule('@graphql-yoga/redis-event-target') as typeof RedisEventTarget;
      // Auto-pipelining: the PUBLISHes of one tick (a job's changes, many jobs') share one write.
      const publisher = new Redis(opts.redisUrl, { lazyConnect: false, maxRetriesPerRequest: 1, enableAutoPipelining: true });
      const subscriber = new Redis(opts.redisUrl, { lazyConnect: false, maxRetriesPerRequest: null });
      const lastError: { publisher?: string; subscriber?: string } = {};
      for (const [role, client] of [['publisher', publisher], ['subscriber', subscriber]] as const) {
        client.on('error', (error) => {
          lastError[role] = String(error);
          logger.debug({ err: error }, 'redis event bus connection error');
        });
      }
      // redis-event-target fires PUBLISH without awaiting it; a rejected publish (Redis down) must
      // be logged, not become an unhandled rejection that kills the process.
      const publishClient = {
        publish: (channel: string, message: string) =>
          publisher.publish(channel, message).catch((error: unknown) => {
            lastError.publisher = `PUBLISH: ${String(error)}`;
            logger.warn({ err: error, channel }, 'event bus: PUBLISH failed');
            return 0;
          }),
      } as unknown as IORedis.Redis;
      const target = createRedisEventTarget({ publishClient, subscribeClient: subscriber });
      return new EventBus({
        ...opts,
        target,
        state: {
          resubscribe: (topic) => subscriber.subscribe(topic),
          describe: () =>
            `publisher ${publisher.status}${lastError.publisher ? `, last error ${lastError.publisher}` : ''}; ` +
            `subscriber ${subscriber.status}${lastError.subscriber ? `, last error ${lastError.subscriber}` : ''}`,
        },
        close: async () => {
          publisher.disconnect();
          subscriber.disconnect();
        },
      });
    }
    case 'postgres': {
      if (!opts.databaseUrl || !opts.pool) throw new Error('the postgres event bus needs DATABASE_URL');
      const target = createPgEventTarget({ connectionString: opts.databaseUrl, publishPool: opts.pool, logger });
      return new EventBus({ ...opts, target, close: () => target.close() });
    }
  }
}
