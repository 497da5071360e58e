import type { PrismaClient } from '../generated/prisma/client.ts';
import type { EventBus } from '../events/bus.ts';
import type { Logger } from '../logger.ts';
import type { TaskRegistry } from '../tasks/registry.ts';
import type { AnyTask, TaskContext } from '../tasks/define.ts';
import type { Dispatcher } from './dispatcher.ts';
import { JobAbortedError, JobTimeoutError, JobgraphError, NonRetryableError, type AbortReason } from './errors.ts';
import type { Change, Job, Ledger } from './ledger.ts';
import { retryDelayMs } from './retry.ts';
import { Semaphore } from './semaphore.ts';
import { toJobChanges } from './changes.ts';

export interface ExecutorOptions {
  workerId: string;
  ledger: Ledger;
  prisma: PrismaClient;
  registry: TaskRegistry;
  bus: EventBus;
  dispatcher: Dispatcher;
  logger: Logger;
  concurrency: number;
  retryBaseMs: number;
  heartbeatMs: number;
  /** How long a handler may take to return after its signal is aborted before the job is settled anyway. */
  abortGraceMs?: number;
}

interface Running {
  job: Job;
  controller: AbortController;
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
  readonly #taskSlots = new Map<string, Semaphore>();
  readonly #running = new Map<string, Running>();
  readonly #unsubscribe: () => void;
  #heartbeat: NodeJS.Timeout | undefined;

  constructor(opts: ExecutorOptions) {
    this.#opts = opts;
    this.#log = opts.logger.child({ component: 'executor', workerId: opts.workerId });
    this.#slots = new Semaphore(opts.concurrency);
    this.#unsubscribe = opts.bus.onControl((message) => {
      if (message.kind === 'cancel') this.abort(message.jobId, 'cancel');
    });
    this.#heartbeat = setInterval(() => void this.#beat(), opts.heartbeatMs);
    this.#heartbeat.unref();
  }

  /** The QueueAdapter delivery handler. Never throws: every outcome is recorded in the ledger. */
  readonly deliver = async (jobId: string): Promise<void> => {
    const release = await this.#slots.acquire();
    try {
      await this.#run(jobId);
    } catch (error) {
      this.#log.error({ err: error, jobId }, 'could not record a job outcome; the reaper will recover it');
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

  /** Stops heartbeats and bus listening; call after the adapters stopped delivering. */
  close(): void {
    clearInterval(this.#heartbeat);
    this.#heartbeat = undefined;
    this.#unsubscribe();
  }

  async #run(jobId: string): Promise<void> {
    const { ledger, registry, workerId, dispatcher } = this.#opts;
    const outcome = await ledger.claim(jobId, workerId);
    if (!outcome.claimed) {
      if (outcome.reason === 'early') await dispatcher.redeliverLater(outcome.job);
      else this.#log.debug({ jobId, reason: outcome.reason }, 'dropped a delivery');
      return;
    }
    const job = outcome.change.job;
    this.#publish(outcome.change);

    if (!registry.has(job.type)) {
      await this.#settle(job, { kind: 'failed', error: new NonRetryableError(`No task named "${job.type}" is registered in this worker`, 'UNKNOWN_TASK') });
      return;
    }
    const task = registry.get(job.type);
    const releaseTaskSlot = task.concurrency ? await this.#taskSlot(task).acquire() : () => {};
    const controller = new AbortController();
    this.#running.set(job.id, { job, controller });
    const timeout = task.timeoutMs
      ? setTimeout(() => controller.abort(new JobAbortedError('timeout')), task.timeoutMs)
      : undefined;
    try {
      const parsed = task.input.safeParse(job.input);
      if (!parsed.success) {
        const message = parsed.error.issues.map((i) => `${i.path.join('.') || '(input)'}: ${i.message}`).join('; ');
        await this.#settle(job, { kind: 'failed', error: new NonRetryableError(message, 'INVALID_INPUT') });
        return;
      }
      const result = await this.#callHandler(task, parsed.data, this.#context(job, controller.signal), controller.signal);
      await this.#settle(job, this.#outcomeOf(result, controller.signal, task));
    } finally {
      clearTimeout(timeout);
      this.#running.delete(job.id);
      releaseTaskSlot();
    }
  }

  /** Resolves with the handler's settlement, or when it ignores an abort for longer than the grace period. */
  async #callHandler(task: AnyTask, input: unknown, ctx: TaskContext, signal: AbortSignal): Promise<HandlerResult> {
    const handled = task.handler(input, ctx).then(
      (value): HandlerResult => ({ ok: true, value }),
      (error: unknown): HandlerResult => ({ ok: false, error }),
    );
    const grace = this.#opts.abortGraceMs ?? 2_000;
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

  async #settle(job: Job, outcome: Outcome): Promise<void> {
    const { ledger, workerId, dispatcher, registry } = this.#opts;
    let settled: Change | undefined;
    switch (outcome.kind) {
      case 'completed':
        settled = await ledger.complete(job.id, workerId, outcome.value ?? null);
        break;
      case 'cancelled':
        settled = await ledger.fail(job.id, workerId, { code: 'CANCELLED', message: 'cancelled while running' });
        break;
      case 'released':
        settled = await ledger.release(job.id, workerId, 'handed back at worker shutdown; the attempt does not count');
        break;
      case 'lost':
        this.#log.warn({ jobId: job.id }, 'this worker no longer holds the job; its outcome is dropped');
        return;
      case 'failed': {
        const error = describeError(outcome.error);
        const retryable = !(outcome.error instanceof NonRetryableError) && job.attempt < job.maxAttempts;
        if (retryable) {
          const task = registry.has(job.type) ? registry.get(job.type) : undefined;
          const delayMs = retryDelayMs(task?.backoff ?? { baseMs: this.#opts.retryBaseMs }, job.attempt);
          settled = await ledger.scheduleRetry(job.id, workerId, error, delayMs);
          if (settled) {
            this.#publish(settled);
            await dispatcher.dispatch(settled.job, delayMs);
            return;
          }
        }
        settled ??= await ledger.fail(job.id, workerId, error);
        break;
      }
    }
    if (settled) this.#publish(settled);
    else this.#log.warn({ jobId: job.id, outcome: outcome.kind }, 'job changed hands before its outcome was recorded');
  }

  #context(job: Job, signal: AbortSignal): TaskContext {
    const { ledger, workerId, prisma } = this.#opts;
    const logger = this.#opts.logger.child({ jobId: job.id, task: job.type, attempt: job.attempt });
    return {
      jobId: job.id,
      attempt: job.attempt,
      signal,
      db: prisma,
      logger,
      progress: async (percent, message) => {
        const updated = await ledger.progress(job.id, workerId, percent, message ?? null);
        if (updated) this.#publish(updated);
      },
      log: async (message, data) => {
        const updated = await ledger.log(job.id, workerId, message, data);
        if (updated) this.#publish(updated);
      },
    };
  }

  #publish(change: Change): void {
    for (const message of toJobChanges(change)) this.#opts.bus.publishJobChange(message);
  }

  #taskSlot(task: AnyTask): Semaphore {
    let slot = this.#taskSlots.get(task.name);
    if (!slot) {
      slot = new Semaphore(task.concurrency ?? this.#opts.concurrency);
      this.#taskSlots.set(task.name, slot);
    }
    return slot;
  }

  /** Keeps the running jobs' heartbeats fresh; aborts those cancelled or taken away meanwhile. */
  async #beat(): Promise<void> {
    try {
      const held = await this.#opts.ledger.heartbeat(this.#opts.workerId, this.runningJobIds);
      for (const jobId of this.runningJobIds) {
        const status = held.get(jobId);
        if (status === undefined) this.abort(jobId, 'lost');
        else if (status === 'CANCELLING') this.abort(jobId, 'cancel');
      }
    } catch (error) {
      this.#log.warn({ err: error }, 'heartbeat failed');
    }
  }
}

type HandlerResult = { ok: true; value: unknown; abandoned?: never } | { ok: false; error: unknown; abandoned?: boolean };

type Outcome =
  | { kind: 'completed'; value: unknown }
  | { kind: 'failed'; error: unknown }
  | { kind: 'cancelled' }
  | { kind: 'released' }
  | { kind: 'lost' };

function describeError(error: unknown): { code: string; message: string } {
  if (error instanceof JobgraphError) return { code: error.code, message: error.message };
  if (error instanceof Error) return { code: 'HANDLER_ERROR', message: error.message || error.name };
  return { code: 'HANDLER_ERROR', message: String(error) };
}
