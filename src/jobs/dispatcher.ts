import type { QueueAdapter, ProbeResult } from '../adapters/types.ts';
import { QueueRefusedError } from '../adapters/errors.ts';
import { errorText } from '../lib/errors.ts';
import type { Logger } from '../lib/logger.ts';
import type { Job, Ledger } from './ledger/index.ts';
import { hasSpan, SpanKind, withSpan, type Span } from '../lib/tracing.ts';
import { jobAttributes, jobTraceContext } from './tracing.ts';

export interface DispatcherOptions {
  ledger: Ledger;
  /** The backend chosen at startup; none for the in-process queue in a process that runs no worker. */
  primary: QueueAdapter | undefined;
  /** Where jobs go while the primary is down: the in-process queue, in processes that run workers. */
  fallback?: QueueAdapter;
  logger: Logger;
  intervalMs: number;
  /**
   * The sweep's bound: a queued job due for this long, whose last dispatch is as old, is sent out
   * again whatever queue was said to hold it (see states.ts, the invariant).
   */
  redispatchAfterMs: number;
  /** A job stayed in the outbox because this process has no queue to send it to (see ControlMessage 'dispatch'). */
  onHeld?: () => void;
}

export interface DispatcherStatus {
  primary: QueueAdapter['name'] | null;
  primaryHealthy: boolean;
  usingFallback: boolean;
  lastProbe?: ProbeResult & { at: Date };
}

/** How the ledger names an adapter's backend (Job.backend, Worker.backend): its name upper-cased. */
export const backendOf = (adapter: QueueAdapter): string => adapter.name.toUpperCase();

/**
 * The outbox's dispatcher. A job is leased for dispatch in the statement that queues it; the
 * dispatcher hands it to a queue and confirms, or gives the lease back when the queue refuses. A
 * loop re-probes the primary backend, fails over to the fallback while it is down (handing it the
 * jobs the primary may have lost) and back when it answers again, and sends out whatever no queue
 * holds. So a job in the ledger always reaches a worker, whichever backend is up.
 */
export class Dispatcher {
  readonly #opts: DispatcherOptions;
  readonly #log: Logger;
  #primaryHealthy = true;
  #lastProbe: DispatcherStatus['lastProbe'];
  #timer: NodeJS.Timeout | undefined;
  #tick: Promise<void> | undefined;
  #stopped = false;
  #waking: Promise<void> | undefined;
  #wakeAgain = false;

  constructor(opts: DispatcherOptions) {
    this.#opts = opts;
    this.#log = opts.logger.child({ component: 'dispatcher' });
  }

  status(): DispatcherStatus {
    return {
      primary: this.#opts.primary?.name ?? null,
      primaryHealthy: this.#primaryHealthy,
      usingFallback: !this.#primaryHealthy && this.#opts.fallback !== undefined,
      ...(this.#lastProbe ? { lastProbe: this.#lastProbe } : {}),
    };
  }

  /**
   * The adapter new work goes to now, if any can take it. Not an in-process queue once stopping:
   * it dies with this process, so a job handed back at shutdown stays in the outbox for the next.
   */
  #current(): QueueAdapter | undefined {
    const adapter = this.#primaryHealthy && this.#opts.primary ? this.#opts.primary : this.#opts.fallback;
    return this.#stopped && !adapter?.capabilities.shared ? undefined : adapter;
  }

  /**
   * Sends a job its caller has leased (a statement that left it QUEUED set dispatchedAt) to a
   * queue. Never throws: a job no queue takes stays in the outbox for the sweep. Its span is a
   * child of the job's enqueue span (Job.traceparent), whichever process sends it and when.
   */
  dispatch(job: Job, opts: { resend?: boolean } = {}): Promise<void> {
    // A job enqueued untraced, sent by an untraced caller (the sweep): no span of its own.
    if (!job.traceparent && !hasSpan()) return this.#dispatch(job, opts, undefined);
    const attributes = { ...jobAttributes(job), 'messaging.operation.type': 'send', 'messaging.operation.name': 'dispatch', 'jobgraph.dispatch.resend': opts.resend ?? false };
    return withSpan(`jobgraph.dispatch ${job.type}`, attributes, (span) => this.#dispatch(job, opts, span), {
      kind: SpanKind.PRODUCER,
      ...(job.traceparent ? { parent: jobTraceContext(job) } : {}),
    });
  }

  async #dispatch(job: Job, opts: { resend?: boolean }, span: Span | undefined): Promise<void> {
    const { ledger } = this.#opts;
    const lease = job.dispatchedAt;
    if (!lease) throw new Error(`dispatch of job ${job.id} without a lease`);
    // Both times are the database's (the statement that leased it set both): no clock skew.
    const delayMs = Math.max(0, job.runAt.getTime() - lease.getTime());
    const key = opts.resend ? resendKey(job) : dispatchKey(job);
    const dispatch = { jobId: job.id, key, task: job.type, delayMs, priority: job.priority, rank: job.fairRank };
    let held = false;
    for (let attempt = 0; attempt < 2; attempt++) {
      const adapter = this.#current();
      if (!adapter) {
        held = !this.#stopped;
        break;
      }
      // Due later than this queue can hold: it waits in the outbox, and the sweep leases it once
      // it is due within the queue's reach (see flush).
      if (delayMs > adapter.capabilities.maxDelayMs) break;
      span?.setAttribute('messaging.system', adapter.name);
      let ref: string;
      try {
        ref = await adapter.enqueue(dispatch);
      } catch (error) {
        span?.recordException(error instanceof Error ? error : errorText(error));
        if (error instanceof QueueRefusedError) {
          this.#log.error({ err: error, jobId: job.id, backend: adapter.name }, 'the queue refused the job; it stays in the outbox');
          break;
        }
        this.#log.warn({ err: error, jobId: job.id, backend: adapter.name }, 'dispatch failed; job stays in the outbox');
        if (adapter !== this.#opts.primary) break;
        await this.#markPrimary(false, { ok: false, detail: `enqueue failed: ${errorText(error)}`, latencyMs: 0 });
        continue;
      }
      // The queue holds it. A confirmation the ledger cannot write says nothing of the queue: the
      // job keeps its lease without a queueRef, and the sweep sends it again once overdue
      // (idempotent by its key while the queue still holds it; the claim drops a second delivery).
      await ledger.outbox.confirm(job.id, lease, backendOf(adapter), ref).catch((error: unknown) => {
        this.#log.warn({ err: error, jobId: job.id, backend: adapter.name }, 'the queue took the job but the ledger could not record it; the sweep checks it again');
      });
      span?.setAttribute('jobgraph.dispatch.outcome', 'queued');
      return;
    }
    span?.setAttribute('jobgraph.dispatch.outcome', held ? 'held' : 'outbox');
    const released = await ledger.outbox.release(job.id, lease).then(
      () => true,
      (error: unknown) => {
        this.#log.warn({ err: error, jobId: job.id }, 'could not give a dispatch lease back; the sweep takes it again');
        return false;
      },
    );
    // Once the lease is back, a worker process's flush can take it.
    if (held && released) this.#opts.onHeld?.();
  }

  /**
   * Sends out what waits in the outbox soon, without waiting for the loop's next round: another
   * process left new jobs there (ControlMessage 'dispatch'). Wakes during a flush make one more.
   */
  wake(): void {
    if (this.#stopped) return;
    if (this.#waking) {
      this.#wakeAgain = true;
      return;
    }
    this.#waking = this.flush()
      .then(() => {}, (error: unknown) => this.#log.warn({ err: error }, 'dispatch on wake failed; the sweep sends the jobs'))
      .finally(() => {
        this.#waking = undefined;
        if (this.#wakeAgain) {
          this.#wakeAgain = false;
          this.wake();
        }
      });
  }

  /**
   * A queue delivered a job before it was due (a duplicate, or clocks apart): put it back in the
   * outbox, and the loop sends it out again with the delay left.
   */
  async redeliverLater(job: Job): Promise<void> {
    await this.#opts.ledger.outbox.release(job.id, null);
  }

  start(): void {
    if (this.#timer || this.#stopped) return;
    const loop = () => {
      this.#tick = this.runOnce()
        .catch((error: unknown) => this.#log.error({ err: error }, 'dispatcher loop failed'))
        .finally(() => {
          if (!this.#stopped) this.#timer = setTimeout(loop, this.#opts.intervalMs);
        });
    };
    this.#timer = setTimeout(loop, 0);
  }

  async stop(): Promise<void> {
    this.#stopped = true;
    clearTimeout(this.#timer);
    await this.#tick;
    await this.#waking;
  }

  /** One round: probe the primary, then sweep. */
  async runOnce(): Promise<void> {
    const { primary } = this.#opts;
    if (primary) {
      const probe = await primary.probe();
      await this.#markPrimary(probe.ok, probe);
    }
    await this.flush();
  }

  /**
   * The sweep: sends out every queued job that no queue can be trusted to hold (in the outbox, or
   * overdue: see Ledger.leaseForDispatch), as long as some queue takes them.
   */
  async flush(batch = 200): Promise<number> {
    let sent = 0;
    for (let adapter = this.#current(); adapter; adapter = this.#current()) {
      const reach = adapter.capabilities.maxDelayMs;
      const jobs = await this.#opts.ledger.outbox.lease(batch, this.#opts.redispatchAfterMs, Number.isFinite(reach) ? reach : null);
      // A queue was said to hold these (they have a queueRef) and has not delivered them in time.
      const overdue = jobs.filter((job) => job.queueRef !== null).length;
      if (overdue > 0) this.#log.warn({ jobs: overdue }, 'sending out again queued jobs overdue in their queue');
      await Promise.all(jobs.map((job) => this.dispatch(job, { resend: job.queueRef !== null })));
      sent += jobs.length;
      if (jobs.length < batch) break;
    }
    return sent;
  }

  /** Never throws: a ledger that cannot take the down queue's jobs back leaves them to the sweep (see Outbox.lease). */
  async #markPrimary(healthy: boolean, probe: ProbeResult): Promise<void> {
    this.#lastProbe = { ...probe, at: new Date() };
    if (healthy === this.#primaryHealthy) return;
    this.#primaryHealthy = healthy;
    const { primary, fallback, ledger } = this.#opts;
    if (!primary) return;
    if (healthy) {
      this.#log.info({ backend: primary.name, latencyMs: probe.latencyMs }, 'primary backend is back; new jobs go to it again');
      return;
    }
    this.#log.warn(
      { backend: primary.name, detail: probe.detail, fallback: fallback?.name ?? null },
      fallback ? 'primary backend is down; failing over' : 'primary backend is down; jobs wait in the ledger',
    );
    if (fallback && !primary.capabilities.durable) {
      // The down queue may have lost what it held (Redis without persistence): run those here. A
      // durable one delivers them when it is back, or the sweep re-sends them once overdue.
      try {
        const forgotten = await ledger.outbox.forget(
          backendOf(primary),
          `${primary.name} went down before delivering it (${probe.detail}); sent again through ${fallback.name}`,
        );
        if (forgotten > 0) this.#log.warn({ jobs: forgotten }, 'taking back queued jobs from the down backend');
      } catch (error) {
        this.#log.warn({ err: error, backend: primary.name }, 'could not take back the down backend\'s jobs; the sweep re-sends them once overdue');
      }
    }
  }
}

/**
 * The queue key of a job's current dispatch: the same for as long as the job is unchanged in the
 * ledger (so re-sending it is idempotent), new after any change (a retry or hand-back is another
 * delivery, never swallowed by the entry of the one before).
 */
function dispatchKey(job: Pick<Job, 'id' | 'lastSeq'>): string {
  return `${job.id}.${job.lastSeq}`;
}

/**
 * The key of the sweep's re-send of an overdue job. Not the first key: the queue may still hold
 * that entry, out of reach (taken by a consumer that died before its claim, until the queue's own
 * redelivery, up to about 45 s on BullMQ and pg-boss), and an idempotent re-send would add nothing.
 * One fixed re-send key, so a job overdue in a long backlog gets one extra entry, not one per round.
 */
export function resendKey(job: Pick<Job, 'id' | 'lastSeq'>): string {
  return `${dispatchKey(job)}.r`;
}
