import type { PrismaClient } from '../generated/prisma/client.ts';
import type { EventBus } from '../events/bus.ts';
import type { Logger } from '../lib/logger.ts';
import type { TaskRegistry } from './task-registry.ts';
import type { AnyTask, TaskContext, TaskDeps } from './task.ts';
import { UnansweredError, whileUnreachable } from '../db/conflicts.ts';
import type { Dispatcher } from './dispatcher.ts';
import { CodedError } from '../lib/errors.ts';
import { describeIssues, fieldIssues } from '../lib/issues.ts';
import { JobAbortedError, JobTimeoutError, NonRetryableError, RetryAtError, type AbortReason } from './errors.ts';
import type { Change, Job, Ledger } from './ledger/index.ts';
import { retryDelayMs } from './retry.ts';
import { Semaphore } from '../lib/semaphore.ts';
import type { JobStatus } from '../generated/prisma/enums.ts';
import { HeartbeatThread } from './heartbeat-thread.ts';
import { inJobScope } from './job-scope.ts';
import type { Limits, Permit } from './limits/limits.ts';
import { failSpan, inSpan, SpanKind, startSpan, type Span } from '../lib/tracing.ts';
import { jobAttributes, jobTraceContext } from './tracing.ts';

export interface ExecutorOptions {
  workerId: string;
  ledger: Ledger;
  prisma: PrismaClient;
  /** The job database without the ORM: ctx.sql. */
  query<T>(text: string, params?: unknown[]): Promise<T[]>;
  /** Handed to every task as ctx.deps. */
  deps: TaskDeps;
  /** The shared limits a task names (TaskDefinition.limits) are taken from these. */
  limits: Limits;
  registry: TaskRegistry;
  bus: EventBus;
  dispatcher: Dispatcher;
  logger: Logger;
  concurrency: number;
  retryBaseMs: number;
  heartbeatMs: number;
  /** The reaper takes a job whose heartbeat is this old: an outcome is retried for as long (after an outage the reaper waits as long). */
  staleAfterMs: number;
  /** How long a handler may take to return after its signal is aborted before the job is settled anyway. */
  abortGraceMs?: number;
  /**
   * Heartbeats from a thread of their own (HeartbeatThread), over a connection to this ledger URL,
   * so a handler that blocks the event loop does not starve them. Without it (tests that pass
   * none) they are written from the event loop.
   */
  heartbeatThread?: { url: string; applicationName: string; killWhenStuck: boolean };
}

interface Running {
  job: Job;
  controller: AbortController;
  /** When a loop still blocked by this job's handler means it is stuck (its timeout and grace passed); null: never. */
  stuckAfter: number | null;
}

/**
 * Runs delivered jobs, identically whatever queue delivered them: claim in the ledger, validate the
 * input, call the handler with its context, then record the outcome (complete, retry with the
 * core's backoff, fail, cancel, or hand back at shutdown). Also the process's heartbeat and the
 * receiver of cancel orders from the bus.
 */
export class Executor {
  readonly #opts: ExecutorOptions;
  readonly #log: Logger;
  readonly #slots: Semaphore;
  /**
   * Outcomes being written. A finished handler frees its slot (and its delivery goes back to the
   * queue) while its outcome is written, so the next job starts without waiting for that commit,
   * and outcomes written together share a statement. Bounded: a job waits here, slot held, while
   * `concurrency` outcomes are in flight.
   */
  readonly #outcomeSlots: Semaphore;
  readonly #settling = new Set<Promise<void>>();
  readonly #taskSlots = new Map<string, Semaphore>();
  readonly #running = new Map<string, Running>();
  /** Each running job's coalesced progress, drained before its outcome is recorded. */
  readonly #progress = new Map<string, Coalesced<{ percent: number; message: string | null }>>();
  readonly #unsubscribe: () => void;
  readonly #thread: HeartbeatThread | undefined;
  #heartbeat: NodeJS.Timeout | undefined;
  #beating = false;

  constructor(opts: ExecutorOptions) {
    this.#opts = opts;
    this.#log = opts.logger.child({ component: 'executor', workerId: opts.workerId });
    this.#slots = new Semaphore(opts.concurrency);
    this.#outcomeSlots = new Semaphore(opts.concurrency);
    this.#unsubscribe = opts.bus.onControl((message) => {
      if (message.kind === 'cancel') this.abort(message.jobId, 'cancel');
    });
    if (opts.heartbeatThread) {
      const setup = {
        ...opts.heartbeatThread,
        workerId: opts.workerId,
        intervalMs: opts.heartbeatMs,
        blockedAfterMs: Math.max(1_000, opts.heartbeatMs),
        graceMs: this.#graceMs,
      };
      this.#thread = new HeartbeatThread(setup, (asked, held) => this.#judge(asked, held), this.#log);
    } else {
      this.#heartbeat = setInterval(() => void this.#beat(), opts.heartbeatMs);
      this.#heartbeat.unref();
    }
  }

  get #graceMs(): number {
    return this.#opts.abortGraceMs ?? 2_000;
  }

  /**
   * The QueueAdapter delivery handler. Never throws. Resolves once the job's handler has finished,
   * before its outcome is committed (see #outcomeSlots): from its claim on the job is held by this
   * worker in the ledger, not by the queue entry, so the queue may let go of it.
   */
  readonly deliver = async (jobId: string): Promise<void> => {
    const release = await this.#slots.acquire();
    try {
      await this.#run(jobId);
    } catch (error) {
      // Nothing is lost: a job whose claim was not written stays QUEUED for the sweep; one whose
      // outcome was not written stays RUNNING without heartbeats for the reaper.
      this.#log.error({ err: error, jobId }, 'could not write to the ledger; the sweep or the reaper will take the job again');
    } finally {
      release();
    }
  };

  runs(jobId: string): boolean {
    return this.#running.has(jobId);
  }

  get runningJobIds(): string[] {
    return [...this.#running.keys()];
  }

  /** Aborts the signal of a job running here; false if it does not run here. */
  abort(jobId: string, reason: AbortReason): boolean {
    const running = this.#running.get(jobId);
    if (!running || running.controller.signal.aborted) return false;
    running.controller.abort(new JobAbortedError(reason));
    return true;
  }

  abortAll(reason: AbortReason): void {
    for (const jobId of this.#running.keys()) this.abort(jobId, reason);
  }

  /** Resolves once every outcome being written is written (or given up); call after the adapters stopped delivering. */
  async settled(): Promise<void> {
    while (this.#settling.size > 0) await Promise.allSettled([...this.#settling]);
  }

  /** Stops heartbeats and bus listening; call after settled(). */
  async close(): Promise<void> {
    clearInterval(this.#heartbeat);
    this.#heartbeat = undefined;
    this.#unsubscribe();
    await this.#thread?.close();
  }

  async #run(jobId: string): Promise<void> {
    const { ledger, registry, workerId, dispatcher } = this.#opts;
    // A claim is conditional (QUEUED → RUNNING): running it again after a lost connection is safe.
    const claimStarted = new Date();
    const claim = await this.#whileReachable('claim', () => ledger.transitions.claim(jobId, workerId), CLAIM_RETRY_MS);
    // The job's spans here continue the trace of its enqueue (stored with it), in whatever process
    // that was. The claim's span is recorded once the claim has read the job, from its start.
    const claimed = claim.claimed ? claim.change.job : 'job' in claim ? claim.job : undefined;
    const parent = claimed ? jobTraceContext(claimed) : undefined;
    if (claimed) {
      const attributes = { ...jobAttributes(claimed), 'messaging.operation.type': 'receive', 'jobgraph.claim.outcome': claim.claimed ? 'claimed' : claim.reason };
      startSpan(`jobgraph.claim ${claimed.type}`, attributes, { parent, startTime: claimStarted }).end();
    }
    if (!claim.claimed) {
      if (claim.reason === 'early') await dispatcher.redeliverLater(claim.job);
      else if (claim.reason === 'busy') await this.#waitTurn(claim.job);
      else if (claim.reason === 'gone') this.#log.warn({ jobId }, 'a queue delivered a job this ledger does not have; dropped');
      else this.#log.debug({ jobId, reason: claim.reason }, 'dropped a duplicate delivery');
      return;
    }
    const job = claim.change.job;
    // The handler runs in this span (its LLM calls are children of it); it ends once the outcome is written.
    const span = startSpan(`jobgraph.run ${job.type}`, { ...jobAttributes(job), 'messaging.operation.type': 'process', 'messaging.operation.name': 'run' }, { kind: SpanKind.CONSUMER, parent });

    if (!registry.has(job.type)) {
      const unknown: Outcome = { kind: 'failed', error: new NonRetryableError(`No task named "${job.type}" is registered in this worker`, 'UNKNOWN_TASK') };
      await this.#settle(job, unknown).finally(() => endRunSpan(span, unknown));
      return;
    }
    const task = registry.get(job.type);
    const releaseTaskSlot = task.concurrency ? await this.#taskSlot(task).acquire() : () => {};
    const controller = new AbortController();
    this.#running.set(job.id, { job, controller, stuckAfter: task.timeoutMs ? Date.now() + task.timeoutMs + this.#graceMs : null });
    this.#syncThread();
    const timeout = task.timeoutMs
      ? setTimeout(() => controller.abort(new JobAbortedError('timeout')), task.timeoutMs)
      : undefined;
    let outcome: Outcome;
    try {
      const parsed = task.input.safeParse(job.input);
      if (parsed.success) {
        const resumeFrom = await this.#resumeFrom(task, job);
        const ctx = this.#context(job, controller.signal, resumeFrom);
        const scope = {
          jobId: job.id,
          log: (message: string, data?: unknown) =>
            ctx.log(message, data).catch((error: unknown) => this.#log.warn({ err: error, jobId: job.id }, 'could not record a line in the job history')),
        };
        const result = await inSpan(span, () => inJobScope(scope, () => this.#withLimits(task, controller.signal, () => this.#callHandler(task, parsed.data, ctx, controller.signal))), parent);
        outcome = this.#outcomeOf(result, controller.signal, task);
      } else {
        outcome = { kind: 'failed', error: new NonRetryableError(describeIssues(fieldIssues(parsed.error)), 'INVALID_INPUT') };
      }
    } catch (error) {
      this.#forget(job.id);
      failSpan(span, error);
      span.end();
      throw error;
    } finally {
      clearTimeout(timeout);
      releaseTaskSlot();
    }
    // The job stays in #running (its heartbeat kept) until its outcome is written: a worker that
    // dies before then leaves it RUNNING for the reaper, as one that dies mid-handler does.
    const releaseOutcomeSlot = await this.#outcomeSlots.acquire();
    const settling = (async () => {
      // The last progress reported goes in before the outcome, so the history ends in order.
      await this.#progress.get(job.id)?.drain().catch(() => {});
      await this.#settle(job, outcome);
      // Its key has room now: the next jobs of the key go (were this process to die first, they
      // are due again within the stale bound anyway).
      if (job.concurrencyKey) {
        await ledger.transitions.wakeKey(job.type, job.concurrencyKey, job.concurrencyLimit ?? 1).catch((error: unknown) => {
          this.#log.warn({ err: error, jobId: job.id }, 'could not wake the jobs waiting on its concurrency key; they are due again within the stale bound');
        });
      }
    })()
      .catch((error: unknown) => {
        this.#log.error({ err: error, jobId: job.id }, 'could not write the outcome; the reaper will take the job again');
      })
      .finally(() => {
        this.#forget(job.id);
        releaseOutcomeSlot();
        this.#settling.delete(settling);
        endRunSpan(span, outcome);
      });
    this.#settling.add(settling);
  }

  /** A job whose concurrency key is busy: parked in the ledger until a job of the key ends (or the stale bound passes). */
  async #waitTurn(job: Job): Promise<void> {
    const waitingOn = `concurrency key ${job.type}:${job.concurrencyKey} (${job.concurrencyLimit ?? 1} at once)`;
    await this.#whileReachable('park', () => this.#opts.ledger.transitions.park(job.id, this.#opts.staleAfterMs, waitingOn), CLAIM_RETRY_MS).catch((error: unknown) => {
      // Unparked, it is still due and leased: the sweep sends it again.
      this.#log.warn({ err: error, jobId: job.id }, 'could not park a job whose concurrency key is busy');
    });
  }

  #forget(jobId: string): void {
    this.#progress.delete(jobId);
    this.#running.delete(jobId);
    this.#syncThread();
  }

  /** Tells the heartbeat thread which jobs run here now. */
  #syncThread(): void {
    this.#thread?.setJobs([...this.#running].map(([id, running]) => [id, running.stuckAfter]));
  }

  /** Runs `run` once every limit the task names has granted it (waiting as long as they say), giving them back after. */
  async #withLimits(task: AnyTask, signal: AbortSignal, run: () => Promise<HandlerResult>): Promise<HandlerResult> {
    const permits: Permit[] = [];
    try {
      for (const name of task.limits ?? []) permits.push(await this.#opts.limits.take(name, { signal }));
    } catch (error) {
      for (const permit of permits) await permit.done();
      return { ok: false, error };
    }
    try {
      return await run();
    } finally {
      for (const permit of permits) await permit.done();
    }
  }

  /** Resolves with the handler's settlement, or when it ignores an abort for longer than the grace period. */
  async #callHandler(task: AnyTask, input: unknown, ctx: TaskContext, signal: AbortSignal): Promise<HandlerResult> {
    const handled = task.handler(input, ctx).then(
      (value): HandlerResult => ({ ok: true, value }),
      (error: unknown): HandlerResult => ({ ok: false, error }),
    );
    const grace = this.#graceMs;
    const abandoned = new Promise<HandlerResult>((resolve) => {
      const onAbort = () => {
        const timer = setTimeout(() => resolve({ ok: false, error: signal.reason, abandoned: true }), grace);
        void handled.finally(() => clearTimeout(timer));
      };
      if (signal.aborted) onAbort();
      else signal.addEventListener('abort', onAbort, { once: true });
    });
    const result = await Promise.race([handled, abandoned]);
    if (result.abandoned) this.#log.warn({ task: task.name }, 'handler ignored its abort signal; settling the job without it');
    return result;
  }

  #outcomeOf(result: HandlerResult, signal: AbortSignal, task: AnyTask): Outcome {
    if (signal.aborted) {
      const reason = signal.reason instanceof JobAbortedError ? signal.reason.reason : 'cancel';
      switch (reason) {
        case 'cancel':
          return { kind: 'cancelled' };
        case 'shutdown':
          return { kind: 'released' };
        case 'lost':
          return { kind: 'lost' };
        case 'timeout':
          return { kind: 'failed', error: new JobTimeoutError(task.timeoutMs ?? 0) };
      }
    }
    if (result.ok) return { kind: 'completed', value: result.value };
    return { kind: 'failed', error: result.error };
  }

  /**
   * Records the outcome. Every write here is conditional on this worker still holding the job, so
   * one retried after a lost connection cannot land twice; while PostgreSQL is away the job stays
   * in #running, its outcome kept, for up to the reaper's bound.
   */
  async #settle(job: Job, outcome: Outcome): Promise<void> {
    const settled = await this.#whileReachable('outcome', () => this.#record(job, outcome), this.#opts.staleAfterMs);
    if (!settled && outcome.kind !== 'lost') {
      this.#log.warn({ jobId: job.id, outcome: outcome.kind }, 'job changed hands before its outcome was recorded');
    }
  }

  /** The ledger write for `outcome`; its events are published (and a retry dispatched) by the ledger's after-write step. */
  async #record(job: Job, outcome: Outcome): Promise<Change | undefined> {
    const { ledger, workerId, registry } = this.#opts;
    switch (outcome.kind) {
      case 'completed':
        return ledger.transitions.complete(job.id, workerId, outcome.value ?? null);
      case 'cancelled':
        return ledger.transitions.acknowledgeCancel(job.id, workerId);
      case 'released':
        return ledger.transitions.release(job.id, workerId, 'handed back at worker shutdown; the attempt does not count');
      case 'lost':
        this.#log.warn({ jobId: job.id }, 'this worker no longer holds the job; its outcome is dropped');
        return undefined;
      case 'failed': {
        const error = describeError(outcome.error);
        const retryable = !(outcome.error instanceof NonRetryableError) && job.attempt < job.maxAttempts;
        if (retryable) {
          const task = registry.has(job.type) ? registry.get(job.type) : undefined;
          // The handler knew when (a provider's Retry-After); else the core's backoff.
          const delayMs =
            outcome.error instanceof RetryAtError
              ? Math.max(0, outcome.error.at.getTime() - Date.now())
              : retryDelayMs(task?.backoff ?? { baseMs: this.#opts.retryBaseMs }, job.attempt);
          const retried = await ledger.transitions.scheduleRetry(job.id, workerId, error, delayMs);
          if (retried) return retried;
        }
        return ledger.transitions.fail(job.id, workerId, error);
      }
    }
  }

  /**
   * Runs `write`, again while PostgreSQL cannot be reached (down, restarting), for up to
   * `windowMs`; then throws. Only for conditional writes, whose second run is harmless.
   */
  async #whileReachable<T>(what: string, write: () => Promise<T>, windowMs: number): Promise<T> {
    const onRetry = (error: unknown) => this.#log.warn({ err: error, what }, 'ledger unreachable; trying again');
    try {
      return (await whileUnreachable(write, { windowMs, onRetry })).value;
    } catch (error) {
      throw error instanceof UnansweredError ? error.cause : error;
    }
  }

  /**
   * The checkpoint the job saved, as the task reads it now: with a `checkpoint` schema, one that no
   * longer fits it (the task changed while the job was in flight) is dropped, and the job's history
   * says why it starts from scratch.
   */
  async #resumeFrom(task: AnyTask, job: Job): Promise<unknown> {
    const saved = job.checkpoint ?? undefined;
    if (saved === undefined || !task.checkpoint) return saved;
    const parsed = task.checkpoint.safeParse(saved);
    if (parsed.success) return parsed.data;
    const reason = `the saved checkpoint no longer fits the task (${describeIssues(fieldIssues(parsed.error))}): starting from scratch`;
    this.#log.warn({ jobId: job.id, task: task.name }, reason);
    await this.#opts.ledger.transitions.log(job.id, this.#opts.workerId, reason).catch((error: unknown) => {
      this.#log.warn({ err: error, jobId: job.id }, 'could not record why the checkpoint was dropped');
    });
    return undefined;
  }

  #context(job: Job, signal: AbortSignal, resumeFrom: unknown): TaskContext {
    const { ledger, workerId, prisma, deps, query } = this.#opts;
    const logger = this.#opts.logger.child({ jobId: job.id, task: job.type, attempt: job.attempt });
    // Through a short PostgreSQL outage these wait rather than fail the attempt (a retry after a
    // lost reply may record a line twice, never wrongly: each write is for this holder only).
    const reachable = <T>(what: string, write: () => Promise<T>) => this.#whileReachable(what, write, this.#opts.staleAfterMs);
    const progress = new Coalesced<{ percent: number; message: string | null }>(
      PROGRESS_INTERVAL_MS,
      (latest) => reachable('progress', () => ledger.transitions.progress(job.id, workerId, latest.percent, latest.message)),
      (error) => logger.warn({ err: error }, 'could not record progress'),
    );
    this.#progress.set(job.id, progress);
    return {
      jobId: job.id,
      attempt: job.attempt,
      signal,
      db: prisma,
      sql: (text, params) => query(text, params),
      deps,
      logger,
      resumeFrom,
      progress: (percent, message) => progress.set({ percent, message: message ?? null }),
      log: async (message, data) => {
        await reachable('log', () => ledger.transitions.log(job.id, workerId, message, data));
      },
      checkpoint: async (state) => {
        await reachable('checkpoint', () => ledger.transitions.saveCheckpoint(job.id, workerId, state));
      },
    };
  }

  #taskSlot(task: AnyTask): Semaphore {
    let slot = this.#taskSlots.get(task.name);
    if (!slot) {
      slot = new Semaphore(task.concurrency ?? this.#opts.concurrency);
      this.#taskSlots.set(task.name, slot);
    }
    return slot;
  }

  /**
   * Acts on a heartbeat's answer: aborts the jobs cancelled or taken away meanwhile. Only the jobs
   * that beat asked about: one that started while it was in flight is not in its answer, and is not lost.
   */
  #judge(asked: string[], held: Map<string, JobStatus>): void {
    for (const jobId of asked) {
      if (!this.#running.has(jobId)) continue; // finished meanwhile
      const status = held.get(jobId);
      if (status === undefined) this.abort(jobId, 'lost');
      else if (status === 'CANCELLING') this.abort(jobId, 'cancel');
    }
  }

  /** Keeps the running jobs' heartbeats fresh from the event loop (no heartbeat thread). */
  async #beat(): Promise<void> {
    if (this.#beating) return; // the last one is still waiting for the database
    this.#beating = true;
    try {
      const asked = this.runningJobIds;
      this.#judge(asked, await this.#opts.ledger.liveness.heartbeat(this.#opts.workerId, asked));
    } catch (error) {
      this.#log.warn({ err: error }, 'heartbeat failed');
    } finally {
      this.#beating = false;
    }
  }
}

/** A job's progress is written at most once per this many ms; subscribers still see it move several times a second. */
const PROGRESS_INTERVAL_MS = 200;

/**
 * Writes the latest of a stream of values at most once per `intervalMs`, in order. A value set
 * when a write is due is written, and `set` resolves once it is; a value set sooner is kept for
 * one trailing write and `set` resolves at once, so a caller reporting every row is not slowed to
 * the write rate. `drain` writes what is kept now.
 */
class Coalesced<T> {
  #latest: { value: T } | undefined;
  #writing: Promise<unknown> = Promise.resolve();
  #timer: NodeJS.Timeout | undefined;
  #lastWrite = 0;

  private readonly intervalMs: number;
  private readonly write: (value: T) => Promise<unknown>;
  private readonly onTrailingError: (error: unknown) => void;
  constructor(intervalMs: number, write: (value: T) => Promise<unknown>, onTrailingError: (error: unknown) => void) {
    this.intervalMs = intervalMs;
    this.write = write;
    this.onTrailingError = onTrailingError;
  }

  set(value: T): Promise<void> {
    this.#latest = { value };
    if (this.#timer) return Promise.resolve();
    const wait = this.#lastWrite + this.intervalMs - Date.now();
    if (wait <= 0) return this.#writeLatest();
    this.#timer = setTimeout(() => void this.#writeLatest().catch(this.onTrailingError), wait);
    return Promise.resolve();
  }

  drain(): Promise<void> {
    return this.#latest ? this.#writeLatest() : this.#writing.then(() => {}, () => {});
  }

  #writeLatest(): Promise<void> {
    clearTimeout(this.#timer);
    this.#timer = undefined;
    const latest = this.#latest;
    this.#latest = undefined;
    this.#lastWrite = Date.now();
    if (!latest) return Promise.resolve();
    const writing = this.#writing.catch(() => {}).then(() => this.write(latest.value));
    this.#writing = writing;
    return writing.then(() => {});
  }
}

/** How long a delivery keeps trying to claim while PostgreSQL is away; then the sweep sends it again. */
const CLAIM_RETRY_MS = 10_000;

type HandlerResult = { ok: true; value: unknown; abandoned?: never } | { ok: false; error: unknown; abandoned?: boolean };

type Outcome =
  | { kind: 'completed'; value: unknown }
  | { kind: 'failed'; error: unknown }
  | { kind: 'cancelled' }
  | { kind: 'released' }
  | { kind: 'lost' };

/** Ends a run's span with its outcome: a failure (retried or not) marks it an error; a cancel, hand-back or loss does not. */
function endRunSpan(span: Span, outcome: Outcome): void {
  span.setAttribute('jobgraph.outcome', outcome.kind);
  if (outcome.kind === 'failed') failSpan(span, outcome.error);
  span.end();
}

function describeError(error: unknown): { code: string; message: string } {
  if (error instanceof CodedError) return { code: error.code, message: error.message };
  if (error instanceof Error) return { code: 'HANDLER_ERROR', message: error.message || error.name };
  return { code: 'HANDLER_ERROR', message: String(error) };
}
