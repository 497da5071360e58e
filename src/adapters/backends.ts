import type { Logger } from '../lib/logger.ts';
import { tcpRefusal } from '../lib/tcp-answers.ts';
import { QueueUnavailableError } from './errors.ts';
import type { QueueAdapter } from './types.ts';

/**
 * The queue backends, one row each: what configuration, selection and the event bus need to know
 * of a backend. Adding a backend is its adapter file and a row here; nothing else names it.
 * Adapters are imported when first created, so a process loads only the client it uses.
 */

/** The settings adapters connect with (a subset of Config, which reads and validates them). */
export interface BackendSettings {
  REDIS_URL: string;
  DATABASE_URL?: string | undefined;
  PGBOSS_SCHEMA: string;
  AMQP_URL: string;
}

export interface BackendContext {
  settings: BackendSettings;
  /** The queue's name, already scoped to the ledger (see JobSystem). */
  queueName: string;
  logger: Logger;
  /** Adapter options tests may shorten (stalled intervals, heartbeats); production passes none. */
  tuning?: Record<string, unknown> | undefined;
}

export interface Backend {
  /** One line for people: what it runs on. */
  summary: string;
  /** The settings its probe depends on, named when an explicit choice fails. */
  settings: (keyof BackendSettings)[];
  /**
   * Where `QUEUE_BACKEND=auto` tries it: lower first. Absent: chosen explicitly only (the last
   * resort, inline, is auto's fallback and is taken when the others are not).
   */
  autoOrder?: number;
  /** Why it cannot run with these settings at all (so it is not even probed), or undefined. */
  unusable?(settings: BackendSettings): string | undefined;
  /**
   * For `auto`: why nothing can be there (its port refuses), asked before its client library is
   * loaded, so a process where the service is absent never loads it; undefined: probe it.
   */
  unreachable?(settings: BackendSettings): Promise<string | undefined>;
  /** The event bus `EVENT_BUS=auto` pairs with it on a PostgreSQL ledger. */
  bus: 'redis' | 'postgres';
  create(context: BackendContext): Promise<QueueAdapter>;
}

const needsDatabase = (settings: BackendSettings) =>
  settings.DATABASE_URL ? undefined : 'DATABASE_URL is not set: pg-boss keeps its queue in PostgreSQL';

export const BACKENDS = {
  bullmq: {
    summary: 'BullMQ on Redis',
    settings: ['REDIS_URL'],
    autoOrder: 1,
    unreachable: (settings) => tcpRefusal(settings.REDIS_URL, 6379),
    bus: 'redis',
    async create({ settings, queueName, logger, tuning }) {
      const { createBullmqAdapter } = await import('./bullmq.ts');
      return createBullmqAdapter({ redisUrl: settings.REDIS_URL, queueName, logger, ...tuning });
    },
  },
  pgboss: {
    summary: 'pg-boss on PostgreSQL',
    settings: ['DATABASE_URL'],
    autoOrder: 2,
    unusable: needsDatabase,
    bus: 'postgres',
    async create({ settings, queueName, logger, tuning }) {
      const reason = needsDatabase(settings);
      if (reason) throw new QueueUnavailableError(`QUEUE_BACKEND=pgboss: ${reason}`);
      const { createPgbossAdapter } = await import('./pgboss.ts');
      return createPgbossAdapter({
        connectionString: settings.DATABASE_URL!,
        schema: settings.PGBOSS_SCHEMA,
        queueName,
        logger,
        ...tuning,
      });
    },
  },
  rabbitmq: {
    summary: 'RabbitMQ over AMQP 0-9-1',
    settings: ['AMQP_URL'],
    bus: 'postgres',
    async create({ settings, queueName, logger, tuning }) {
      const { createRabbitmqAdapter } = await import('./rabbitmq.ts');
      return createRabbitmqAdapter({ url: settings.AMQP_URL, queueName, logger, ...tuning });
    },
  },
  inline: {
    summary: 'in-process (this process only)',
    settings: [],
    bus: 'postgres',
    async create() {
      const { createInlineAdapter } = await import('./inline.ts');
      return createInlineAdapter();
    },
  },
} satisfies Record<string, Backend>;

type KnownBackend = keyof typeof BACKENDS;

export const BACKEND_NAMES = Object.keys(BACKENDS) as [KnownBackend, ...KnownBackend[]];

export function backendRow(name: string): Backend {
  const row = (BACKENDS as Record<string, Backend>)[name];
  if (!row) throw new QueueUnavailableError(`unknown queue backend ${JSON.stringify(name)}; one of ${BACKEND_NAMES.join(', ')}`);
  return row;
}

/** The backends `QUEUE_BACKEND=auto` probes, in order. */
export function autoBackends(): KnownBackend[] {
  return BACKEND_NAMES.filter((name) => (BACKENDS[name] as Backend).autoOrder !== undefined).sort(
    (a, b) => (BACKENDS[a] as Backend).autoOrder! - (BACKENDS[b] as Backend).autoOrder!,
  );
}
