import type { Config } from '../config.ts';
import { autoBackends, backendRow } from '../adapters/backends.ts';
import { QueueUnavailableError } from '../adapters/errors.ts';
import type { BackendName, ProbeResult, QueueAdapter } from '../adapters/types.ts';
import type { Logger } from '../lib/logger.ts';

/** Adapter options tests and benchmarks may pass through, per backend (e.g. shorter stalled intervals). */
export type AdapterTuning = Partial<Record<BackendName, Record<string, unknown>>>;

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
): Promise<QueueAdapter> {
  return backendRow(name).create({
    settings: config,
    queueName,
    logger: logger.child({ component: 'queue', backend: name }),
    tuning: tuning[name],
  });
}

/**
 * Picks the queue backend once at startup. `auto` probes the backends of the table that have an
 * auto order (Redis, then PostgreSQL), skipping one its settings cannot run, else runs
 * in-process; an explicit choice whose probe fails stops startup with the probe's reason.
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
    const adapter = await createAdapter(name, config, logger, tuning, queueName);
    const probe = await adapter.probe();
    probes.push({ backend: name, ...probe });
    if (probe.ok) return adapter;
    await adapter.close().catch(() => {});
    return undefined;
  };

  if (config.QUEUE_BACKEND !== 'auto') {
    const name = config.QUEUE_BACKEND;
    const row = backendRow(name);
    const unusable = row.unusable?.(config);
    if (unusable) throw new QueueUnavailableError(`QUEUE_BACKEND=${name} cannot run: ${unusable}`);
    const adapter = await tryBackend(name);
    if (!adapter) {
      const fix = row.settings.length ? `fix ${row.settings.join(' or ')}, ` : '';
      throw new QueueUnavailableError(
        `QUEUE_BACKEND=${name} was chosen but its probe failed: ${probes[0]!.detail}. ` +
          `Start the service, ${fix}or set QUEUE_BACKEND=auto.`,
      );
    }
    return chosen(adapter, `QUEUE_BACKEND=${name}`);
  }

  const skipped: string[] = [];
  for (const name of autoBackends()) {
    const row = backendRow(name);
    const unusable = row.unusable?.(config);
    if (unusable) {
      skipped.push(`${name} skipped: ${unusable}`);
      log.info({ backend: name, detail: unusable }, `auto: skipping ${name}`);
      continue;
    }
    // Its port refuses: a failed probe, without loading its client library.
    const asked = performance.now();
    const unreachable = await row.unreachable?.(config);
    if (unreachable) {
      probes.push({ backend: name, ok: false, detail: unreachable, latencyMs: Math.round(performance.now() - asked) });
      skipped.push(`${name} skipped: ${unreachable}`);
      log.info({ backend: name, detail: unreachable }, `auto: skipping ${name}`);
      continue;
    }
    const adapter = await tryBackend(name);
    if (adapter) {
      const answered = `${row.summary} answered${adapter.capabilities.shared ? ' and a worker can consume' : ''}`;
      return chosen(adapter, `auto: ${[...skipped, answered].join('; ')}`);
    }
    skipped.push(`${name} skipped: ${probes.at(-1)!.detail}`);
    log.info({ backend: name, detail: probes.at(-1)!.detail }, `auto: skipping ${name}`);
  }
  const inline = await createAdapter('inline', config, logger, tuning, queueName);
  probes.push({ backend: 'inline', ...(await inline.probe()) });
  return chosen(inline, `auto: ${skipped.join('; ')}`);

  function chosen(adapter: QueueAdapter, reason: string): BackendSelection {
    log.info({ backend: adapter.name, reason }, `queue backend: ${adapter.name} (${reason})`);
    return { adapter, reason, probes };
  }
}
