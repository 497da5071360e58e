import type { Config } from '../config.ts';
import { QueueUnavailableError } from './errors.ts';
import type { Logger } from '../lib/logger.ts';
import { createBullmqAdapter, type BullmqAdapterOptions } from './bullmq.ts';
import { createInlineAdapter } from './inline.ts';
import { createPgbossAdapter, type PgbossAdapterOptions } from './pgboss.ts';
import type { BackendName, ProbeResult, QueueAdapter } from './types.ts';

/** Options tests and benchmarks may pass through to the adapters (e.g. shorter stalled intervals). */
export interface AdapterTuning {
  bullmq?: Partial<Pick<BullmqAdapterOptions, 'stalledIntervalMs' | 'lockDurationMs'>>;
  pgboss?: Partial<Pick<PgbossAdapterOptions, 'heartbeatSeconds'>>;
}

export interface BackendSelection {
  adapter: QueueAdapter;
  /** Why this backend: the explicit setting, or which probes failed before it. */
  reason: string;
  probes: ({ backend: BackendName } & ProbeResult)[];
}

/**
 * `queueName` defaults to QUEUE_NAME; the job system passes the name scoped to its ledger, so that
 * deployments with ledgers of their own never share a queue.
 */
export function createAdapter(
  name: BackendName,
  config: Config,
  logger: Logger,
  tuning: AdapterTuning = {},
  queueName = config.QUEUE_NAME,
): QueueAdapter {
  const log = logger.child({ component: 'queue', backend: name });
  switch (name) {
    case 'bullmq':
      return createBullmqAdapter({ redisUrl: config.REDIS_URL, queueName, logger: log, ...tuning.bullmq });
    case 'pgboss':
      if (!config.DATABASE_URL) {
        throw new QueueUnavailableError('QUEUE_BACKEND=pgboss needs DATABASE_URL: pg-boss keeps its queue in PostgreSQL');
      }
      return createPgbossAdapter({
        connectionString: config.DATABASE_URL,
        schema: config.PGBOSS_SCHEMA,
        queueName,
        logger: log,
        ...tuning.pgboss,
      });
    case 'inline':
      return createInlineAdapter();
  }
}

/**
 * Picks the queue backend once at startup. `auto` probes Redis (BullMQ), then Postgres (pg-boss,
 * only when DATABASE_URL is set), else runs in-process; an explicit choice whose probe fails stops
 * startup with the probe's reason.
 */
export async function selectBackend(
  config: Config,
  logger: Logger,
  tuning: AdapterTuning = {},
  queueName = config.QUEUE_NAME,
): Promise<BackendSelection> {
  const log = logger.child({ component: 'backend-selection' });
  const probes: BackendSelection['probes'] = [];

  const tryBackend = async (name: BackendName): Promise<QueueAdapter | undefined> => {
    const adapter = createAdapter(name, config, logger, tuning, queueName);
    const probe = await adapter.probe();
    probes.push({ backend: name, ...probe });
    if (probe.ok) return adapter;
    await adapter.close().catch(() => {});
    return undefined;
  };

  if (config.QUEUE_BACKEND !== 'auto') {
    const adapter = await tryBackend(config.QUEUE_BACKEND);
    const probe = probes[0]!;
    if (!adapter) {
      throw new QueueUnavailableError(
        `QUEUE_BACKEND=${config.QUEUE_BACKEND} was chosen but its probe failed: ${probe.detail}. ` +
          `Start the service, fix ${config.QUEUE_BACKEND === 'bullmq' ? 'REDIS_URL' : 'DATABASE_URL'}, or set QUEUE_BACKEND=auto.`,
      );
    }
    const reason = `QUEUE_BACKEND=${config.QUEUE_BACKEND}`;
    log.info({ backend: adapter.name, probe }, `queue backend: ${adapter.name} (${reason})`);
    return { adapter, reason, probes };
  }

  const skipped: string[] = [];
  const bullmq = await tryBackend('bullmq');
  if (bullmq) return chosen(bullmq, 'auto: Redis answered and a worker can consume');
  skipped.push(`bullmq skipped: ${probes.at(-1)!.detail}`);
  log.info({ backend: 'bullmq', detail: probes.at(-1)!.detail }, 'auto: skipping bullmq');

  if (config.DATABASE_URL) {
    const pgboss = await tryBackend('pgboss');
    if (pgboss) return chosen(pgboss, `auto: ${skipped.join('; ')}; PostgreSQL answered`);
    skipped.push(`pgboss skipped: ${probes.at(-1)!.detail}`);
    log.info({ backend: 'pgboss', detail: probes.at(-1)!.detail }, 'auto: skipping pgboss');
  } else {
    skipped.push('pgboss skipped: DATABASE_URL is not set');
    log.info({ backend: 'pgboss' }, 'auto: skipping pgboss, DATABASE_URL is not set');
  }
  const inline = createInlineAdapter();
  probes.push({ backend: 'inline', ...(await inline.probe()) });
  return chosen(inline, `auto: ${skipped.join('; ')}`);

  function chosen(adapter: QueueAdapter, reason: string): BackendSelection {
    log.info({ backend: adapter.name, reason }, `queue backend: ${adapter.name}`);
    return { adapter, reason, probes };
  }
}
