import { hostname } from 'node:os';
import { randomBytes } from 'node:crypto';
import { ConfigError, type Config } from '../config.ts';
import { openLedger, type LedgerDb } from '../db/client.ts';
import { createEventBus, type BusTransport, type EventBus } from '../events/bus.ts';
import { createLogger, type Logger } from '../lib/logger.ts';
import { createInlineAdapter } from '../adapters/inline.ts';
import { selectBackend, type AdapterTuning, type BackendSelection } from '../adapters/select.ts';
import type { QueueAdapter, QueueCounts } from '../adapters/types.ts';
import type { TaskRegistry } from './task-registry.ts';
import { toJobChanges } from './changes.ts';
import { backendOf, Dispatcher, type DispatcherStatus } from './dispatcher.ts';
import { describeIssues, fieldIssues } from '../lib/issues.ts';
import { InvalidInputError } from './errors.ts';
import { Executor } from './executor.ts';
import { Ledger, type Job, type JobEvent } from './ledger.ts';
import { Reaper } from './reaper.ts';
import type { JobStatus } from './states.ts';

export interface JobSystemOptions {
  config: Config;
  logger?: Logger;
  /** The tasks this process knows (src/tasks: createTaskRegistry()); the core never imports them. */
  registry: TaskRegistry;
  /** Run workers in this process (default: config.WORKER_IN_PROCESS). */
  worker?: boolean;
  tuning?: AdapterTuning;
}

export interface EnqueueOptions {
  idempotencyKey?: string | null;
  delayMs?: number | null;
  priority?: number | null;
  createdBy?: string | null;
}

export interface QueueInfo {
  backend: QueueAdapter['name'];
  queueName: string;
  reason: string;
  probes: BackendSelection['probes'];
  dispatcher: DispatcherStatus;
  eventBus: BusTransport;
  ledger: LedgerDb['kind'];
  queue: QueueCounts | { error: string };
  jobs: { status: JobStatus; type: string; count: number }[];
  workers: { id: string; hostname: string; pid: number; backend: string; concurrency: number; heartbeatAt: Date; startedAt: Date }[];
}

/**
 * The job platform as one object: the ledger, the chosen queue backend and its fallback, the
 * event bus, and (in worker processes) the executor and the reaper. The API and `npm run worker`
 * both start one; tests start several against shared services.
 */
export class JobSystem {
  #stopping: Promise<void> | undefined;

  private constructor(
    readonly config: Config,
    readonly logger: Logger,
    readonly registry: TaskRegistry,
    readonly db: LedgerDb,
    readonly ledger: Ledger,
    readonly bus: EventBus,
    readonly selection: BackendSelection,
    readonly dispatcher: Dispatcher,
    private readonly fallback: QueueAdapter | undefined,
    private readonly executor: Executor | undefined,
    private readonly reaper: Reaper | undefined,
    /** This process's worker identity in the ledger; undefined when it runs no worker. */
    readonly workerId: string | undefined,
    /** QUEUE_NAME scoped to this ledger: the queue (BullMQ, pg-boss) and the bus channels. */
    readonly queueName: string,
  ) {}

  static async start(opts: JobSystemOptions): Promise<JobSystem> {
    const { config } = opts;
    const logger = opts.logger ?? createLogger(config.LOG_LEVEL);
    const { registry } = opts;
    const worker = opts.worker ?? config.WORKER_IN_PROCESS;
    if (!config.DATABASE_URL && !worker) {
      throw new ConfigError([
        'WORKER_IN_PROCESS=false needs DATABASE_URL: without it the ledger is embedded (PGlite), which belongs to ' +
          'one process, so no worker process could ever run these jobs. Set DATABASE_URL to a PostgreSQL database, ' +
          'or keep WORKER_IN_PROCESS=true.',
      ]);
    }
    const db = await openLedger({ databaseUrl: config.DATABASE_URL, pgliteDir: config.PGLITE_DIR, logger });
    const cleanup: (() => Promise<unknown>)[] = [() => db.close()];
    try {
      const ledger = new Ledger(db);
      const queueName = scopedQueueName(config.QUEUE_NAME, await ledger.identity());
      const selection = await selectBackend(config, logger, opts.tuning, queueName);
      cleanup.unshift(() => selection.adapter.close());
      const primary = selection.adapter;
      const bus = createEventBus({
        transport: busTransport(config, db, primary),
        namespace: queueName,
        logger,
        redisUrl: config.REDIS_URL,
        ...(config.DATABASE_URL ? { databaseUrl: config.DATABASE_URL } : {}),
        ...(db.pool ? { pool: db.pool } : {}),
      });
      cleanup.unshift(() => bus.close());
      // The in-process queue carries nothing in a process that runs no worker: there the jobs wait
      // in the ledger for a worker process's dispatcher.
      const fallback = worker && primary.name !== 'inline' ? createInlineAdapter() : undefined;
      const dispatcher = new Dispatcher({
        ledger,
        primary: primary.name === 'inline' && !worker ? undefined : primary,
        ...(fallback ? { fallback } : {}),
        logger,
        intervalMs: config.DISPATCH_INTERVAL_MS,
        redispatchAfterMs: config.REDISPATCH_AFTER_MS,
      });
      // The one place that follows every ledger write: its events go on the bus, and a job it left
      // QUEUED (created, retried, handed back, recovered) is sent to a queue.
      ledger.setAfterWrite(async (change) => {
        for (const message of toJobChanges(change)) bus.publishJobChange(message);
        if (change.job.status === 'QUEUED' && change.job.dispatchedAt) await dispatcher.dispatch(change.job);
      });

      let executor: Executor | undefined;
      let reaper: Reaper | undefined;
      let workerId: string | undefined;
      if (worker) {
        workerId = `${hostname()}:${process.pid}:${randomBytes(3).toString('hex')}`;
        const running = new Executor({
          workerId,
          ledger,
          prisma: db.prisma,
          registry,
          bus,
          dispatcher,
          logger,
          staleAfterMs: config.STALE_AFTER_MS,
          concurrency: config.WORKER_CONCURRENCY,
          retryBaseMs: config.RETRY_BASE_MS,
          heartbeatMs: config.HEARTBEAT_MS,
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
        await ledger.registerWorker({
          id: workerId,
          hostname: hostname(),
          pid: process.pid,
          backend: backendOf(primary),
          concurrency: config.WORKER_CONCURRENCY,
        });
        // Whatever the in-process queues of a previous run held is gone with it.
        await ledger.forgetDispatches('INLINE', 'the in-process queue that held it ended with its process; sent again');
        // The embedded ledger has one process: whatever is RUNNING was left by a previous run.
        if (db.kind === 'pglite') await reaper.reap(0);
        await primary.consume(executor.deliver, config.WORKER_CONCURRENCY);
        await fallback?.consume(executor.deliver, config.WORKER_CONCURRENCY);
        reaper.start();
      }
      await bus.ready();
      dispatcher.start();
      const system = new JobSystem(config, logger, registry, db, ledger, bus, selection, dispatcher, fallback, executor, reaper, workerId, queueName);
      logger.info(
        { backend: primary.name, ledger: db.kind, queue: queueName, eventBus: bus.transport, worker, workerId },
        'jobgraph started',
      );
      return system;
    } catch (error) {
      for (const step of cleanup) await step().catch(() => {});
      throw error;
    }
  }

  // ── jobs ──────────────────────────────────────────────────────────────────

  /** Validates the input against the task, records the job and hands it to a queue. */
  async enqueue(type: string, input: unknown, opts: EnqueueOptions = {}): Promise<{ job: Job; deduplicated: boolean }> {
    const task = this.registry.get(type);
    const parsed = task.input.safeParse(input);
    if (!parsed.success) {
      const issues = fieldIssues(parsed.error);
      throw new InvalidInputError(`Invalid input for ${type}: ${describeIssues(issues)}`, issues);
    }
    const created = await this.ledger.createJob({
      type,
      phase: task.phase,
      input: parsed.data,
      maxAttempts: task.maxAttempts ?? this.config.MAX_ATTEMPTS,
      backend: backendOf(this.selection.adapter),
      idempotencyKey: opts.idempotencyKey ?? null,
      priority: opts.priority ?? 0,
      delayMs: opts.delayMs ?? 0,
      createdBy: opts.createdBy ?? null,
    });
    return { job: created.job, deduplicated: created.deduplicated };
  }

  /** Cancels a job: a queued one at once, a running one by aborting it wherever it runs. */
  async cancel(jobId: string, by: string | null = null): Promise<Job> {
    const { job, change, queueRef } = await this.ledger.cancel(jobId, by);
    if (!change) return job;
    if (job.status === 'CANCELLING') {
      this.bus.publishControl({ kind: 'cancel', jobId });
      this.executor?.abort(jobId, 'cancel');
    } else if (queueRef) {
      const adapter = [this.selection.adapter, this.fallback].find((a) => a && backendOf(a) === job.backend);
      await adapter?.remove(queueRef).catch((error: unknown) => {
        this.logger.debug({ err: error, jobId }, 'could not remove a cancelled job from its queue; its claim will drop it');
      });
    }
    return job;
  }

  /** Runs a FAILED or CANCELLED job again as a new attempt, with a fresh retry budget. */
  async retry(jobId: string, by: string | null = null): Promise<Job> {
    const current = await this.ledger.requireJob(jobId);
    const budget = this.registry.has(current.type)
      ? (this.registry.get(current.type).maxAttempts ?? this.config.MAX_ATTEMPTS)
      : this.config.MAX_ATTEMPTS;
    const change = await this.ledger.retry(jobId, budget, by);
    return change.job;
  }

  getJob(jobId: string): Promise<Job | undefined> {
    return this.ledger.getJob(jobId);
  }

  events(jobId: string, opts?: { afterSeq?: number; last?: number }): Promise<JobEvent[]> {
    return this.ledger.events(jobId, opts);
  }

  async queueInfo(): Promise<QueueInfo> {
    const queue = await this.selection.adapter.counts().catch((error: unknown) => ({
      error: error instanceof Error ? error.message : String(error),
    }));
    const jobs = await this.db.query<{ status: JobStatus; type: string; count: number }>(
      `SELECT "status", "type", count(*)::int AS count FROM "Job" GROUP BY "status", "type" ORDER BY "type", "status"`,
    );
    const workers = await this.db.query<QueueInfo['workers'][number]>(
      `SELECT id, hostname, pid, backend, concurrency, "heartbeatAt", "startedAt" FROM "Worker"
       WHERE "stoppedAt" IS NULL AND "heartbeatAt" > now() - $1 * interval '1 millisecond' ORDER BY "startedAt"`,
      [this.config.STALE_AFTER_MS],
    );
    return {
      backend: this.selection.adapter.name,
      queueName: this.queueName,
      reason: this.selection.reason,
      probes: this.selection.probes,
      dispatcher: this.dispatcher.status(),
      eventBus: this.bus.transport,
      ledger: this.db.kind,
      queue,
      jobs,
      workers,
    };
  }

  // ── lifecycle ─────────────────────────────────────────────────────────────

  /**
   * Graceful stop: take no new jobs, let running ones finish for up to SHUTDOWN_TIMEOUT_MS, hand
   * back the rest (their attempt does not count), send the handed-back jobs to the queue when it
   * outlives this process, then close everything. Idempotent.
   */
  stop(): Promise<void> {
    this.#stopping ??= this.#stop();
    return this.#stopping;
  }

  async #stop(): Promise<void> {
    const { executor, reaper, dispatcher, selection, fallback } = this;
    this.logger.info({ running: executor?.runningJobIds.length ?? 0 }, 'stopping: no new jobs');
    await dispatcher.stop();
    await reaper?.stop();
    if (executor) {
      const deadline = setTimeout(() => executor.abortAll('shutdown'), this.config.SHUTDOWN_TIMEOUT_MS);
      await Promise.all([selection.adapter.stopConsuming(), fallback?.stopConsuming()]);
      clearTimeout(deadline);
      executor.close();
      // Handed-back jobs go to the shared queue now, so another worker takes them at once.
      if (selection.adapter.name !== 'inline') {
        await dispatcher.flush().catch((error: unknown) => this.logger.warn({ err: error }, 'could not hand back jobs'));
      }
      if (this.workerId) await this.ledger.unregisterWorker(this.workerId).catch(() => {});
    }
    await fallback?.close();
    await selection.adapter.close();
    await this.bus.close();
    await this.db.close();
    this.logger.info('stopped');
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

/** EVENT_BUS=auto: Redis beside BullMQ; LISTEN/NOTIFY on a Postgres ledger; in-process on PGlite (one process). */
function busTransport(config: Config, db: LedgerDb, primary: QueueAdapter): BusTransport {
  if (config.EVENT_BUS !== 'auto') return config.EVENT_BUS;
  if (db.kind === 'pglite') return 'memory';
  return primary.name === 'bullmq' ? 'redis' : 'postgres';
}
