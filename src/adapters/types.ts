/**
 * The QueueAdapter contract: what a queue backend must do for jobgraph.
 *
 * A queue only carries job ids to workers; the ledger (src/jobs) is the truth. Delivery is
 * at-least-once: a worker claims the job in the ledger before running it, so a duplicate or late
 * delivery is dropped there. Deliberately left out of this contract, because the core does them
 * the same way on every backend: retries and their timing (adapters never retry on their own),
 * progress, cancellation of a running job, timeouts, and job state.
 */
export type BackendName = string;

/**
 * What a backend can do, declared by its adapter (and so by its row in backends.ts): the core and
 * the contract suite read these, never the backend's name.
 */
export interface QueueCapabilities {
  /** Entries survive a restart of the backend's service (so a failover need not take them back). */
  durable: boolean;
  /**
   * Enqueueing a key the queue holds adds nothing (see Dispatch.key). Without it a re-send may add
   * a second entry; the claim drops the second delivery, so it costs a delivery, never a run.
   */
  deduplicates: boolean;
  /** `remove` can take back an entry not yet delivered (else a cancelled job's delivery is dropped at its claim). */
  remove: boolean;
  /**
   * The longest `delayMs` the backend holds itself; 0 for none. A job due later waits in the
   * ledger and is dispatched once it is due within this bound.
   */
  maxDelayMs: number;
  /**
   * How many priority levels the backend tells apart across -1000..1000 (1: none, first in first
   * out). Every backend with more than one level runs 1000 before 0 before -1000.
   */
  priorityLevels: number;
  /** Delivers to consumers in other processes: false for a queue in this process's memory. */
  shared: boolean;
}

/** One delivery request: the ledger job id and how to schedule it. */
export interface Dispatch {
  jobId: string;
  /**
   * Idempotency key of this dispatch: while the queue holds an entry under this key (waiting,
   * delayed or being delivered), enqueueing the same key again adds nothing and returns the same
   * reference. Once that entry has been delivered and settled, the key may be enqueued again.
   */
  key: string;
  /** Task name, for inspection only: routing is by job id. */
  task: string;
  /** Milliseconds from now before the job may be delivered; 0 or absent = now. Never above capabilities.maxDelayMs. */
  delayMs?: number;
  /** Higher runs first; 0 is the default. An integer in PRIORITY_RANGE. */
  priority?: number;
  /**
   * Among dispatches of one priority, lower goes first (0 or absent: first): the job's place in
   * its group's line (fairness). Told apart up to RANK_LEVELS - 1; beyond that, in arrival order.
   * A backend whose priorities cannot hold it (RabbitMQ) keeps arrival order.
   */
  rank?: number;
}

/** The ranks a backend that orders by them tells apart (0 … RANK_LEVELS - 1). */
export const RANK_LEVELS = 1_000;

/**
 * Priority and rank as one number, higher first, for a backend whose priorities are integers:
 * priority × RANK_LEVELS − rank (ranks past the last level share it). -1,000,999 … 1,000,000.
 */
export function priorityWithRank(priority: number, rank: number | undefined): number {
  return priority * RANK_LEVELS - Math.min(Math.max(0, Math.round(rank ?? 0)), RANK_LEVELS - 1);
}

/** The priorities a dispatch may carry, higher first: the one rule the service, the API, the CLI and every adapter use. */
export const PRIORITY_RANGE = { min: -1_000, max: 1_000 } as const;

/**
 * Called once per delivery. Resolves when the job is done with (whatever its outcome). One that
 * rejects is settled all the same: the entry leaves the queue as if it had resolved, and is not
 * delivered again by the queue (the ledger's sweep sends a job still waiting again). Every adapter
 * does this through shared.ts's `deliver`.
 */
export type DeliveryHandler = (jobId: string) => Promise<void>;

export interface ProbeResult {
  ok: boolean;
  /** Why it is not ok, or a short description of what answered. */
  detail: string;
  latencyMs: number;
}

export interface QueueCounts {
  /** Ready to be delivered now. */
  waiting: number;
  /** Scheduled for later. */
  delayed: number;
  /** Delivered and not yet acknowledged. */
  active: number;
}

export interface QueueAdapter {
  readonly name: BackendName;
  readonly capabilities: QueueCapabilities;

  // ── lifecycle ────────────────────────────────────────────────────────────
  /**
   * Checks the backend end to end. Before `consume` it checks the service answers and a job can be
   * written; once consuming, it also checks that this process's workers still take jobs (BullMQ
   * workers can stay silent after a reconnect while PING answers).
   */
  probe(): Promise<ProbeResult>;
  /**
   * Starts delivering jobs to `handler`, at most `concurrency` at once in this process. Rejects
   * only for its own misuse: a second call, a concurrency that is not a positive integer (or above
   * what the backend takes), a closed adapter. While the backend cannot be reached it resolves all
   * the same, and deliveries start once it answers (the adapter keeps trying until close()): a
   * worker started during an outage consumes when it ends, and probe() reports it meanwhile.
   */
  consume(handler: DeliveryHandler, concurrency: number): Promise<void>;
  /**
   * Stops taking new deliveries and resolves once the handlers in flight have returned.
   * Producing (enqueue/remove) keeps working until close().
   */
  stopConsuming(): Promise<void>;
  /** Releases every connection. Idempotent. */
  close(): Promise<void>;

  // ── enqueue ──────────────────────────────────────────────────────────────
  /**
   * Hands a job to the queue and returns the queue's own reference for it; idempotent by
   * `dispatch.key` (see Dispatch). Rejects (never hangs past a few seconds) when the backend is
   * unreachable, so the caller can keep the job in the outbox.
   */
  enqueue(dispatch: Dispatch): Promise<string>;
  /** Removes a not-yet-delivered job by the reference enqueue returned. False if it was not there. */
  remove(queueRef: string): Promise<boolean>;

  // ── inspection ───────────────────────────────────────────────────────────
  counts(): Promise<QueueCounts>;
}
