/**
 * The wiring of a job system: opens the ledger, picks the queue backend, starts the event bus,
 * the dispatcher and, in worker processes, the executor and the reaper, in that order, and closes
 * what it opened if a step fails.
 */
import { hostname } from 'node:os';
import { randomBytes } from 'node:crypto';
import { ConfigError, type Config } from '../config.ts';
import { openLedger } from '../db/client.ts';
import { API_APPLICATION_NAME, WORKER_APPLICATION_NAME } from '../db/application-names.ts';
import { createEventBus, type BusTransport } from '../events/bus.ts';
import { createLogger, type Logger } from '../lib/logger.ts';
import { backendRow } from '../adapters/backends.ts';
import type { QueueAdapter } from '../adapters/types.ts';
import { createAdapter, selectBackend, type AdapterTuning } from './backend-selection.ts';
import { toJobChanges } from './changes.ts';
import { backendOf, Dispatcher } from './dispatcher.ts';
import { Executor } from './executor.ts';
import { Ledger } from './ledger/index.ts';
import { Pruner, retentionRules } from './pruner.ts';
import { Reaper } from './reaper.ts';
import { isWaiting } from './states.ts';
import { LocalChanges } from './local-changes.ts';
import type { JobSystemParts } from './system.ts';
import type { TaskRegistry } from './task-registry.ts';
import type { TaskDeps } from './task.ts';
import { WorkflowRegistry, type AnyWorkflow } from './runs/workflow.ts';
import { applyOverrides, type LimitDefinition } from './limits/definition.ts';
import { Limits } from './limits/limits.ts';
import type { ScheduleDefinition } from './schedules/definition.ts';
import type { SchedulerOptions } from './schedules/scheduler.ts';

/** What the core offers the application's collaborators (ctx.deps) when it makes them. */
export interface CoreServices {
  /** The deployment's shared limits (the LLM client takes from `llm`). */
  limits: Limits;
}

export interface JobSystemOptions {
  config: Config;
  logger?: Logger;
  /** The tasks this process knows (src/tasks: createTaskRegistry()); the core never imports them. */
  registry: TaskRegistry;
  /**
   * What every task gets as ctx.deps (src/tasks: createTaskDeps()), or how to make it from the
   * core's services; tasks that need none run without.
   */
  deps?: TaskDeps | ((core: CoreServices) => TaskDeps);
  /** The shared limits this deployment declares in code (src/tasks: appLimits); LIMITS overrides them. */
  limits?: readonly LimitDefinition[];
  /** Run workers in this process (default: config.WORKER_IN_PROCESS). */
  worker?: boolean;
  /**
   * A worker process of its own (`npm run worker`, the worker `npm start` supervises): when a
   * handler blocks its event loop past its job's timeout or cancellation, the heartbeat thread
   * kills the process (see heartbeat-worker.ts). Never in a process that serves, or a test's.
   */
  killWhenStuck?: boolean;
  tuning?: AdapterTuning;
  /** The workflows this process knows (src/tasks: appWorkflows); their steps' tasks must be in `registry`. */
  workflows?: readonly AnyWorkflow[];
  /** The schedules defined in code (src/tasks: appSchedules), written to the ledger at startup. */
  schedules?: readonly ScheduleDefinition[];
  /** The scheduler's clock and a hook after a tick's enqueue (tests); `start: false` keeps it from firing on its own. */
  scheduler?: Pick<SchedulerOptions, 'now' | 'afterEnqueue'> & { start?: boolean };
}

/** Opens the ledger, chooses the backend and starts this process's parts; JobSystem.start makes the service of them. */
export async function startJobSystem(opts: JobSystemOptions): Promise<JobSystemParts> {
  const { config } = opts;
  const logger = opts.logger ?? createLogger(config.LOG_LEVEL, config.LOG_FORMAT);
  const { registry } = opts;
  const worker = opts.worker ?? config.WORKER_IN_PROCESS;
  // Before anything opens: a workflow naming a task this process does not know, or a task naming
  // a limit nobody declared, stops the start.
  const workflows = new WorkflowRegistry(opts.workflows ?? [], registry);
  const limitsApplied = resolveLimits(opts.limits ?? [], config, registry);
  // DATABASE_URL, or the embedded PostgreSQL that `npm start` runs: either way a PostgreSQL server
  // that every process of the deployment shares.
  const ledgerUrl = config.DATABASE_URL ?? config.EMBEDDED_LEDGER_URL;
  if (!ledgerUrl) {
    throw new ConfigError([
      'DATABASE_URL is not set and no embedded ledger was found: set DATABASE_URL to a PostgreSQL database, ' +
        'or start the embedded one with `npm start` (a process started by hand finds it in EMBEDDED_DIR).',
    ]);
  }
  const db = await openLedger({
    databaseUrl: ledgerUrl,
    embedded: !config.DATABASE_URL,
    applicationName: worker ? WORKER_APPLICATION_NAME : API_APPLICATION_NAME,
    logger,
  });
  const cleanup: (() => Promise<unknown>)[] = [() => db.close()];
  try {
    const ledger = new Ledger(db);
    const limits = new Limits({ ledger: ledger.limits, limits: limitsApplied, leaseMs: config.STALE_AFTER_MS, logger });
    cleanup.unshift(async () => limits.close());
    const deps = typeof opts.deps === 'function' ? opts.deps({ limits }) : (opts.deps ?? ({} as TaskDeps));
    const queueName = scopedQueueName(config.QUEUE_NAME, await ledger.queries.identity());
    const selection = await selectBackend({ ...config, DATABASE_URL: ledgerUrl }, logger, opts.tuning, queueName);
    cleanup.unshift(() => selection.adapter.close());
    const primary = selection.adapter;
    const bus = createEventBus({
      transport: busTransport(config, primary),
      namespace: queueName,
      logger,
      redisUrl: config.REDIS_URL,
      databaseUrl: ledgerUrl,
      pool: db.pool,
    });
    cleanup.unshift(() => bus.close());
    // A queue in this process's memory carries nothing in a process that runs no worker: there
    // the jobs wait in the ledger for a worker process's dispatcher. Processes that run workers
    // fail over to one while a shared backend is down.
    const fallback = worker && primary.capabilities.shared ? await createAdapter('inline', config, logger) : undefined;
    const dispatcher = new Dispatcher({
      ledger,
      primary: !primary.capabilities.shared && !worker ? undefined : primary,
      ...(fallback ? { fallback } : {}),
      logger,
      intervalMs: config.DISPATCH_INTERVAL_MS,
      redispatchAfterMs: config.REDISPATCH_AFTER_MS,
      // One order per tick, however many jobs the tick left in the outbox.
      onHeld: onceATick(() => bus.publishControl({ kind: 'dispatch' })),
    });
    // The one place that follows every ledger write: this process's listeners hear of it (metrics),
    // its events go on the bus, and a job it left waiting and leased (created, retrying, retried,
    // recovered) is sent to a queue. It runs after the write committed, so it never throws into
    // the write's caller: a client told "failed" about a job that exists would enqueue it twice.
    // What it could not do, the sweep does (a leased job is re-sent once overdue).
    const localChanges = new LocalChanges(logger);
    ledger.setAfterWrite(async (change) => {
      try {
        localChanges.emit(change);
        for (const message of toJobChanges(change)) bus.publishJobChange(message);
        if (isWaiting(change.job.status) && change.job.dispatchedAt) await dispatcher.dispatch(change.job);
      } catch (error) {
        logger.error({ err: error, jobId: change.job.id }, 'after a ledger write: publishing or dispatching failed; the sweep sends the job');
      }
    });

    let executor: Executor | undefined;
    let reaper: Reaper | undefined;
    let pruner: Pruner | undefined;
    let workerId: string | undefined;
    if (worker) {
      workerId = `${hostname()}:${process.pid}:${randomBytes(3).toString('hex')}`;
      const running = new Executor({
        workerId,
        ledger,
        prisma: db.prisma,
        query: (text, params) => db.query(text, params),
        deps,
        limits,
        registry,
        bus,
        dispatcher,
        logger,
        staleAfterMs: config.STALE_AFTER_MS,
        concurrency: config.WORKER_CONCURRENCY,
        retryBaseMs: config.RETRY_BASE_MS,
        heartbeatMs: config.HEARTBEAT_MS,
        heartbeatThread: { url: ledgerUrl, applicationName: WORKER_APPLICATION_NAME, killWhenStuck: opts.killWhenStuck ?? false },
      });
      executor = running;
      cleanup.unshift(async () => running.close());
      reaper = new Reaper({
        ledger,
        logger,
        staleAfterMs: config.STALE_AFTER_MS,
        intervalMs: Math.max(config.HEARTBEAT_MS, 250),
        runsHere: (jobId) => running.runs(jobId),
      });
      await ledger.liveness.registerWorker({
        id: workerId,
        hostname: hostname(),
        pid: process.pid,
        backend: backendOf(primary),
        concurrency: config.WORKER_CONCURRENCY,
      });
      // Whatever the in-process queues of a previous run held is gone with it.
      const local = fallback ?? primary;
      if (!local.capabilities.shared) {
        await ledger.outbox.forget(backendOf(local), 'the in-process queue that held it ended with its process; sent again');
      }
      const unsubscribeWake = bus.onControl((message) => {
        if (message.kind === 'dispatch') dispatcher.wake();
      });
      cleanup.unshift(async () => unsubscribeWake());
      await primary.consume(executor.deliver, config.WORKER_CONCURRENCY);
      await fallback?.consume(executor.deliver, config.WORKER_CONCURRENCY);
      reaper.start();
      const pruning = new Pruner({
        ledger,
        logger,
        rules: retentionRules(config, registry),
        batch: config.PRUNE_BATCH,
        intervalMs: config.PRUNE_INTERVAL_MS,
      });
      pruner = pruning;
      cleanup.unshift(async () => pruning.stop());
      pruning.start();
    }
    await bus.ready();
    dispatcher.start();
    logger.info(
      { backend: primary.name, ledger: db.kind, queue: queueName, eventBus: bus.transport, worker, workerId },
      'jobgraph started',
    );
    return {
      config, logger, registry, workflows, db, ledger, bus, selection, dispatcher, fallback, executor, reaper, pruner, workerId, queueName, deps, limits, localChanges,
      scheduler: opts.scheduler ?? {},
    };
  } catch (error) {
    for (const step of cleanup) await step().catch(() => {});
    throw error;
  }
}

/**
 * QUEUE_NAME with this ledger's identity: two deployments with ledgers of their own, one Redis and
 * one QUEUE_NAME each get their own queue (a delivery of a job another ledger holds would be
 * dropped by the claim and the job lost to the other deployment).
 */
export function scopedQueueName(queueName: string, ledgerId: string): string {
  return `${queueName}.${ledgerId.replaceAll('-', '').slice(0, 12)}`;
}

/** `fn`, run at most once per event-loop tick however often it is called. */
function onceATick(fn: () => void): () => void {
  let due = false;
  return () => {
    if (due) return;
    due = true;
    setImmediate(() => {
      due = false;
      fn();
    });
  };
}

/** Code's limits with LIMITS over them; a task naming a limit that is not there is a configuration error. */
function resolveLimits(definitions: readonly LimitDefinition[], config: Config, registry: TaskRegistry) {
  let resolved;
  try {
    resolved = applyOverrides(definitions, config.LIMITS ?? new Map());
  } catch (error) {
    throw new ConfigError([`LIMITS: ${(error as Error).message}`]);
  }
  const names = new Set(resolved.map((l) => l.name));
  const unknown = registry.list().flatMap((task) => (task.limits ?? []).filter((name) => !names.has(name)).map((name) => `task ${task.name} names limit "${name}", which no one declared`));
  if (unknown.length > 0) throw new ConfigError(unknown);
  return resolved;
}

/** EVENT_BUS=auto: the bus the backend's row pairs with (Redis beside BullMQ, LISTEN/NOTIFY otherwise). */
function busTransport(config: Config, primary: QueueAdapter): BusTransport {
  if (config.EVENT_BUS !== 'auto') return config.EVENT_BUS;
  return backendRow(primary.name).bus;
}
