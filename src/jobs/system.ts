import type { Config } from '../config.ts';
import type { LedgerDb } from '../db/client.ts';
import type { JobChange } from '../events/messages.ts';
import type { EventBus } from '../events/bus.ts';
import type { Logger } from '../lib/logger.ts';
import { describeIssues, fieldIssues, type FieldIssue } from '../lib/issues.ts';
import { withTimeout } from '../lib/timeouts.ts';
import { Semaphore } from '../lib/semaphore.ts';
import { errorText } from '../lib/errors.ts';
import { formatPeriod, parsePeriod } from '../lib/duration.ts';
import { currentTraceparent, SpanKind, withSpan, type Span } from '../lib/tracing.ts';
import { enqueueAttributes } from './tracing.ts';
import type { QueueAdapter } from '../adapters/types.ts';
import type { BackendSelection } from './backend-selection.ts';
import { backendOf, type Dispatcher } from './dispatcher.ts';
import { optionIssues } from './enqueue-options.ts';
import { IllegalTransitionError, InvalidInputError, JobNotFoundError, UnknownTaskError } from './errors.ts';
import { BULK_LIMIT, bulkIssues, type BulkOptions, type BulkResult } from './job-filter.ts';
import type { Executor } from './executor.ts';
import type { Change, Job, JobEvent, JobFilter, JobListFilter, Ledger, NewJob, ThroughputRow } from './ledger/index.ts';
import type { Pruner } from './pruner.ts';
import type { Reaper } from './reaper.ts';
import type { EnqueueItem, EnqueueOptions, JobService, QueueInfo, Readiness } from './service.ts';
import { startJobSystem, type JobSystemOptions } from './start.ts';
import type { TaskRegistry } from './task-registry.ts';
import type { TaskDeps } from './task.ts';
import type { LocalChanges } from './local-changes.ts';
import { RunAdvancer } from './runs/advancer.ts';
import { Runs } from './runs/runs.ts';
import type { WorkflowRegistry } from './runs/workflow.ts';
import { isTerminal, sourcesOf } from './states.ts';
import type { Limits } from './limits/limits.ts';
import { Scheduler, type SchedulerOptions } from './schedules/scheduler.ts';
import { Schedules } from './schedules/schedules.ts';

export type { EnqueueOptions, JobService, QueueInfo, Readiness } from './service.ts';
export type { JobSystemOptions } from './start.ts';

/** How many jobs of a bulk action are changed at once (each as its single action, a few statements). */
const BULK_IN_FLIGHT = 4;

/** What startJobSystem wires together. */
export interface JobSystemParts {
  config: Config;
  logger: Logger;
  registry: TaskRegistry;
  workflows: WorkflowRegistry;
  db: LedgerDb;
  ledger: Ledger;
  bus: EventBus;
  selection: BackendSelection;
  dispatcher: Dispatcher;
  fallback: QueueAdapter | undefined;
  executor: Executor | undefined;
  reaper: Reaper | undefined;
  pruner: Pruner | undefined;
  workerId: string | undefined;
  queueName: string;
  deps: TaskDeps;
  limits: Limits;
  localChanges: LocalChanges;
  /** The scheduler's clock and hook (tests), and whether it fires on its own. */
  scheduler: Pick<SchedulerOptions, 'now' | 'afterEnqueue'> & { start?: boolean };
}

/**
 * The job system as a service (JobService, what the API may ask), over the parts startJobSystem
 * wired: the ledger, the chosen queue backend and its fallback, the event bus, and (in worker
 * processes) the executor and the reaper. The API and `npm run worker` both start one; tests start
 * several against shared services and may look at the parts.
 */
export class JobSystem implements JobService {
  #stopping: Promise<void> | undefined;

  readonly config: Config;
  readonly logger: Logger;
  readonly registry: TaskRegistry;
  readonly db: LedgerDb;
  readonly ledger: Ledger;
  readonly bus: EventBus;
  readonly selection: BackendSelection;
  readonly dispatcher: Dispatcher;
  /** This process's worker identity in the ledger; undefined when it runs no worker. */
  readonly workerId: string | undefined;
  /** QUEUE_NAME scoped to this ledger: the queue (BullMQ, pg-boss) and the bus channels. */
  readonly queueName: string;
  /** What tasks get as ctx.deps (and their enqueue checks). */
  readonly deps: TaskDeps;
  /** The deployment's shared limits: take, pause, and what is taken of each. */
  readonly limits: Limits;
  readonly #fallback: QueueAdapter | undefined;
  readonly #executor: Executor | undefined;
  readonly #reaper: Reaper | undefined;
  /** Retention, in processes that run workers. */
  readonly pruner: Pruner | undefined;
  readonly #localChanges: LocalChanges;
  /** Workflow runs: start, decide gates, retry, re-run, cancel, read. */
  readonly runs: Runs;
  /** Moves runs forward (and sweeps them); the service's actions use it, tests may too. */
  readonly advancer: RunAdvancer;
  readonly #stopRunNudges: () => void;
  /** Fires due schedules (every process may: one job per tick). */
  readonly scheduler: Scheduler;
  /** Schedules: in code, made at run time, paused, resumed, deleted. */
  readonly schedules: Schedules;
  readonly #startScheduler: boolean;

  /** Made of the parts startJobSystem (start.ts) wires. */
  constructor(parts: JobSystemParts) {
    this.config = parts.config;
    this.logger = parts.logger;
    this.registry = parts.registry;
    this.db = parts.db;
    this.ledger = parts.ledger;
    this.bus = parts.bus;
    this.selection = parts.selection;
    this.dispatcher = parts.dispatcher;
    this.workerId = parts.workerId;
    this.queueName = parts.queueName;
    this.deps = parts.deps;
    this.limits = parts.limits;
    this.#fallback = parts.fallback;
    this.#executor = parts.executor;
    this.#reaper = parts.reaper;
    this.pruner = parts.pruner;
    this.#localChanges = parts.localChanges;
    const { bus } = parts;
    this.advancer = new RunAdvancer({
      ledger: parts.ledger,
      workflows: parts.workflows,
      logger: parts.logger,
      prepare: (type, input, createdBy) => this.#prepareOrThrow(type, input, { createdBy }),
      cancelJob: (jobId, by) => this.cancel(jobId, by),
      published: (runId, seq) => bus.publishRunChange({ runId, seq }),
      sweepIntervalMs: parts.config.RUN_SWEEP_INTERVAL_MS,
    });
    this.runs = new Runs({
      ledger: parts.ledger,
      workflows: parts.workflows,
      advancer: this.advancer,
      publish: (runId, seq) => bus.publishRunChange({ runId, seq }),
      check: async (workflow, input) => (workflow.check ? workflow.check(input, { db: parts.db.prisma, deps: parts.deps }) : []),
      listen: (listener) => bus.onRunChange(listener),
    });
    this.scheduler = new Scheduler({
      ledger: parts.ledger.schedules,
      logger: parts.logger.child({ component: 'scheduler' }),
      enqueue: (task, input, opts) => this.enqueue(task, input, opts),
      pollMs: parts.config.SCHEDULER_POLL_MS,
      graceMs: parts.config.SCHEDULE_GRACE_MS,
      ...parts.scheduler,
    });
    this.#startScheduler = parts.config.SCHEDULER && parts.scheduler.start !== false;
    this.schedules = new Schedules({
      ledger: parts.ledger.schedules,
      scheduler: this.scheduler,
      check: async (task, input) => {
        const prepared = await this.#prepare(task, input, {});
        if (!('issues' in prepared)) return [];
        return prepared.issues.map((issue) => ({ ...issue, path: prepared.in === 'type' ? ['task'] : [prepared.in, ...issue.path] }));
      },
      ...(parts.scheduler.now ? { now: parts.scheduler.now } : {}),
    });
    // A step's job that this process ended moves its run now; any other case is the run sweep's.
    this.#stopRunNudges = parts.localChanges.add((change) => {
      if (change.job.runId && isTerminal(change.job.status)) this.advancer.nudge(change.job.runId);
    });
  }

  /** Starts a job system (see start.ts). */
  static async start(opts: JobSystemOptions): Promise<JobSystem> {
    const system = new JobSystem(await startJobSystem(opts));
    system.advancer.start();
    try {
      await system.schedules.syncCode(opts.schedules ?? []);
    } catch (error) {
      await system.stop();
      throw error;
    }
    if (system.#startScheduler) system.scheduler.start();
    return system;
  }

  get tasks(): JobService['tasks'] {
    return this.registry;
  }

  // ── jobs ──────────────────────────────────────────────────────────────────

  /** Validates the input against the task, records the job and hands it to a queue. */
  async enqueue(type: string, input: unknown, opts: EnqueueOptions = {}): Promise<{ job: Job; deduplicated: boolean }> {
    // Prepared inside its span: the job carries the span's traceparent (see #prepare).
    return withSpan(`jobgraph.enqueue ${type}`, enqueueAttributes(type), async (span) => this.#write(await this.#prepareOrThrow(type, input, opts), span), { kind: SpanKind.PRODUCER });
  }

  /**
   * Records a prepared job (its span the caller's enqueue span; the ledger write a child of it),
   * then applies its concurrency policy.
   */
  async #write(job: NewJob, span: Span): Promise<{ job: Job; deduplicated: boolean }> {
    const created = await withSpan('jobgraph.ledger.createJob', { 'db.system.name': 'postgresql', 'db.operation.name': 'createJob' }, () => this.ledger.transitions.createJob(job));
    span.setAttributes({ 'jobgraph.job.id': created.job.id, 'messaging.message.id': created.job.id, 'jobgraph.deduplicated': created.deduplicated });
    return this.#created(created);
  }

  /**
   * After a job went in: with concurrency policy 'cancel-in-progress', the older live jobs of its
   * key beyond what the key allows besides it are cancelled (the new one waits at its claim until
   * they have stopped). Should this process die first, the new job waits its turn instead.
   */
  async #created(created: { job: Job; deduplicated: boolean }): Promise<{ job: Job; deduplicated: boolean }> {
    const { job, deduplicated } = created;
    const policy = this.registry.has(job.type) ? this.registry.get(job.type).concurrencyKey?.policy : undefined;
    if (deduplicated || policy !== 'cancel-in-progress' || !job.concurrencyKey) return created;
    const older = (await this.ledger.queries.liveByConcurrencyKey(job.type, job.concurrencyKey)).filter((other) => other.id !== job.id && other.createdAt <= job.createdAt);
    for (const other of older.slice(Math.max(0, (job.concurrencyLimit ?? 1) - 1))) {
      await this.cancel(other.id, `a newer job of its concurrency key (${job.id})`).catch((error: unknown) => {
        this.logger.warn({ err: error, jobId: other.id }, 'cancel-in-progress: could not cancel an older job of the key');
      });
    }
    return created;
  }

  /**
   * Validates every item before it writes any: one unfit item refuses them all, its issues under
   * its index (`3.input.text`, `3.type`). Then the jobs are written together: creations of one
   * turn share one statement.
   */
  async enqueueMany(items: EnqueueItem[]): Promise<{ job: Job; deduplicated: boolean }[]> {
    const prepared = await Promise.all(items.map((item) => this.#prepare(item.type, item.input, item.opts ?? {})));
    const issues = prepared.flatMap((p, i) =>
      'issues' in p ? p.issues.map((issue) => ({ ...issue, path: [String(i), ...(p.in === 'input' ? ['input'] : []), ...issue.path] })) : [],
    );
    if (issues.length > 0) throw new InvalidInputError(`Invalid jobs: ${describeIssues(issues)}`, issues);
    return Promise.all(
      prepared.map((p) => {
        const { job } = p as { job: NewJob };
        // Each job in a span of its own, whose traceparent it carries.
        return withSpan(`jobgraph.enqueue ${job.type}`, enqueueAttributes(job.type), (span) => this.#write({ ...job, traceparent: currentTraceparent() }, span), { kind: SpanKind.PRODUCER });
      }),
    );
  }

  /**
   * The job to record for an enqueue, or why it does not fit: its type, its options (paths: the
   * option's name) or its input (paths within it). Every caller's options meet the one rule here
   * (enqueue-options.ts): a priority no queue takes would never leave the outbox.
   */
  async #prepare(
    type: string,
    input: unknown,
    opts: EnqueueOptions,
  ): Promise<{ job: NewJob } | { issues: FieldIssue[]; in: 'type' | 'options' | 'input' }> {
    if (!this.registry.has(type)) return { issues: [{ path: ['type'], message: `no task named "${type}"` }], in: 'type' };
    const unfitOptions = optionIssues(opts);
    if (unfitOptions.length > 0) return { issues: unfitOptions, in: 'options' };
    const task = this.registry.get(type);
    const parsed = task.input.safeParse(input);
    if (!parsed.success) return { issues: fieldIssues(parsed.error), in: 'input' };
    const unfit = task.check ? await task.check(parsed.data, { db: this.db.prisma, deps: this.deps }) : [];
    if (unfit.length > 0) return { issues: unfit, in: 'input' };
    const createdBy = opts.createdBy ?? null;
    const key = task.concurrencyKey;
    const concurrencyKey = key ? key.key(parsed.data) : null;
    const debounceKey = task.debounce ? task.debounce.key(parsed.data) : null;
    return {
      job: {
        type,
        phase: task.phase,
        input: parsed.data,
        maxAttempts: task.maxAttempts ?? this.config.MAX_ATTEMPTS,
        backend: backendOf(this.selection.adapter),
        idempotencyKey: opts.idempotencyKey ?? null,
        priority: opts.priority ?? 0,
        // A debounced job waits its window (or the delay asked, if longer).
        delayMs: Math.max(opts.delayMs ?? 0, task.debounce ? parsePeriod(task.debounce.window) : 0),
        createdBy,
        concurrencyKey,
        concurrencyLimit: key ? (key.limit ?? 1) : null,
        singletonKey: key?.policy === 'drop' ? concurrencyKey : null,
        debounceKey,
        fairGroup: task.fairness ? task.fairness.group(parsed.data, createdBy) : (createdBy ?? ''),
        scheduleId: opts.scheduleId ?? null,
        tags: [...new Set([...(task.tags?.(parsed.data) ?? []), ...(opts.tags ?? [])])],
        // The span enqueuing it: the processes that dispatch and run the job continue its trace.
        traceparent: currentTraceparent(),
      },
    };
  }

  /** #prepare, as the error an enqueue would throw: for a workflow step's job. */
  async #prepareOrThrow(type: string, input: unknown, opts: EnqueueOptions): Promise<NewJob> {
    const prepared = await this.#prepare(type, input, opts);
    if ('issues' in prepared && prepared.in === 'type') throw new UnknownTaskError(type);
    if ('issues' in prepared) throw new InvalidInputError(`Invalid ${prepared.in} for ${type}: ${describeIssues(prepared.issues)}`, prepared.issues);
    return prepared.job;
  }

  /** Cancels a job: a queued one at once, a running one by aborting it wherever it runs. */
  async cancel(jobId: string, by: string | null = null): Promise<Job> {
    return (await this.#cancel(jobId, by)).job;
  }

  /** cancel, saying whether this call changed the job (not when it was cancelled already). */
  async #cancel(jobId: string, by: string | null): Promise<{ job: Job; changed: boolean }> {
    const { job, change, queueRef } = await this.ledger.transitions.cancel(jobId, by);
    if (!change) return { job, changed: false };
    if (job.status === 'CANCELLING') {
      this.bus.publishControl({ kind: 'cancel', jobId });
      this.#executor?.abort(jobId, 'cancel');
    } else if (queueRef) {
      const adapter = [this.selection.adapter, this.#fallback].find((a) => a && backendOf(a) === job.backend);
      await adapter?.remove(queueRef).catch((error: unknown) => {
        this.logger.debug({ err: error, jobId }, 'could not remove a cancelled job from its queue; its claim will drop it');
      });
    }
    return { job, changed: true };
  }

  /** Runs a FAILED or CANCELLED job again as a new attempt, with a fresh retry budget. */
  async retry(jobId: string, by: string | null = null): Promise<Job> {
    const current = await this.ledger.queries.requireJob(jobId);
    const budget = this.registry.has(current.type)
      ? (this.registry.get(current.type).maxAttempts ?? this.config.MAX_ATTEMPTS)
      : this.config.MAX_ATTEMPTS;
    const change = await this.ledger.transitions.retry(jobId, budget, by);
    return change.job;
  }

  /** Cancels a batch of the jobs matching `filter`, each as `cancel` does (see JobService.cancelJobs). */
  cancelJobs(filter: JobFilter, opts: BulkOptions = {}): Promise<BulkResult> {
    return this.#bulk('cancel', filter, opts, async (jobId, by) => (await this.#cancel(jobId, by)).changed);
  }

  /** Retries a batch of the FAILED and CANCELLED jobs matching `filter`, each as `retry` does. */
  retryJobs(filter: JobFilter, opts: BulkOptions = {}): Promise<BulkResult> {
    return this.#bulk('retry', filter, opts, async (jobId, by) => {
      await this.retry(jobId, by);
      return true;
    });
  }

  /**
   * A bulk action: the batch of matching jobs in a status the action starts from (the state
   * table's), then the single action on each, a few at once. A job another writer moved between
   * the two (finished, cancelled, pruned) is left out of `changed`, not an error.
   */
  async #bulk(
    action: 'cancel' | 'retry',
    filter: JobFilter,
    opts: BulkOptions,
    act: (jobId: string, by: string) => Promise<boolean>,
  ): Promise<BulkResult> {
    const issues = bulkIssues(filter, opts);
    if (issues.length > 0) throw new InvalidInputError(`Invalid bulk ${action}: ${describeIssues(issues)}`, issues);
    const { ids, hasMore } = await this.ledger.queries.matchingIds(filter, sourcesOf(action), opts.limit ?? BULK_LIMIT.default);
    if (opts.dryRun) return { matched: ids, changed: [], hasMore };
    const by = opts.by ? `${opts.by}, in a bulk ${action}` : `a bulk ${action}`;
    const slots = new Semaphore(BULK_IN_FLIGHT);
    const acted = await Promise.all(
      ids.map(async (jobId) => {
        const release = await slots.acquire();
        try {
          return await act(jobId, by);
        } catch (error) {
          if (!(error instanceof IllegalTransitionError || error instanceof JobNotFoundError)) throw error;
          return false;
        } finally {
          release();
        }
      }),
    );
    return { matched: ids, changed: ids.filter((_, i) => acted[i]), hasMore };
  }

  getJob(jobId: string): Promise<Job | undefined> {
    return this.ledger.queries.getJob(jobId);
  }

  events(jobId: string, opts?: { afterSeq?: number; last?: number }): Promise<JobEvent[]> {
    return this.ledger.queries.events(jobId, opts);
  }

  listJobs(filter: JobListFilter): Promise<{ jobs: Job[]; hasNextPage: boolean }> {
    return this.ledger.queries.listJobs(filter);
  }

  onJobChange(listener: (change: JobChange) => void): () => void {
    return this.bus.onJobChange(listener);
  }

  onLocalChange(listener: (change: Change) => void): () => void {
    return this.#localChanges.add(listener);
  }

  async readiness(): Promise<Readiness> {
    const status = this.dispatcher.status();
    const backend = this.selection.adapter.name;
    try {
      await withTimeout(this.db.query('SELECT 1'), 2_000, 'no answer within 2 s');
    } catch (error) {
      return { ready: false, reason: `ledger unreachable: ${errorText(error)}`, backend, usingFallback: false };
    }
    if (!status.primaryHealthy && !status.usingFallback) {
      return { ready: false, reason: `${backend} is down: ${status.lastProbe?.detail ?? 'no probe yet'}`, backend, usingFallback: false };
    }
    const reason = status.usingFallback ? `${backend} is down; jobs run on the in-process fallback` : `${backend} is up`;
    return { ready: true, reason, backend, usingFallback: status.usingFallback };
  }

  async queueInfo(): Promise<QueueInfo> {
    const queue = await this.selection.adapter.counts().catch((error: unknown) => ({
      error: error instanceof Error ? error.message : String(error),
    }));
    // Together: on the embedded ledger each read waits for the session, and they wait once, not twice.
    const [jobs, workers, retention] = await Promise.all([
      this.ledger.queries.counts(),
      this.ledger.queries.liveWorkers(this.config.STALE_AFTER_MS),
      this.ledger.retention.summary(),
    ]);
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
      retention: { ...retention, completed: formatPeriod(this.config.JOB_RETENTION), failed: formatPeriod(this.config.JOB_RETENTION_FAILED) },
    };
  }

  throughput(minutes: number): Promise<ThroughputRow[]> {
    return this.ledger.queries.throughput(minutes);
  }

  oldestWaiting(): Promise<{ type: string; seconds: number }[]> {
    return this.ledger.queries.oldestWaiting();
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
    const { dispatcher, selection } = this;
    const [executor, reaper, fallback] = [this.#executor, this.#reaper, this.#fallback];
    this.logger.info({ running: executor?.runningJobIds.length ?? 0 }, 'stopping: no new jobs');
    await this.scheduler.stop();
    await dispatcher.stop();
    this.#stopRunNudges();
    await this.advancer.stop();
    await reaper?.stop();
    await this.pruner?.stop();
    if (executor) {
      const deadline = setTimeout(() => executor.abortAll('shutdown'), this.config.SHUTDOWN_TIMEOUT_MS);
      await Promise.all([selection.adapter.stopConsuming(), fallback?.stopConsuming()]);
      clearTimeout(deadline);
      await executor.settled();
      await executor.close();
      // Handed-back jobs go to the shared queue now, so another worker takes them at once.
      if (selection.adapter.capabilities.shared) {
        await dispatcher.flush().catch((error: unknown) => this.logger.warn({ err: error }, 'could not hand back jobs'));
      }
      if (this.workerId) await this.ledger.liveness.unregisterWorker(this.workerId).catch(() => {});
    }
    await fallback?.close();
    await selection.adapter.close();
    await this.bus.close();
    await this.db.close();
    this.logger.info('stopped');
  }
}

